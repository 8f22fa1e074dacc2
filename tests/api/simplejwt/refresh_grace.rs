//! `REFRESH_GRACE`: within the window, the immediate predecessor presented again gets the
//! same successor pair; any older token, or a replay after the window, ends the family.

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{spawn_app_with, status_json, Backend};

use super::{
    assert_still_refreshes, assert_token_not_valid, pair_of, post_refresh, post_verify,
    refresh_concurrently, rotate, PASSWORD,
};

both_backends!(
    within_the_grace_window_the_immediate_predecessor_gets_the_identical_pair,
    within_the_grace_window_an_older_token_still_revokes_the_family,
    after_the_grace_window_the_predecessor_revokes_the_family,
    with_grace_concurrent_refreshes_of_one_token_all_get_the_same_pair,
);

async fn within_the_grace_window_the_immediate_predecessor_gets_the_identical_pair(
    backend: Backend,
) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_grace = Some("10s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;

    let (status, first) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!(status, 200, "{first}");
    // A client whose first answer was lost retries: it gets the very same pair.
    let (status, again) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first, "the retry must return the identical pair");
    let (status, third) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!((status, &third), (StatusCode::OK, &first));

    // The successor is live and rotates normally; its own retry gets its pair.
    let (_, refresh1) = pair_of(&first);
    let (status, second) = status_json(post_refresh(&app, &refresh1).await).await;
    assert_eq!(status, 200, "{second}");
    let (status, second_again) = status_json(post_refresh(&app, &refresh1).await).await;
    assert_eq!((status, &second_again), (StatusCode::OK, &second));
    let (_, refresh2) = pair_of(&second);
    assert_still_refreshes(&app, &refresh2).await;
}

async fn within_the_grace_window_an_older_token_still_revokes_the_family(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_grace = Some("10s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let (_, refresh1) = rotate(&app, &refresh0).await;
    let (_, refresh2) = rotate(&app, &refresh1).await;

    // refresh0 is the grand-parent of the live token: that is reuse, not a retry.
    assert_token_not_valid(post_refresh(&app, &refresh0).await, "grand-parent replay").await;
    assert_token_not_valid(
        post_refresh(&app, &refresh2).await,
        "live token after reuse",
    )
    .await;
    assert_token_not_valid(
        post_refresh(&app, &refresh1).await,
        "the predecessor after reuse",
    )
    .await;
    assert_token_not_valid(post_verify(&app, &refresh2).await, "verify after reuse").await;
}

async fn after_the_grace_window_the_predecessor_revokes_the_family(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_grace = Some("1s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let (status, first) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!(status, 200, "{first}");

    // A replay inside the window gets the same pair; once it is over, a replay is reuse.
    let (status, again) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again, first,
        "a replay within the window gets the same pair"
    );
    app.advance(2);
    let (status, body) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!(
        status, 401,
        "a replay after the grace window must be refused: {body}"
    );
    assert_eq!(body["code"], "token_not_valid", "{body}");
    let (_, refresh1) = pair_of(&first);
    assert_token_not_valid(
        post_refresh(&app, &refresh1).await,
        "successor after late replay",
    )
    .await;
}

async fn with_grace_concurrent_refreshes_of_one_token_all_get_the_same_pair(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_grace = Some("30s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let answers = refresh_concurrently(&app, &refresh0, 8).await;
    let first = &answers[0].1;
    for (status, body) in &answers {
        assert_eq!(
            *status, 200,
            "every retry within the window succeeds: {answers:?}"
        );
        assert_eq!(body, first, "and gets the same pair");
    }
    let (_, refresh1) = pair_of(first);
    assert_still_refreshes(&app, &refresh1).await;
}
