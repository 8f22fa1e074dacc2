//! Hostile request bodies at `/token`, `/revoke` and `/introspect`: `invalid_request`
//! with the status that fits, and nothing changes.

use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{status_json, Backend};

use super::{assert_oauth_error, password_pair, refresh_grant, setup, token_of};

both_backends!(hostile_bodies_at_token_are_4xx,);

async fn hostile_bodies_at_token_are_4xx(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let refresh = token_of(&body, "refresh_token");
    let big = format!("grant_type=client_credentials&pad={}", "x".repeat(1 << 20));
    let cases: Vec<(&str, String, u16)> = vec![
        ("application/x-www-form-urlencoded", big, 413),
        (
            "application/json",
            json!({ "grant_type": "client_credentials" }).to_string(),
            400,
        ),
        ("text/plain", "grant_type=client_credentials".into(), 400),
        (
            "application/x-www-form-urlencoded",
            "grant_type=client_credentials&grant_type=password".into(),
            400,
        ),
    ];
    for path in ["/token", "/revoke", "/introspect"] {
        for (content_type, body, status) in &cases {
            let resp = app
                .http
                .post(app.url(path))
                .basic_auth("cc", Some(&cc))
                .header(CONTENT_TYPE, *content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path} {content_type}: no answer: {e}"));
            let (got, answer) = status_json(resp).await;
            assert_eq!(
                got.as_u16(),
                *status,
                "{path} {content_type} {}: {answer}",
                &body[..body.len().min(60)]
            );
            assert_eq!(answer["error"], "invalid_request", "{path}: {answer}");
            assert!(answer["error_description"].is_string(), "{answer}");
        }
    }
    // Two client authentication methods at once are refused.
    let resp = app
        .post_form_basic(
            "/token",
            "cc",
            &cc,
            &[("grant_type", "client_credentials"), ("client_secret", &cc)],
        )
        .await;
    assert_oauth_error(resp, 400, "invalid_request", "basic and post").await;
    // Nothing changed.
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh).await).await;
    assert_eq!(status, 200, "{next}");
}
