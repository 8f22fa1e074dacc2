//! The ends of a token's life, on the server's clock: an expired access or refresh token is
//! refused everywhere, and a refresh family ends at `REFRESH_MAX_LIFETIME`.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{peek, spawn_app_with, status_json, Backend};

use super::{
    assert_still_refreshes, assert_token_not_valid, pair_of, post_blacklist, post_refresh,
    post_verify, PASSWORD,
};

both_backends!(
    expired_access_token_is_rejected,
    expired_refresh_token_is_rejected,
    refresh_family_ends_at_refresh_max_lifetime,
);

async fn expired_access_token_is_rejected(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.access_ttl = Some("1s".into());
        args.leeway = Some("0s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    let (_, claims) = peek(&access);
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        1
    );

    assert_eq!(app.userinfo(&access).await.status(), StatusCode::OK);
    app.advance(1);
    let resp = app.userinfo(&access).await;
    // RFC 6750 §3: a 401 whose challenge names the error.
    let challenge = resp
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().expect("ascii challenge").to_string());
    let (status, refusal) = status_json(resp).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refusal}");
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer realm="gatehouse", error="invalid_token""#)
    );
    assert_eq!(refusal["error"], "invalid_token", "{refusal}");
    assert!(
        refusal["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("expired")),
        "the refusal should say the token expired: {refusal}"
    );
    assert_token_not_valid(post_verify(&app, &access).await, "verify expired access").await;
    // The refresh token outlives it and gets a fresh access token.
    assert_still_refreshes(&app, &refresh).await;
}

async fn expired_refresh_token_is_rejected(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_ttl = Some("1s".into());
        args.leeway = Some("0s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    let (_, claims) = peek(&refresh);
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        1
    );
    assert_eq!(post_verify(&app, &refresh).await.status(), StatusCode::OK);
    app.advance(1);
    assert_token_not_valid(post_verify(&app, &refresh).await, "verify expired refresh").await;
    assert_token_not_valid(post_refresh(&app, &refresh).await, "expired refresh").await;
    assert_token_not_valid(post_blacklist(&app, &refresh).await, "blacklist expired").await;
    let (status, body) = status_json(
        app.post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "simplejwt"),
                ("refresh_token", &refresh),
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
    // Logging in again works.
    app.tokens("alice", PASSWORD).await;
}

async fn refresh_family_ends_at_refresh_max_lifetime(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_max_lifetime = Some("1h".into());
        args.leeway = Some("0s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let family_end = peek(&refresh0).1["iat"].as_i64().expect("iat") + 3600;
    assert_eq!(
        peek(&refresh0).1["exp"],
        family_end,
        "REFRESH_TTL (24h) is capped by the family's end"
    );

    // However often it rotates, no token outlives the family, and the family ends.
    let mut current = refresh0;
    for minutes in [30, 29] {
        app.advance(minutes * 60);
        let (status, body) = status_json(post_refresh(&app, &current).await).await;
        assert_eq!(status, 200, "the family is still alive: {body}");
        let (_, next) = pair_of(&body);
        let exp = peek(&next).1["exp"].as_i64().expect("exp");
        assert_eq!(exp, family_end, "a successor never outlives its family");
        current = next;
    }
    app.advance(60);
    let (status, body) = status_json(post_refresh(&app, &current).await).await;
    assert_eq!(status, 401, "the family ended after an hour: {body}");
    assert_eq!(body["code"], "token_not_valid", "{body}");
}
