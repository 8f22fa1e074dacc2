//! `POST /introspect` (RFC 7662): active with the token's claims for a live token,
//! `{"active": false}` for anything else; only for authenticated confidential clients.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{
    assemble_jwt, assert_invalid_token, peek, spawn_app_with, status_json, Backend,
};

use super::{
    assert_client_authentication_required, assert_inactive, assert_oauth_error, introspect,
    password_pair, prepare, refresh_grant, setup, token_of, PASSWORD,
};

both_backends!(
    introspection_reports_a_valid_access_token_active_with_its_claims,
    introspection_reports_garbage_revoked_and_spent_tokens_inactive,
    introspection_reports_an_expired_access_token_inactive,
    introspection_requires_client_authentication,
);

async fn introspection_reports_a_valid_access_token_active_with_its_claims(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");
    let claims = peek(&access).1;
    let (status, me) = status_json(app.userinfo(&access).await).await;
    assert_eq!(status, 200, "{me}");
    let info = introspect(&app, &cc, &access).await;
    assert_eq!(info["active"], true, "{info}");
    // Each member against what the test knows on its own: the settings, the clock, the
    // token response, the user's `sub` at /userinfo.
    let now = app.clock.now();
    let ttl = app.settings.access_ttl.as_secs() as i64;
    assert_eq!(info["iss"], json!(app.settings.issuer), "{info}");
    assert_eq!(info["aud"], json!(app.settings.default_audience), "{info}");
    assert_eq!(info["sub"], me["sub"], "{info}");
    assert!(me["sub"].as_str().is_some_and(|s| !s.is_empty()), "{me}");
    assert_eq!(info["client_id"], "app", "{info}");
    assert_eq!(info["scope"], body["scope"], "{info}");
    assert_eq!(info["scope"], "openid profile email", "{info}");
    assert_eq!(info["iat"], json!(now), "{info}");
    assert_eq!(info["exp"], json!(now + ttl), "{info}");
    assert!(
        info["jti"].as_str().is_some_and(|j| !j.is_empty()),
        "{info}"
    );
    assert_eq!(info["jti"], claims["jti"], "{info}");
    assert_eq!(info["username"], "alice", "{info}");
    assert_eq!(info["token_type"], "Bearer", "{info}");

    // A client_credentials token introspects as the client's.
    let (_, cc_body) = status_json(
        app.post_form_basic("/token", "cc", &cc, &[("grant_type", "client_credentials")])
            .await,
    )
    .await;
    let cc_access = token_of(&cc_body, "access_token");
    let info = introspect(&app, &cc, &cc_access).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["iss"], json!(app.settings.issuer), "{info}");
    assert_eq!(info["sub"], "cc", "{info}");
    assert_eq!(info["client_id"], "cc", "{info}");
    assert_eq!(info["scope"], "api", "{info}");
    assert_eq!(info["exp"], json!(now + ttl), "{info}");
    assert_eq!(info["token_type"], "Bearer", "{info}");
    // RFC 7662 §2.2: `username` names the resource owner; a client's token has none.
    assert!(
        info.get("username").is_none(),
        "a client's token names a user: {info}"
    );

    // A live refresh token is active, but says it is a refresh token (type confusion is
    // the caller's to avoid: it is not a Bearer access token).
    let refresh = token_of(&body, "refresh_token");
    let info = introspect(&app, &cc, &refresh).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["token_type"], "refresh_token", "{info}");
    assert_ne!(info["token_type"], "Bearer");
}

async fn introspection_reports_garbage_revoked_and_spent_tokens_inactive(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    for garbage in ["garbage", "a.b.c", ""] {
        assert_inactive(&app, &cc, garbage, garbage).await;
    }
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");
    let refresh0 = token_of(&body, "refresh_token");
    // Forgeries of a genuine token.
    let (header, mut claims) = peek(&access);
    let forged_none = assemble_jwt(
        &json!({ "alg": "none", "typ": "at+jwt", "kid": header["kid"] }),
        &claims,
        "",
    );
    claims["scope"] = json!("openid admin");
    let signature = access.rsplit('.').next().expect("signature");
    let tampered = assemble_jwt(&header, &claims, signature);
    assert_inactive(&app, &cc, &forged_none, "alg none").await;
    assert_inactive(&app, &cc, &tampered, "tampered").await;

    // Spent.
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh0).await).await;
    assert_eq!(status, 200, "{next}");
    assert_inactive(&app, &cc, &refresh0, "spent refresh").await;
    // Introspecting a spent token is not a reuse: the successor lives on.
    let refresh1 = token_of(&next, "refresh_token");
    assert_eq!(introspect(&app, &cc, &refresh1).await["active"], true);

    // Blacklisted (simplejwt) and revoked (RFC 7009).
    let (_, sj) = app.tokens("alice", PASSWORD).await;
    let resp = app
        .post_json("/api/token/blacklist/", json!({ "refresh": sj }))
        .await;
    assert_eq!(resp.status(), 200);
    assert_inactive(&app, &cc, &sj, "blacklisted").await;
    let resp = app
        .post_form_basic("/revoke", "app", &pw, &[("token", &refresh1)])
        .await;
    assert_eq!(resp.status(), 200);
    assert_inactive(&app, &cc, &refresh1, "revoked").await;
    // RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of the
    // same grant (here: its refresh family).
    assert_inactive(&app, &cc, &access, "access of a revoked family").await;
}

async fn introspection_reports_an_expired_access_token_inactive(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.access_ttl = Some("1s".into());
        args.leeway = Some("0s".into());
    })
    .await
    else {
        return;
    };
    let (cc, pw) = prepare(&app).await;
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");
    let refresh = token_of(&body, "refresh_token");
    assert_eq!(introspect(&app, &cc, &access).await["active"], true);
    app.advance(1);
    assert_eq!(
        introspect(&app, &cc, &access).await,
        json!({ "active": false }),
        "an expired access token must introspect inactive"
    );
    assert_invalid_token(app.userinfo(&access).await, "expired access").await;
    // The refresh token lives on.
    assert_eq!(introspect(&app, &cc, &refresh).await["active"], true);
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh).await).await;
    assert_eq!(status, 200, "{next}");
}

async fn introspection_requires_client_authentication(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");

    assert_client_authentication_required(&app, "/introspect", "cc", &access).await;
    // A public client has no credentials to present: naming one authenticates nobody, so
    // it must not open the endpoint to token scanning (RFC 7662 §2.1, §4).
    let resp = app
        .post_form(
            "/introspect",
            &[("token", &access), ("client_id", "simplejwt")],
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client", "public client id only").await;
    app.add_client(&[
        "spa",
        "--public",
        "--redirect-uri",
        "https://spa.example/cb",
    ])
    .await;
    let resp = app
        .post_form("/introspect", &[("token", &access), ("client_id", "spa")])
        .await;
    assert_oauth_error(resp, 401, "invalid_client", "registered public client").await;
    // Authenticated, it works.
    assert_eq!(introspect(&app, &cc, &access).await["active"], true);
}
