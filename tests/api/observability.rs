//! `/metrics` and the request id, on one in-process server.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend};

both_backends!(metrics_count_requests_tokens_failures_and_reuse);

/// The value of the series whose line starts with `series` (name and labels as printed).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
}

async fn metrics_count_requests_tokens_failures_and_reuse(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "correct horse battery", false).await;
    let (_, refresh) = app.tokens("alice", "correct horse battery").await;
    let resp = app
        .post_json("/api/token/refresh/", json!({ "refresh": refresh }))
        .await;
    assert_eq!(resp.status(), 200);
    // A replay of the spent token: reuse detected, the family revoked.
    let resp = app
        .post_json("/api/token/refresh/", json!({ "refresh": refresh }))
        .await;
    assert_eq!(resp.status(), 401);
    let resp = app.simplejwt_login("alice", "wrong password").await;
    assert_eq!(resp.status(), 401);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(request_id.len(), 32, "a request id on every answer");

    // Without a trusted proxy, a client cannot choose its request id.
    let resp = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "chosen-by-the-client")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.headers()["x-request-id"], "chosen-by-the-client");

    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = resp.text().await.unwrap();
    assert_eq!(
        sample(&text, r#"gatehouse_tokens_issued_total{kind="access"}"#),
        2.0
    );
    assert_eq!(
        sample(&text, r#"gatehouse_tokens_issued_total{kind="refresh"}"#),
        2.0
    );
    assert_eq!(
        sample(&text, r#"gatehouse_tokens_issued_total{kind="id_token"}"#),
        0.0
    );
    assert_eq!(
        sample(
            &text,
            r#"gatehouse_refresh_reuse_detected_total{outcome="family_revoked"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"gatehouse_login_failures_total{endpoint="simplejwt"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"gatehouse_http_requests_total{method="POST",route="/api/token/",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"gatehouse_http_requests_total{method="POST",route="/api/token/refresh/",status="401"}"#
        ),
        1.0
    );
    // The two sign-ins at /api/token/: the right password and the wrong one.
    assert_eq!(
        sample(
            &text,
            r#"gatehouse_http_request_duration_seconds_count{route="/api/token/"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(&text, r#"gatehouse_db_pool_connections{state="max"}"#),
        4.0
    );
    // The seed key became current at the start and the clock has not moved since.
    assert_eq!(sample(&text, "gatehouse_signing_key_age_seconds"), 0.0);
    assert_eq!(sample(&text, "gatehouse_key_rotations_total"), 0.0);
    app.advance(60);
    assert_eq!(
        sample(&app.metrics().await, "gatehouse_signing_key_age_seconds"),
        60.0
    );
    // Raw paths never become labels (one series per route, not per URL).
    let resp = app
        .http
        .get(app.url("/no/such/path/12345"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let text = app.metrics().await;
    assert!(!text.contains("12345"));
    assert!(text.contains(r#"route="unmatched""#));
    // No secret in the exposition.
    assert!(!text.contains(refresh.as_str()));
}
