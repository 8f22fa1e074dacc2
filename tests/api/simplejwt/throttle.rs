//! Failed-login throttling at `/api/token/` (and the password grant, which shares its
//! windows): per username, counted whether or not the user exists, and per client address.

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{spawn_app_with, status_json, Backend};

use super::PASSWORD;

both_backends!(
    repeated_password_failures_are_throttled_on_the_json_endpoints,
    the_address_window_throttles_a_spray_over_many_usernames,
);

/// `/api/token/` and the password grant share the login page's windows: after N failures
/// for a username, even the right password gets 429 with Retry-After until the window ends,
/// and an unknown username is answered exactly like a known one.
async fn repeated_password_failures_are_throttled_on_the_json_endpoints(backend: Backend) {
    let Some(app) =
        spawn_app_with(backend, |a| a.login_throttle = Some("3/15m,50/15m".into())).await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    for user in ["alice", "nobody-here"] {
        let mut answers = Vec::new();
        for _ in 0..3 {
            let resp = app.simplejwt_login(user, "wrong").await;
            answers.push(resp.status());
        }
        assert_eq!(answers, [StatusCode::UNAUTHORIZED; 3], "{user}");
        let resp = app.simplejwt_login(user, PASSWORD).await;
        // The window opened at the first failure and the clock has not moved: all of it.
        assert_eq!(resp.headers()["retry-after"], "900", "{user}");
        let (status, body) = status_json(resp).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{user}: {body}");
        assert_eq!(body["code"], "throttled");
        assert!(
            !body.to_string().contains(user),
            "no hint about the account"
        );
    }
    // The same window holds for the password grant at /token.
    let secret = app
        .add_client(&["pw", "--grant", "password"])
        .await
        .expect("confidential");
    let resp = crate::helpers::password_grant(
        &app.http,
        &app.address,
        "pw",
        &secret,
        "alice",
        PASSWORD,
        "openid",
    )
    .await;
    assert_eq!(resp.headers()["retry-after"], "900");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"gatehouse_login_throttled_total{endpoint="simplejwt"} 2"#));
    assert!(metrics.contains(r#"gatehouse_login_throttled_total{endpoint="password_grant"} 1"#));

    // One second before the window ends, still refused, and told so to the second.
    app.advance(899);
    let resp = app.simplejwt_login("alice", PASSWORD).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // Once it has ended, the right password works again, at both endpoints.
    app.advance(1);
    let (status, body) = status_json(app.simplejwt_login("alice", PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK, "after the window: {body}");
    let resp = crate::helpers::password_grant(
        &app.http,
        &app.address,
        "pw",
        &secret,
        "alice",
        PASSWORD,
        "openid",
    )
    .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "password grant after the window: {body}"
    );
}

async fn the_address_window_throttles_a_spray_over_many_usernames(backend: Backend) {
    let Some(app) =
        spawn_app_with(backend, |a| a.login_throttle = Some("100/15m,4/15m".into())).await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    for i in 0..4 {
        let resp = app.simplejwt_login(&format!("user{i}"), "wrong").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let resp = app.simplejwt_login("alice", PASSWORD).await;
    assert_eq!(resp.headers()["retry-after"], "900");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "throttled", "{body}");
    // The address's window ends 15 minutes after its first failure.
    app.advance(900);
    let (status, body) = status_json(app.simplejwt_login("alice", PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK, "after the window: {body}");
}
