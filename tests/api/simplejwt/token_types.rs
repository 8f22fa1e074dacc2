//! A refresh token is never accepted as an access token, nor the reverse.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{assert_invalid_token, status_json, Backend};

use super::{
    app_with_alice, assert_still_refreshes, assert_token_not_valid, post_blacklist, post_refresh,
    post_verify, PASSWORD,
};

both_backends!(
    refresh_token_is_not_accepted_as_an_access_token,
    access_token_is_not_accepted_as_a_refresh_token,
);

async fn refresh_token_is_not_accepted_as_an_access_token(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    assert_invalid_token(
        app.userinfo(&refresh).await,
        "refresh token at GET /userinfo",
    )
    .await;
    let resp = app
        .http
        .post(app.url("/userinfo"))
        .bearer_auth(&refresh)
        .send()
        .await
        .expect("request");
    assert_invalid_token(resp, "refresh token at POST /userinfo").await;
    let resp = app
        .post_form("/userinfo", &[("access_token", &refresh)])
        .await;
    assert_invalid_token(resp, "refresh token as a form access_token").await;
    // Verify accepts refresh tokens by design (like simplejwt), without spending them.
    let (status, _) = status_json(post_verify(&app, &refresh).await).await;
    assert_eq!(status, 200);
    assert_still_refreshes(&app, &refresh).await;
}

async fn access_token_is_not_accepted_as_a_refresh_token(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    assert_token_not_valid(post_refresh(&app, &access).await, "access at refresh").await;
    assert_token_not_valid(post_blacklist(&app, &access).await, "access at blacklist").await;
    let (status, body) = status_json(
        app.post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "simplejwt"),
                ("refresh_token", &access),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant")),
        "{body}"
    );
    // Neither token was harmed.
    let (status, _) = status_json(app.userinfo(&access).await).await;
    assert_eq!(status, 200);
    assert_still_refreshes(&app, &refresh).await;
}
