//! `POST /api/token/blacklist/`: the refresh token's family ends; nothing else does.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{status_json, Backend};

use super::{
    app_with_alice, assert_still_refreshes, assert_token_not_valid, post_blacklist, post_refresh,
    post_verify, PASSWORD,
};

both_backends!(blacklisted_refresh_token_no_longer_refreshes_or_verifies,);

async fn blacklisted_refresh_token_no_longer_refreshes_or_verifies(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh0) = app.tokens("alice", PASSWORD).await;
    let (_, other_family) = app.tokens("alice", PASSWORD).await;
    let resp = post_blacklist(&app, &refresh0).await;
    let (status, body) = status_json(resp).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));

    assert_token_not_valid(
        post_refresh(&app, &refresh0).await,
        "refresh after blacklist",
    )
    .await;
    assert_token_not_valid(post_verify(&app, &refresh0).await, "verify after blacklist").await;
    assert_token_not_valid(post_blacklist(&app, &refresh0).await, "blacklist twice").await;
    // The family's access token goes with it here (downstream verifiers still accept it
    // until exp: access tokens are stateless for them).
    assert_token_not_valid(post_verify(&app, &access).await, "its access token").await;
    // Blacklisting one family leaves the user's other sessions alone.
    assert_still_refreshes(&app, &other_family).await;
}
