//! The last enabled admin, and the sign-in window of IPv6 clients.

use super::*;

both_backends!(
    the_last_enabled_admin_cannot_be_disabled_or_deleted_through_the_admin_api,
    ipv6_clients_share_the_address_window_of_their_64,
);

async fn the_last_enabled_admin_cannot_be_disabled_or_deleted_through_the_admin_api(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await; // root is the only admin
    let call = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, app.url(path))
            .bearer_auth(&token)
            .send()
    };
    for (method, path) in [
        (reqwest::Method::POST, "/admin/users/root/disable"),
        (reqwest::Method::DELETE, "/admin/users/root"),
    ] {
        let (status, body) = status_json(call(method, path).await.expect("request")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
        assert_eq!(body["error"], "conflict");
    }
    // With a second enabled admin, one of them may go.
    app.add_user("deputy", "deputy admin password", true).await;
    let resp = call(reqwest::Method::POST, "/admin/users/deputy/disable")
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, _) = status_json(
        call(reqwest::Method::DELETE, "/admin/users/root")
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "deputy is disabled: root is the last"
    );
    // The operator's CLI may still do it (break-glass).
    let out = app.cli(&["user", "disable", "root"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
}

async fn ipv6_clients_share_the_address_window_of_their_64(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |a| {
        a.login_throttle = Some("100/15m,3/15m".into());
        a.trusted_proxies = Some("127.0.0.1".into());
    })
    .await
    else {
        return;
    };
    let from = |addr: &str, user: &str| {
        app.http
            .post(app.url("/api/token/"))
            .header("x-forwarded-for", addr)
            .form(&[("username", user), ("password", "wrong")])
            .send()
    };
    for (i, addr) in ["2001:db8:7:7::1", "2001:db8:7:7:ffff::2", "2001:db8:7:7::3"]
        .iter()
        .enumerate()
    {
        let resp = from(addr, &format!("user{i}")).await.expect("request");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    // A fourth address of the same /64, a fresh username: the /64's window is full.
    let resp = from("2001:db8:7:7::4", "user9").await.expect("request");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another /64 is counted apart.
    let resp = from("2001:db8:7:8::1", "user10").await.expect("request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
