//! `POST /api/token/refresh/`: each refresh spends the token and issues a new pair; a spent
//! token presented again ends its whole family (reuse detection), however many present it
//! at once.

use reqwest::header::CACHE_CONTROL;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_invalid_token, peek, status_json, verify_with_jwks, Backend};

use super::{
    app_with_alice, assert_still_refreshes, assert_token_not_valid, pair_of, post_blacklist,
    post_refresh, post_verify, refresh_concurrently, rotate, PASSWORD,
};

both_backends!(
    refresh_returns_a_new_pair,
    refresh_token_cannot_be_used_twice,
    reusing_a_spent_refresh_token_revokes_the_whole_family,
    reuse_detection_also_ends_the_access_tokens_of_the_family,
    concurrent_refreshes_of_one_token_yield_exactly_one_pair,
);

async fn refresh_returns_a_new_pair(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh0) = app.tokens("alice", PASSWORD).await;
    let resp = post_refresh(&app, &refresh0).await;
    assert_eq!(
        resp.headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    let fields: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(fields, ["access", "refresh"], "{body}");
    let (access1, refresh1) = pair_of(&body);
    assert_ne!(access1, access);
    assert_ne!(refresh1, refresh0);
    let claims = verify_with_jwks(&access1, &app.jwks().await, &app.settings.issuer)
        .expect("the new access token verifies");
    assert_eq!(claims["sub"], peek(&access).1["sub"]);
    assert_eq!(claims["token_type"], "access");
    assert_eq!(claims["scope"], "openid profile email");
    // The successor works in turn.
    rotate(&app, &refresh1).await;
}

async fn refresh_token_cannot_be_used_twice(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    rotate(&app, &refresh0).await;
    assert_token_not_valid(post_refresh(&app, &refresh0).await, "second use").await;
    assert_token_not_valid(post_refresh(&app, &refresh0).await, "third use").await;
}

async fn reusing_a_spent_refresh_token_revokes_the_whole_family(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, other_family) = app.tokens("alice", PASSWORD).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let (_, refresh1) = rotate(&app, &refresh0).await;
    let (_, refresh2) = rotate(&app, &refresh1).await;

    // The thief (or the victim) presents a spent token: the whole family ends.
    assert_token_not_valid(post_refresh(&app, &refresh0).await, "reuse").await;
    assert_token_not_valid(
        post_refresh(&app, &refresh2).await,
        "the live successor after reuse",
    )
    .await;
    assert_token_not_valid(
        post_verify(&app, &refresh2).await,
        "verify successor after reuse",
    )
    .await;
    assert_token_not_valid(
        post_blacklist(&app, &refresh2).await,
        "blacklist successor after reuse",
    )
    .await;
    // Another login of the same user is another family.
    assert_still_refreshes(&app, &other_family).await;
}

/// DESIGN.md, Revocation: after reuse detection revokes a family, the access tokens it
/// issued fail at `/userinfo`, `/introspect` and `/api/token/verify/` too (downstream
/// verifiers still accept them until `exp`).
async fn reuse_detection_also_ends_the_access_tokens_of_the_family(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let secret = app
        .add_client(&["rs", "--grant", "client_credentials"])
        .await
        .expect("rs is confidential");
    let (other_access, _) = app.tokens("alice", PASSWORD).await;
    let (access0, refresh0) = app.tokens("alice", PASSWORD).await;
    let (access1, _) = rotate(&app, &refresh0).await;
    assert_token_not_valid(post_refresh(&app, &refresh0).await, "reuse").await;

    for (what, access) in [("the first", &access0), ("the successor's", &access1)] {
        assert_invalid_token(app.userinfo(access).await, what).await;
        let (status, info) = status_json(
            app.post_form_basic("/introspect", "rs", &secret, &[("token", access)])
                .await,
        )
        .await;
        assert_eq!(
            (status, &info),
            (StatusCode::OK, &json!({ "active": false })),
            "{what}"
        );
        assert_token_not_valid(post_verify(&app, access).await, what).await;
    }
    // Another family of the same user is untouched.
    assert_eq!(app.userinfo(&other_access).await.status(), StatusCode::OK);
}

async fn concurrent_refreshes_of_one_token_yield_exactly_one_pair(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let answers = refresh_concurrently(&app, &refresh0, 8).await;
    // Exactly one spend wins; each of the seven others is a replay of a spent token.
    let winners: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one spend wins: {answers:?}");
    let refusals: Vec<(StatusCode, &Value)> = answers
        .iter()
        .filter(|(s, _)| *s != StatusCode::OK)
        .map(|(s, b)| (*s, &b["code"]))
        .collect();
    assert_eq!(
        refusals,
        vec![(StatusCode::UNAUTHORIZED, &json!("token_not_valid")); 7],
        "{answers:?}"
    );
    // Strict mode: the losers were replays, so the family is gone, winner's pair included.
    let (_, refresh1) = pair_of(winners[0]);
    assert_token_not_valid(post_refresh(&app, &refresh1).await, "winner after replays").await;
}
