//! The admin API: clients: create, disable, enable, delete, secret rotation.

use serde_json::json;

use super::{assert_error, json_of};
use crate::both_backends;
use crate::helpers::{spawn_app, Backend};

both_backends!(admin_manages_clients_and_rotates_their_secrets,);

async fn admin_manages_clients_and_rotates_their_secrets(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let resp = app
        .admin_post(
            &admin,
            "/admin/clients",
            Some(json!({ "client_id": "svc", "grants": ["client_credentials"], "scopes": ["read", "write"] })),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let created = json_of(resp).await;
    assert_eq!(created["client_id"], "svc");
    assert_eq!(created["public"], false);
    assert_eq!(created["grants"], json!(["client_credentials"]));
    assert!(created.get("secret_hash").is_none());
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    assert!(secret.len() >= 43, "256 random bits");

    let resp = app.client_credentials("svc", &secret).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["scope"], "read write");

    let list = json_of(app.admin_get(&admin, "/admin/clients").await).await;
    let ids: Vec<&str> = list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    for id in ["svc", "adm", "simplejwt"] {
        assert!(ids.contains(&id), "{id} in {list}");
    }
    assert!(!list.to_string().contains(&secret));
    assert!(!list.to_string().contains("secret"), "{list}");
    let got = json_of(app.admin_get(&admin, "/admin/clients/svc").await).await;
    assert_eq!(got["scopes"], json!(["read", "write"]));
    assert!(got.get("client_secret").is_none() && got.get("secret_hash").is_none());

    let resp = app
        .admin_post(&admin, "/admin/clients/svc/rotate-secret", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let rotated = json_of(resp).await;
    assert_eq!(rotated["client_id"], "svc");
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    let old = app.client_credentials("svc", &secret).await;
    assert_eq!(old.status(), 401);
    assert_eq!(json_of(old).await["error"], "invalid_client");
    assert_eq!(
        app.client_credentials("svc", &new_secret).await.status(),
        200
    );

    let resp = app
        .admin_post(&admin, "/admin/clients/svc/disable", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["disabled"], true);
    assert_eq!(
        app.client_credentials("svc", &new_secret).await.status(),
        401
    );
    let resp = app
        .admin_post(&admin, "/admin/clients/svc/enable", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.client_credentials("svc", &new_secret).await.status(),
        200
    );

    // A public client has no secret to show or rotate.
    let resp = app
        .admin_post(
            &admin,
            "/admin/clients",
            Some(json!({ "client_id": "spa", "public": true, "redirect_uris": ["https://spa.example/cb"] })),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let spa = json_of(resp).await;
    assert!(spa["client_secret"].is_null(), "{spa}");
    assert_eq!(spa["redirect_uris"], json!(["https://spa.example/cb"]));
    assert_eq!(
        spa["grants"],
        json!(["authorization_code", "refresh_token"])
    );
    let resp = app
        .admin_post(&admin, "/admin/clients/spa/rotate-secret", None)
        .await;
    assert_error(resp, 400, "invalid_request", "public rotate-secret").await;

    let resp = app
        .admin_post(
            &admin,
            "/admin/clients",
            Some(json!({ "client_id": "svc" , "grants": ["client_credentials"]})),
        )
        .await;
    assert_error(resp, 409, "conflict", "duplicate client").await;
    let resp = app.admin_delete(&admin, "/admin/clients/simplejwt").await;
    assert_error(resp, 400, "invalid_request", "built-in client").await;

    let resp = app.admin_delete(&admin, "/admin/clients/svc").await;
    assert_eq!(resp.status(), 204);
    assert_error(
        app.admin_get(&admin, "/admin/clients/svc").await,
        404,
        "not_found",
        "deleted",
    )
    .await;
    assert_eq!(
        app.client_credentials("svc", &new_secret).await.status(),
        401
    );
    for path in [
        "/admin/clients/ghost/rotate-secret",
        "/admin/clients/ghost/disable",
        "/admin/clients/ghost/enable",
    ] {
        assert_error(
            app.admin_post(&admin, path, None).await,
            404,
            "not_found",
            path,
        )
        .await;
    }
    assert_error(
        app.admin_delete(&admin, "/admin/clients/ghost").await,
        404,
        "not_found",
        "ghost",
    )
    .await;
}
