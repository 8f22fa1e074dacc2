//! What a password change or a reuse ends, and refresh tokens that an `aud`-checking
//! verifier cannot take for access tokens.

use super::*;

both_backends!(
    a_password_change_ends_the_users_browser_sessions,
    refresh_tokens_carry_an_audience_no_access_token_has,
    after_reuse_detection_the_familys_access_tokens_are_refused,
);

async fn a_password_change_ends_the_users_browser_sessions(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    sign_in(&app, &b, &authorize_url(&app, &[]), PASSWORD).await;
    let resp = b
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("authorize");
    assert!(location(&resp).starts_with(REDIRECT), "signed in");
    app.state
        .accounts
        .set_password(
            "alice",
            gatehouse::passwords::Password::new("a changed password".into()),
        )
        .await
        .expect("changed");
    let resp = b
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("authorize");
    assert!(
        location(&resp).starts_with("/login?"),
        "the session outlived the password change"
    );
}

async fn refresh_tokens_carry_an_audience_no_access_token_has(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    let issuer = &app.settings.issuer;
    assert_eq!(peek(&refresh).1["aud"], json!(format!("{issuer}/token")));
    assert_eq!(peek(&access).1["aud"], json!(issuer));
    // A downstream verifier that checks aud (the issuer, the default audience) but not typ.
    let jwks = app.jwks().await;
    let verify = |token: &str| {
        let (header, _) = peek(token);
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
        let jwk = set.find(header["kid"].as_str().unwrap()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&[issuer]);
        v.set_issuer(&[issuer]);
        jsonwebtoken::decode::<Value>(token, &key, &v)
    };
    assert!(verify(&access).is_ok());
    let refused = verify(&refresh).expect_err("a refresh token passed an aud check");
    assert_eq!(
        refused.kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidAudience
    );
    // And it still refreshes here.
    let (status, body) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": refresh }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn after_reuse_detection_the_familys_access_tokens_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let rs = resource_server(&app).await;
    let (access0, refresh0) = app.tokens("alice", PASSWORD).await;
    let (status, next) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": refresh0 }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let access1 = next["access"].as_str().expect("access").to_string();
    assert_eq!(userinfo_status(&app, &access1).await, StatusCode::OK);
    // The spent token comes back: reuse, the family is revoked.
    let (status, _) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": refresh0 }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for access in [&access0, &access1] {
        assert_eq!(
            userinfo_status(&app, access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            introspect(&app, "rs", &rs, access).await,
            json!({ "active": false })
        );
        let (status, body) = status_json(
            app.post_json("/api/token/verify/", json!({ "token": access }))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["code"], "token_not_valid");
    }
    // Another login's tokens are untouched.
    let (fresh, _) = app.tokens("alice", PASSWORD).await;
    assert_eq!(userinfo_status(&app, &fresh).await, StatusCode::OK);
}
