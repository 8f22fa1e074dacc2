//! The admin API: users: create, list, disable, enable, delete.

use serde_json::json;

use super::{assert_error, json_of};
use crate::both_backends;
use crate::helpers::{password_grant, spawn_app, Backend};

both_backends!(admin_creates_lists_disables_enables_and_deletes_users,);

async fn admin_creates_lists_disables_enables_and_deletes_users(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let resp = app
        .admin_post(
            &admin,
            "/admin/users",
            Some(json!({ "username": "carol", "password": "carol's password", "email": "carol@example.com" })),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let carol = json_of(resp).await;
    assert_eq!(carol["username"], "carol");
    assert_eq!(carol["email"], "carol@example.com");
    assert_eq!(carol["is_admin"], false);
    assert_eq!(carol["disabled"], false);
    assert!(carol["sub"]
        .as_str()
        .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()));
    let text = carol.to_string();
    assert!(
        !text.contains("carol's password") && !text.contains("argon2"),
        "{text}"
    );

    let list = json_of(app.admin_get(&admin, "/admin/users").await).await;
    let names: Vec<&str> = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"carol") && names.contains(&"root"),
        "{list}"
    );
    assert!(!list.to_string().contains("argon2"));
    let got = json_of(app.admin_get(&admin, "/admin/users/carol").await).await;
    assert_eq!(got["sub"], carol["sub"]);

    let (_, refresh) = app.tokens("carol", "carol's password").await;
    let resp = app
        .admin_post(&admin, "/admin/users/carol/disable", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["disabled"], true);
    assert_eq!(
        app.simplejwt_login("carol", "carol's password")
            .await
            .status(),
        401
    );
    let refreshed = app
        .post_json("/api/token/refresh/", json!({ "refresh": refresh }))
        .await;
    assert_eq!(refreshed.status(), 401, "a disabled user's refresh token");

    let resp = app
        .admin_post(&admin, "/admin/users/carol/enable", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["disabled"], false);
    let (access, _) = app.tokens("carol", "carol's password").await;
    let refreshed = app
        .post_json("/api/token/refresh/", json!({ "refresh": refresh }))
        .await;
    assert_eq!(
        refreshed.status(),
        401,
        "enabling does not revive old families"
    );

    let resp = app.admin_delete(&admin, "/admin/users/carol").await;
    assert_eq!(resp.status(), 204);
    assert_error(
        app.admin_get(&admin, "/admin/users/carol").await,
        404,
        "not_found",
        "deleted",
    )
    .await;
    assert_error(
        app.admin_delete(&admin, "/admin/users/carol").await,
        404,
        "not_found",
        "again",
    )
    .await;
    assert_eq!(
        app.simplejwt_login("carol", "carol's password")
            .await
            .status(),
        401
    );
    let me = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        401,
        "a deleted user's access token at /userinfo"
    );
    for verb in ["disable", "enable"] {
        let resp = app
            .admin_post(&admin, &format!("/admin/users/nobody/{verb}"), None)
            .await;
        assert_error(resp, 404, "not_found", verb).await;
    }

    // An admin created through the API can administer; once disabled, their token stops.
    let resp = app
        .admin_post(
            &admin,
            "/admin/users",
            Some(json!({ "username": "dave", "password": "dave's password", "is_admin": true })),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(json_of(resp).await["is_admin"], true);
    let secret = app
        .add_client(&["adm-dave", "--grant", "password", "--scope", "admin"])
        .await
        .unwrap();
    let resp = password_grant(
        &app.http,
        &app.address,
        "adm-dave",
        &secret,
        "dave",
        "dave's password",
        "admin",
    )
    .await;
    assert_eq!(resp.status(), 200);
    let dave = json_of(resp).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.admin_get(&dave, "/admin/users").await.status(), 200);
    let resp = app
        .admin_post(&admin, "/admin/users/dave/disable", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_error(
        app.admin_get(&dave, "/admin/users").await,
        401,
        "invalid_token",
        "disabled admin",
    )
    .await;
}
