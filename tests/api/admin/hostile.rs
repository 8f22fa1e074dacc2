//! The admin API: hostile bodies and concurrent creates: a clear 4xx, nothing written.

use serde_json::json;

use super::{assert_error, json_of};
use crate::both_backends;
use crate::helpers::{spawn_app, Backend};

both_backends!(
    admin_api_rejects_hostile_bodies_without_writing,
    admin_concurrent_creates_of_one_name_give_one_201_and_409s,
);

async fn admin_api_rejects_hostile_bodies_without_writing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let users_before = json_of(app.admin_get(&admin, "/admin/users").await).await;
    let clients_before = json_of(app.admin_get(&admin, "/admin/clients").await).await;
    let keys_before = json_of(app.admin_get(&admin, "/admin/keys").await).await;
    let json_type = "application/json";

    let cases: Vec<(&str, &str, String, u16)> = vec![
        ("/admin/users", json_type, r#"{"username": "x", "password":"#.into(), 400),
        ("/admin/users", json_type, "[1, 2, 3]".into(), 400),
        ("/admin/users", json_type, "null".into(), 400),
        ("/admin/users", json_type, r#"{"username": "x"}"#.into(), 400),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x", "password": "a long enough password", "role": "god"}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "has space", "password": "a long enough password"}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            json!({ "username": "x".repeat(151), "password": "a long enough password" }).to_string(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x", "password": ""}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x", "password": "a long enough password", "email": "not-an-address"}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x", "password": "a long enough password", "is_admin": "yes"}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x", "password": "a long enough password", "email": "a\u0000@b.example"}"#
                .into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x\u0000y", "password": "a long enough password"}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "root", "password": "another long password"}"#.into(),
            409,
        ),
        (
            "/admin/users",
            "text/plain",
            r#"{"username": "x", "password": "a long enough password"}"#.into(),
            415,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "redirect_uris": ["not a uri"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "redirect_uris": ["/relative/cb"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "redirect_uris": ["https://app.example/cb#frag"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "redirect_uris": ["https://ok.example/cb"], "post_logout_redirect_uris": ["javascript alert(1)"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "grants": ["authorization_code"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "grants": ["implicit"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "grants": ["client_credentials"], "public": true}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "we b", "grants": ["client_credentials"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "grants": ["client_credentials"], "secret": "mine"}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "adm", "grants": ["client_credentials"]}"#.into(),
            409,
        ),
        ("/admin/keys/rotate", json_type, r#"{"urgent": true}"#.into(), 400),
        ("/admin/keys/rotate", json_type, r#"{"emergency": "yes"}"#.into(), 400),
        ("/admin/keys/rotate", json_type, "{".into(), 400),
        (
            "/admin/users",
            json_type,
            format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)),
            400,
        ),
    ];
    for (path, ctype, body, status) in cases {
        let resp = app.admin_post_raw(&admin, path, ctype, body.clone()).await;
        // A name already taken is a conflict; everything else here is a malformed request.
        let error = if status == 409 {
            "conflict"
        } else {
            "invalid_request"
        };
        let err = assert_error(resp, status, error, &format!("{path} {body}")).await;
        if body.contains("long enough") || body.contains("another one") {
            assert!(
                !err.to_string().contains("long enough")
                    && !err.to_string().contains("another one"),
                "a password is echoed: {err}"
            );
        }
    }

    // Bytes that are not UTF-8.
    let resp = app
        .admin_post_raw(
            &admin,
            "/admin/users",
            json_type,
            b"{\"username\": \"\xff\xfe\", \"password\": \"long enough\"}".to_vec(),
        )
        .await;
    assert_error(resp, 400, "invalid_request", "invalid UTF-8").await;
    // Odd names in the path are unknown, not errors.
    for path in [
        format!("/admin/users/{}", "x".repeat(300)),
        "/admin/users/a%2Fb".to_string(),
        "/admin/users/%00".to_string(),
        "/admin/clients/%E2%80%AE".to_string(),
    ] {
        assert_error(app.admin_get(&admin, &path).await, 404, "not_found", &path).await;
    }

    // A 1 MB body is refused before it is read whole.
    let big = format!(
        r#"{{"username": "big", "password": "{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    let resp = app
        .admin_post_raw(&admin, "/admin/users", json_type, big)
        .await;
    assert_error(resp, 413, "invalid_request", "1 MB body").await;
    let big_rotate = format!(
        r#"{{"emergency": true, "pad": "{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    let resp = app
        .admin_post_raw(&admin, "/admin/keys/rotate", json_type, big_rotate)
        .await;
    assert_error(resp, 413, "invalid_request", "1 MB rotate body").await;

    // Nothing above wrote anything.
    assert_eq!(
        json_of(app.admin_get(&admin, "/admin/users").await).await,
        users_before
    );
    assert_eq!(
        json_of(app.admin_get(&admin, "/admin/clients").await).await,
        clients_before
    );
    assert_eq!(
        json_of(app.admin_get(&admin, "/admin/keys").await).await,
        keys_before
    );
    // And the server still answers normally.
    assert_eq!(app.admin_get(&admin, "/admin/keys").await.status(), 200);
}

async fn admin_concurrent_creates_of_one_name_give_one_201_and_409s(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    for (path, body) in [
        (
            "/admin/users",
            json!({ "username": "twin", "password": "twin's password" }),
        ),
        (
            "/admin/clients",
            json!({ "client_id": "twin", "grants": ["client_credentials"] }),
        ),
    ] {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let req = app.http.post(app.url(path)).bearer_auth(&admin).json(&body);
            tasks.spawn(async move { req.send().await.expect("request").status().as_u16() });
        }
        let mut statuses = Vec::new();
        while let Some(status) = tasks.join_next().await {
            statuses.push(status.unwrap());
        }
        statuses.sort();
        assert_eq!(statuses, [201, 409, 409, 409, 409, 409], "{path}");
    }
    let users = json_of(app.admin_get(&admin, "/admin/users").await).await;
    let twins = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["username"] == "twin")
        .count();
    assert_eq!(twins, 1);
    assert_eq!(
        app.simplejwt_login("twin", "twin's password")
            .await
            .status(),
        200
    );
}
