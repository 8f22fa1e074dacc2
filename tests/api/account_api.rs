//! A single-page app's enrolment endpoints (`/api/account/totp/`, `…/confirm/`), with the
//! user's bearer token: the happy path is the Python script's (tests/system/spa_mfa.rs);
//! here every refusal, with nothing changed, on both databases.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::totp::{base32_decode, code};
use crate::helpers::{spawn_app, status_json, Backend, TestApp};

both_backends!(the_spa_enrolment_refuses_bad_tokens_passwords_and_codes);

const PASSWORD: &str = "alice's long password";

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = app.http.request(method, app.url(path)).json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    status_json(req.send().await.unwrap()).await
}

async fn the_spa_enrolment_refuses_bad_tokens_passwords_and_codes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    let post = reqwest::Method::POST;
    let pw = json!({ "password": PASSWORD });
    // No token, a refresh token, garbage: 401, nothing started.
    for token in [None, Some(refresh.as_str()), Some("x.y.z")] {
        let (status, body) =
            call(&app, post.clone(), "/api/account/totp/", token, pw.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["code"], "token_not_valid");
    }
    let (status, body) = call(
        &app,
        post.clone(),
        "/api/account/totp/",
        Some(&access),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let wrong = json!({ "password": "not the password" });
    let (status, body) = call(
        &app,
        post.clone(),
        "/api/account/totp/",
        Some(&access),
        wrong,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "invalid_password");
    // Nothing pending: confirming fails.
    let (status, _) = call(
        &app,
        post.clone(),
        "/api/account/totp/confirm/",
        Some(&access),
        json!({ "code": "123456" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, started) = call(
        &app,
        post.clone(),
        "/api/account/totp/",
        Some(&access),
        pw.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let secret = base32_decode(started["secret"].as_str().unwrap());
    assert!(started["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/127.0.0.1"));
    for bad in [
        json!({}),
        json!({ "code": "12ab56" }),
        json!({ "code": "1".repeat(4000) }),
    ] {
        let (status, body) = call(
            &app,
            post.clone(),
            "/api/account/totp/confirm/",
            Some(&access),
            bad,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    // Still pending: the password alone still signs in.
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 200);
    let now = app.clock.now();
    let (status, body) = call(
        &app,
        post.clone(),
        "/api/account/totp/confirm/",
        Some(&access),
        json!({ "code": code(&secret, now) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recovery_codes"].as_array().unwrap().len(), 10);
    let (status, _) = call(
        &app,
        post.clone(),
        "/api/account/totp/",
        Some(&access),
        pw.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Removal needs the password.
    let delete = reqwest::Method::DELETE;
    let wrong = json!({ "password": "not the password" });
    let (status, _) = call(
        &app,
        delete.clone(),
        "/api/account/totp/",
        Some(&access),
        wrong,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 401);
    let (status, _) = call(&app, delete, "/api/account/totp/", Some(&access), pw).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 200);
}
