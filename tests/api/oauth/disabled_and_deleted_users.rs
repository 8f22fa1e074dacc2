//! Disabling or deleting a user ends their refresh families at once, and their access
//! tokens at `/userinfo` and `/introspect`. The user is changed in-process, through the use
//! case the CLI and the admin API share (cli.rs and admin.rs prove those two surfaces).

use serde_json::json;

use crate::both_backends;
use crate::helpers::{assert_invalid_token, status_json, Backend};

use super::{
    assert_inactive, assert_oauth_error, password_pair, refresh_grant, setup, token_of, PASSWORD,
};

both_backends!(
    disabled_user_loses_userinfo_and_refresh,
    deleted_user_loses_userinfo_and_refresh,
);

async fn disabled_user_loses_userinfo_and_refresh(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let (access, refresh) = (
        token_of(&body, "access_token"),
        token_of(&body, "refresh_token"),
    );
    let (sj_access, sj_refresh) = app.tokens("alice", PASSWORD).await;
    assert_eq!(app.userinfo(&access).await.status(), 200);

    app.state
        .accounts
        .set_user_disabled("alice", true, gatehouse::accounts::LastAdmin::MayRemove)
        .await
        .expect("disable alice");

    assert_invalid_token(app.userinfo(&access).await, "disabled, oauth token").await;
    assert_invalid_token(app.userinfo(&sj_access).await, "disabled, simplejwt token").await;
    assert_oauth_error(
        refresh_grant(&app, &pw, &refresh).await,
        400,
        "invalid_grant",
        "disabled, refresh grant",
    )
    .await;
    let (status, answer) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": sj_refresh }))
            .await,
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["code"], "token_not_valid");
    assert_inactive(&app, &cc, &access, "disabled user's access").await;
    let (status, answer) = status_json(app.simplejwt_login("alice", PASSWORD).await).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["code"], "no_active_account");

    // Enabling again lets alice log in, but the old refresh tokens stay dead.
    app.state
        .accounts
        .set_user_disabled("alice", false, gatehouse::accounts::LastAdmin::MayRemove)
        .await
        .expect("enable alice");
    app.tokens("alice", PASSWORD).await;
    assert_oauth_error(
        refresh_grant(&app, &pw, &refresh).await,
        400,
        "invalid_grant",
        "re-enabled, old refresh",
    )
    .await;
}

async fn deleted_user_loses_userinfo_and_refresh(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let (access, refresh) = (
        token_of(&body, "access_token"),
        token_of(&body, "refresh_token"),
    );
    app.state
        .accounts
        .delete_user("alice", gatehouse::accounts::LastAdmin::MayRemove)
        .await
        .expect("delete alice");
    assert_invalid_token(app.userinfo(&access).await, "deleted user").await;
    assert_oauth_error(
        refresh_grant(&app, &pw, &refresh).await,
        400,
        "invalid_grant",
        "deleted user, refresh grant",
    )
    .await;
    assert_inactive(&app, &cc, &access, "deleted user's access").await;
    // A new alice is another person: the old tokens do not come back to life.
    app.add_user("alice", PASSWORD, false).await;
    assert_invalid_token(app.userinfo(&access).await, "old token, new alice").await;
}
