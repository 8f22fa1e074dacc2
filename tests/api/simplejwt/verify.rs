//! `POST /api/token/verify/`: 200 `{}` for a live access or refresh token, 401
//! `token_not_valid` otherwise; verifying never spends anything.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{status_json, Backend};

use super::{
    app_with_alice, assert_still_refreshes, assert_token_not_valid, post_verify, rotate, PASSWORD,
};

both_backends!(
    verify_accepts_an_access_token_and_a_live_refresh_token,
    verify_rejects_garbage_and_spent_refresh_tokens,
);

async fn verify_accepts_an_access_token_and_a_live_refresh_token(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    for (what, token) in [("access", &access), ("refresh", &refresh)] {
        let (status, body) = status_json(post_verify(&app, token).await).await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(body, json!({}), "{what}");
    }
    // Form bodies too.
    let (status, body) = status_json(
        app.post_form("/api/token/verify/", &[("token", &access)])
            .await,
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    // Verifying does not spend anything.
    assert_still_refreshes(&app, &refresh).await;
}

async fn verify_rejects_garbage_and_spent_refresh_tokens(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    for garbage in ["garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA"] {
        assert_token_not_valid(post_verify(&app, garbage).await, garbage).await;
    }
    let (_, refresh1) = rotate(&app, &refresh0).await;
    assert_token_not_valid(post_verify(&app, &refresh0).await, "spent refresh").await;
    // Verifying a spent token is not a reuse: the successor lives on.
    assert_still_refreshes(&app, &refresh1).await;
}
