//! The admin API: who may call the admin API: a bearer token of an enabled admin with scope `admin`.

use serde_json::{json, Value};

use super::{assert_error, json_of};
use crate::both_backends;
use crate::helpers::{password_grant, spawn_app, Backend, ADMIN_PASSWORD};

both_backends!(
    admin_api_without_a_valid_token_is_401_with_a_bearer_challenge,
    admin_api_refuses_tokens_without_an_admin_user_and_scope_admin,
);

async fn admin_api_without_a_valid_token_is_401_with_a_bearer_challenge(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let resp = app.http.get(app.url("/admin/keys")).send().await.unwrap();
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    // RFC 6750 §3.1: no token sent, so the challenge names no error.
    assert_eq!(challenge, "Bearer realm=\"gatehouse\"");
    assert_error(resp, 401, "invalid_token", "no token").await;

    let unsigned = {
        use base64::Engine;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(json!({ "alg": "none", "typ": "at+jwt" })),
            b64(json!({ "sub": "root", "scope": "admin", "exp": 4_000_000_000u64 }))
        )
    };
    for garbage in ["garbage", "a.b.c", unsigned.as_str()] {
        let resp = app.admin_get(garbage, "/admin/users").await;
        assert!(resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\""));
        let body = assert_error(resp, 401, "invalid_token", garbage).await;
        if garbage.len() > 10 {
            assert!(!body.to_string().contains(garbage), "the token is echoed");
        }
    }
    // Another scheme is no bearer token.
    let resp = app
        .http
        .post(app.url("/admin/keys/rotate"))
        .basic_auth("root", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "invalid_token", "basic auth").await;

    // A refresh token is never an access token.
    app.add_user("root", ADMIN_PASSWORD, true).await;
    let (_, refresh) = app.tokens("root", ADMIN_PASSWORD).await;
    assert_error(
        app.admin_get(&refresh, "/admin/keys").await,
        401,
        "invalid_token",
        "refresh token",
    )
    .await;
}

async fn admin_api_refuses_tokens_without_an_admin_user_and_scope_admin(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    assert_eq!(app.admin_get(&admin, "/admin/keys").await.status(), 200);
    app.add_user("bob", "bob's password", false).await;
    let secret = app
        .add_client(&["adm2", "--grant", "password", "--scope", "admin", "openid"])
        .await
        .unwrap();

    // simplejwt tokens never carry scope admin, not even an admin user's.
    let (bob_simplejwt, _) = app.tokens("bob", "bob's password").await;
    let (root_simplejwt, _) = app.tokens("root", ADMIN_PASSWORD).await;
    // Password grant without scope admin, for an admin and a non-admin user.
    let token_for = |user: &'static str, pw: &'static str, scope: &'static str| {
        let (app, secret) = (&app, secret.clone());
        async move {
            let resp =
                password_grant(&app.http, &app.address, "adm2", &secret, user, pw, scope).await;
            assert_eq!(resp.status(), 200, "{user} {scope}");
            json_of(resp).await["access_token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let root_openid = token_for("root", ADMIN_PASSWORD, "openid").await;
    let bob_openid = token_for("bob", "bob's password", "openid").await;
    // Without `scope`, the admin scope is not granted by default.
    let root_default = token_for("root", ADMIN_PASSWORD, "").await;

    for (what, token) in [
        ("non-admin simplejwt token", &bob_simplejwt),
        ("admin's simplejwt token", &root_simplejwt),
        ("admin's token with scope openid", &root_openid),
        ("admin's token with the default scope", &root_default),
        ("non-admin's token with scope openid", &bob_openid),
    ] {
        for path in ["/admin/keys", "/admin/users", "/admin/clients"] {
            let resp = app.admin_get(token, path).await;
            assert!(resp.headers().contains_key("www-authenticate"), "{what}");
            assert_error(resp, 403, "insufficient_scope", what).await;
        }
        let resp = app
            .admin_post(token, "/admin/keys/rotate", Some(json!({})))
            .await;
        assert_error(resp, 403, "insufficient_scope", what).await;
    }

    // A non-admin user cannot even obtain scope admin.
    let resp = password_grant(
        &app.http,
        &app.address,
        "adm2",
        &secret,
        "bob",
        "bob's password",
        "admin",
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(json_of(resp).await["error"], "invalid_scope");

    // Nor does a client_credentials token carry it.
    let svc = app
        .add_client(&[
            "svc",
            "--grant",
            "client_credentials",
            "--scope",
            "admin",
            "read",
        ])
        .await
        .unwrap();
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("svc", Some(&svc))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let cc = json_of(app.client_credentials("svc", &svc).await).await;
    let cc = cc["access_token"].as_str().unwrap();
    assert_error(
        app.admin_get(cc, "/admin/keys").await,
        403,
        "insufficient_scope",
        "client token",
    )
    .await;

    // Nothing was rotated by the refused calls.
    let keys = json_of(app.admin_get(&admin, "/admin/keys").await).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 3);
}
