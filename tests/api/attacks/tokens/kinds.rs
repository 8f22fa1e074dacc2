//! An id_token or a refresh token where an access token is expected, and one kind's claims
//! under another kind's `typ`.

use super::*;

both_backends!(
    id_tokens_and_refresh_tokens_are_refused_wherever_an_access_token_is_expected,
    a_tokens_claims_under_another_kinds_typ_are_refused_though_signed_by_the_server,
);

async fn id_tokens_and_refresh_tokens_are_refused_wherever_an_access_token_is_expected(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (rs_secret, _, _) = setup(&app).await;
    // An admin with every token kind, all carrying scope admin: only the access token may
    // open /admin.
    app.add_user("root", crate::helpers::ADMIN_PASSWORD, true)
        .await;
    let secret = app
        .add_client(&[
            "adm",
            "--grant",
            "password",
            "refresh_token",
            "--scope",
            "admin",
            "openid",
        ])
        .await
        .expect("confidential");
    let resp = crate::helpers::password_grant(
        &app.http,
        &app.address,
        "adm",
        &secret,
        "root",
        crate::helpers::ADMIN_PASSWORD,
        "admin openid",
    )
    .await;
    let (status, pair) = status_json(resp).await;
    assert_eq!(status, 200, "{pair}");
    let access = pair["access_token"].as_str().expect("access").to_string();
    let refresh = pair["refresh_token"].as_str().expect("refresh").to_string();
    let sub = peek(&access).1["sub"].as_str().expect("sub").to_string();
    // An id_token as the code flow signs it (same signer, same claims), for root and adm.
    let now = app.clock.now();
    let id_claims = gatehouse::sso::id_token::IdClaims {
        iss: app.settings.issuer.clone(),
        sub,
        aud: "adm".into(),
        exp: now + 3600,
        iat: now,
        auth_time: now,
        nonce: Some("n".into()),
        sid: "sid".into(),
        at_hash: Some(gatehouse::sso::id_token::at_hash(
            &access,
            gatehouse::keys::Alg::Rs256,
        )),
        preferred_username: Some("root".into()),
        email: None,
        email_verified: None,
    };
    let id_token = app
        .state
        .tokens
        .keys
        .snapshot()
        .signer(gatehouse::keys::Alg::Rs256)
        .expect("signer")
        .sign(gatehouse::keys::store::TokenType::Id, &id_claims)
        .expect("sign");

    let admin_calls: [(reqwest::Method, &str, Option<Value>); 6] = [
        (reqwest::Method::GET, "/admin/keys", None),
        (
            reqwest::Method::POST,
            "/admin/keys/rotate",
            Some(json!({ "emergency": true })),
        ),
        (reqwest::Method::GET, "/admin/users", None),
        (
            reqwest::Method::POST,
            "/admin/users",
            Some(
                json!({ "username": "mallory", "password": "mallory's password", "is_admin": true }),
            ),
        ),
        (reqwest::Method::POST, "/admin/users/alice/disable", None),
        (reqwest::Method::GET, "/admin/audit", None),
    ];
    // Control: the access token opens the admin API.
    let resp = app
        .http
        .get(app.url("/admin/keys"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200, "the admin access token is refused");

    let before = snapshot(&app).await;
    for (kind, token) in [("id_token", &id_token), ("refresh token", &refresh)] {
        assert_invalid_token(
            app.userinfo(token).await,
            &format!("{kind} at GET /userinfo"),
        )
        .await;
        let resp = app
            .http
            .post(app.url("/userinfo"))
            .form(&[("access_token", token.as_str())])
            .send()
            .await
            .expect("request");
        assert_invalid_token(resp, &format!("{kind} in the body of POST /userinfo")).await;
        for (method, path, body) in &admin_calls {
            let mut req = app
                .http
                .request(method.clone(), app.url(path))
                .bearer_auth(token);
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send().await.expect("request");
            assert_invalid_token(resp, &format!("{kind} at {method} {path}")).await;
        }
    }
    // simplejwt's verify accepts access and refresh tokens (DESIGN), never an id_token.
    let (status, body) = status_json(
        app.post_json("/api/token/verify/", json!({ "token": id_token }))
            .await,
    )
    .await;
    assert_eq!(status, 401, "id_token at /api/token/verify/: {body}");
    assert_eq!(body["code"], "token_not_valid");
    let (status, _) = status_json(
        app.post_json("/api/token/verify/", json!({ "token": refresh }))
            .await,
    )
    .await;
    assert_eq!(
        status, 200,
        "a live refresh token verifies like simplejwt's"
    );
    // RFC 7662: an id_token is no token of this server's endpoints: inactive. A refresh token
    // is active and says what it is, so a resource server that checks token_type refuses it.
    let (_, body) = status_json(
        app.post_form_basic("/introspect", "rs", &rs_secret, &[("token", &id_token)])
            .await,
    )
    .await;
    assert_eq!(body, json!({ "active": false }), "id_token at /introspect");
    let (_, body) = status_json(
        app.post_form_basic("/introspect", "rs", &rs_secret, &[("token", &refresh)])
            .await,
    )
    .await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token", "{body}");
    // An id_token is not a refresh token either.
    let (status, body) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": id_token }))
            .await,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = status_json(
        app.post_form_basic(
            "/token",
            "adm",
            &secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &id_token),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
    // The refresh token was not spent by any of it.
    let (status, body) = status_json(
        app.post_form_basic(
            "/token",
            "adm",
            &secret,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// The `typ` header decides what a token is (RFC 8725 §3.11), on its own: an access token's
/// claims under the refresh token's or the id_token's `typ` (or none), and a refresh token's
/// under the access token's, are refused everywhere, though the server's key signed them.
async fn a_tokens_claims_under_another_kinds_typ_are_refused_though_signed_by_the_server(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (rs_secret, access, refresh) = setup(&app).await;
    let ours = server_signing_key(&app).await;
    let (access_claims, refresh_claims) = (peek(&access).1, peek(&refresh).1);
    // The refresh claims made to look like an access token's in every claim but the kind:
    // only `typ` is left to tell them apart.
    let mut refresh_as_access = refresh_claims.clone();
    refresh_as_access["aud"] = access_claims["aud"].clone();
    assert_accepted_as_access(
        &app,
        &ours.sign_raw(
            &ours.header("at+jwt", json!({})),
            &access_claims.to_string(),
        ),
        "access claims under at+jwt",
    )
    .await;
    let before = snapshot(&app).await;
    for typ in [
        json!("rt+jwt"),
        json!("JWT"),
        json!("jwt"),
        json!("at+jwt2"),
        json!(""),
        json!(null),
        json!(1),
    ] {
        let header = ours.header("at+jwt", json!({ "typ": typ }));
        let token = ours.sign_raw(&header, &access_claims.to_string());
        assert_refused_everywhere(
            &app,
            &rs_secret,
            &token,
            &format!("access claims, typ {typ}"),
        )
        .await;
    }
    for claims in [&refresh_claims, &refresh_as_access] {
        for typ in ["at+jwt", "JWT"] {
            let token = ours.sign_raw(&ours.header(typ, json!({})), &claims.to_string());
            assert_refused_everywhere(
                &app,
                &rs_secret,
                &token,
                &format!("refresh claims, typ {typ}"),
            )
            .await;
        }
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
}
