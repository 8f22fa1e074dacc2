//! Tokens signed by a key that was removed, or from another issuer or for another audience,
//! though signed by the server.

use super::*;

both_backends!(
    a_token_signed_by_a_removed_key_is_refused_though_it_has_not_expired,
    a_token_from_another_issuer_or_for_another_audience_is_refused_though_signed_by_the_server,
);

async fn a_token_signed_by_a_removed_key_is_refused_though_it_has_not_expired(backend: Backend) {
    // Every token lives 2 s with no leeway, so a retired key is removed 2 s after retirement.
    let Some(app) = spawn_app_with(backend, |args| {
        args.access_ttl = Some("2s".into());
        args.refresh_ttl = Some("2s".into());
        args.id_token_ttl = Some("2s".into());
        args.leeway = Some("0s".into());
    })
    .await
    else {
        return;
    };
    let (rs_secret, access, _) = setup(&app).await;
    let old: RawSigner = server_signing_key(&app).await;
    let fresh_claims = |app: &TestApp| {
        let mut claims = peek(&access).1;
        let now = app.clock.now();
        claims["iat"] = json!(now);
        claims["exp"] = json!(now + 3600);
        claims["jti"] = json!(format!("removed-key-{now}"));
        claims.to_string()
    };
    let header = old.header("at+jwt", json!({}));
    assert_accepted_as_access(
        &app,
        &old.sign_raw(&header, &fresh_claims(&app)),
        "current key",
    )
    .await;

    use gatehouse::keys::rotation::RotationKind;
    app.state
        .keys
        .rotate(None, RotationKind::Manual)
        .await
        .map(gatehouse::keys::rotation::RotationOutcome::combined)
        .expect("rotate");
    // Retired but published: its tokens still verify.
    assert_accepted_as_access(
        &app,
        &old.sign_raw(&header, &fresh_claims(&app)),
        "retired key",
    )
    .await;
    app.advance(3);
    app.state.keys.maintain_once().await.expect("upkeep");
    let gone = crate::helpers::eventually(5, || async {
        !app.stored_keys().await.iter().any(|k| k.kid == old.kid)
    })
    .await;
    assert!(gone, "the retired key was not removed");
    let gone_from_jwks = crate::helpers::eventually(5, || async {
        !app.jwks().await.to_string().contains(&old.kid)
    })
    .await;
    assert!(gone_from_jwks, "the removed key is still published");

    let before = snapshot(&app).await;
    let forged = old.sign_raw(&header, &fresh_claims(&app));
    assert_refused_everywhere(&app, &rs_secret, &forged, "removed key").await;
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
}

/// The claims as JSON text with `member` set to `value`.
fn with_claim(claims: &Value, member: &str, value: Value) -> String {
    let mut changed = claims.clone();
    changed[member] = value;
    changed.to_string()
}

/// RFC 8725 §3.8 and §3.9, given to Gatehouse itself: the server's own key signed each
/// token, so only the `iss` and `aud` checks can refuse them. Another issuer is refused for
/// access and refresh tokens alike; an access token may not carry the refresh tokens'
/// audience, and a refresh token only that one (or, for those minted before it existed, the
/// issuer itself).
async fn a_token_from_another_issuer_or_for_another_audience_is_refused_though_signed_by_the_server(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (rs_secret, access, refresh) = setup(&app).await;
    let ours = server_signing_key(&app).await;
    let (access_claims, refresh_claims) = (peek(&access).1, peek(&refresh).1);
    let issuer = app.settings.issuer.clone();
    let (at, rt) = (
        ours.header("at+jwt", json!({})),
        ours.header("rt+jwt", json!({})),
    );
    // Controls: the same claims signed again are accepted.
    assert_accepted_as_access(
        &app,
        &ours.sign_raw(&at, &access_claims.to_string()),
        "access",
    )
    .await;
    let before = snapshot(&app).await;
    let other_issuers = [
        "https://evil.example".to_string(),
        format!("{issuer}/"),
        format!("{issuer}/token"),
        issuer.to_uppercase(),
        issuer.replacen("http://", "https://", 1),
        String::new(),
    ];
    for iss in &other_issuers {
        let token = ours.sign_raw(&at, &with_claim(&access_claims, "iss", json!(iss)));
        assert_refused_everywhere(&app, &rs_secret, &token, &format!("access, iss {iss:?}")).await;
        let token = ours.sign_raw(&rt, &with_claim(&refresh_claims, "iss", json!(iss)));
        assert_refused_everywhere(&app, &rs_secret, &token, &format!("refresh, iss {iss:?}")).await;
    }
    // An access token for the token endpoint: the refresh tokens' audience.
    let token = ours.sign_raw(
        &at,
        &with_claim(&access_claims, "aud", refresh_claims["aud"].clone()),
    );
    assert_refused_everywhere(&app, &rs_secret, &token, "access, aud of refresh tokens").await;
    // A refresh token for anybody but the token endpoint.
    for aud in [
        "https://evil.example".to_string(),
        format!("{issuer}/token/"),
        format!("{issuer}/introspect"),
        String::new(),
    ] {
        let token = ours.sign_raw(&rt, &with_claim(&refresh_claims, "aud", json!(aud)));
        assert_refused_everywhere(&app, &rs_secret, &token, &format!("refresh, aud {aud:?}")).await;
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
    // Control: the genuine refresh claims, signed again, still refresh.
    let (status, body) = status_json(
        app.post_json(
            "/api/token/refresh/",
            json!({ "refresh": ours.sign_raw(&rt, &refresh_claims.to_string()) }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
