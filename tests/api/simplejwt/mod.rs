//! The simplejwt-compatible endpoints (`/api/token/`, `/api/token/refresh/`,
//! `/api/token/verify/`, `/api/token/blacklist/`), refresh-token rotation and reuse detection,
//! and what they do with hostile input: every bad request is a 4xx with a clear JSON error
//! and changes nothing stored. One file per endpoint or theme; this one holds what they share.

mod blacklist;
mod expiry;
mod forged_tokens;
mod hostile_bodies;
mod obtain;
mod refresh;
mod refresh_grace;
mod throttle;
mod token_types;
mod verify;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, status_json, Backend, TestApp};

pub(super) const PASSWORD: &str = "correct horse battery";

/// A fresh server with the user `alice`.
pub(super) async fn app_with_alice(backend: Backend) -> Option<TestApp> {
    let app = spawn_app(backend).await?;
    app.add_user("alice", PASSWORD, false).await;
    Some(app)
}

pub(super) async fn post_refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/token/refresh/", json!({ "refresh": token }))
        .await
}

pub(super) async fn post_verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/token/verify/", json!({ "token": token }))
        .await
}

pub(super) async fn post_blacklist(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/token/blacklist/", json!({ "refresh": token }))
        .await
}

/// A successful refresh; returns the new (access, refresh).
pub(super) async fn rotate(app: &TestApp, token: &str) -> (String, String) {
    let (status, body) = status_json(post_refresh(app, token).await).await;
    assert_eq!(status, 200, "refresh should succeed: {body}");
    pair_of(&body)
}

pub(super) fn pair_of(body: &Value) -> (String, String) {
    (
        body["access"].as_str().expect("access").to_string(),
        body["refresh"].as_str().expect("refresh").to_string(),
    )
}

/// simplejwt's answer to a bad token: 401 `{"detail", "code": "token_not_valid"}`.
pub(super) async fn assert_token_not_valid(resp: reqwest::Response, what: &str) {
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["code"], "token_not_valid", "{what}: {body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: no detail in {body}"
    );
}

/// Nothing stored changed: the refresh token is still live and still refreshes.
pub(super) async fn assert_still_refreshes(app: &TestApp, token: &str) {
    let (status, body) = status_json(post_verify(app, token).await).await;
    assert_eq!(
        status, 200,
        "the refresh token should still be live: {body}"
    );
    rotate(app, token).await;
}

/// Presents `token` to `/api/token/refresh/` from `n` tasks at once.
pub(super) async fn refresh_concurrently(
    app: &TestApp,
    token: &str,
    n: usize,
) -> Vec<(StatusCode, Value)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (http, url) = (app.http.clone(), app.url("/api/token/refresh/"));
            let body = json!({ "refresh": token });
            tokio::spawn(async move {
                status_json(http.post(url).json(&body).send().await.expect("request")).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers
}
