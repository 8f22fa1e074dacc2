//! Clients declared in `CLIENTS_FILE` are managed: the admin API, the console and the
//! one-client CLI commands refuse to change them, and say where they are declared. (The file
//! itself, applied at start and by `gatehouse clients apply`: tests/system/clients_file.rs.)

use reqwest::StatusCode;

use gatehouse::accounts::clients_file;

use crate::both_backends;
use crate::console::{page, post, signed_in};
use crate::helpers::{hidden, spawn_app_with, status_json, Backend, ADMIN_PASSWORD};

both_backends!(
    the_admin_api_the_console_and_the_cli_refuse_to_change_a_managed_client,
    applies_at_the_same_moment_converge,
);

const DECLARED: &str = r#"
[[client]]
id = "billing"
kind = "confidential"
grants = ["client_credentials"]
scopes = ["read"]
# sha256("billing secret")
secret_sha256 = "SECRET_DIGEST"
"#;

const REFUSAL: &str = "declared in the clients file";

async fn the_admin_api_the_console_and_the_cli_refuse_to_change_a_managed_client(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clients.toml");
    let digest = gatehouse::digest::digest_hex("billing secret");
    std::fs::write(&file, DECLARED.replace("SECRET_DIGEST", &digest)).unwrap();
    let Some(app) = spawn_app_with(backend, |s| {
        s.clients_file = Some(file.display().to_string())
    })
    .await
    else {
        return;
    };
    let token = app.admin_token().await;
    let admin = |method: reqwest::Method, path: &str| {
        app.http.request(method, app.url(path)).bearer_auth(&token)
    };

    let (status, shown) = status_json(
        admin(reqwest::Method::GET, "/admin/clients/billing")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["managed"], true, "{shown}");
    assert_eq!(shown["scopes"], serde_json::json!(["read"]));
    let (_, listed) = status_json(
        admin(reqwest::Method::GET, "/admin/clients")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let adm = listed["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == "adm")
        .expect("adm is listed");
    assert_eq!(adm["managed"], false, "a client registered by hand");

    for (method, path) in [
        (reqwest::Method::POST, "/admin/clients/billing/disable"),
        (reqwest::Method::POST, "/admin/clients/billing/enable"),
        (
            reqwest::Method::POST,
            "/admin/clients/billing/rotate-secret",
        ),
        (reqwest::Method::DELETE, "/admin/clients/billing"),
    ] {
        let (status, body) = status_json(admin(method.clone(), path).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{method} {path}: {body}");
        assert_eq!(body["error"], "conflict");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(REFUSAL), "{description}");
    }

    let b = signed_in(&app, "root", ADMIN_PASSWORD, "/console/keys").await;
    let (status, html) = page(&b, &app, "/console/clients").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("managed by the clients file"), "{html}");
    let csrf = hidden(&html, "csrf");
    for action in ["disable", "delete"] {
        let path = format!("/console/clients/billing/{action}");
        let (status, html) = post(&b, &app, &path, &[("csrf", &csrf)]).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}");
        assert!(html.contains(REFUSAL), "{html}");
    }

    for verb in ["disable", "enable", "delete", "rotate-secret"] {
        let out = app.cli(&["client", verb, "billing"], "").await;
        assert_eq!(out.status.code(), Some(1), "client {verb}: {}", out.stdout);
        assert!(out.stderr.contains(REFUSAL), "{}", out.stderr);
    }

    let billing = app.state.accounts.find_client("billing").await.unwrap();
    assert!(!billing.disabled && billing.managed);
    assert_eq!(billing.secret_hash.as_deref(), Some(digest.as_str()));
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("billing", Some("billing secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the declared secret works");
}

/// Instances starting together on one database apply the same file at the same moment:
/// each apply plans against what the ones before it committed, so none fails on a client
/// another has just created, and each client is created once.
async fn applies_at_the_same_moment_converge(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |_| {}).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clients.toml");
    // Enough clients that the applies' transactions overlap.
    let many: String = (0..40)
        .map(|i| format!("[[client]]\nid = \"app{i}\"\nkind = \"public\"\nredirect_uris = [\"https://app{i}.example/cb\"]\n"))
        .collect();
    std::fs::write(&file, many).unwrap();
    let no_env = |_: &str| None;
    let declared = clients_file::read(
        &file,
        &no_env,
        0,
        gatehouse::db::alg::AlgSet::of(&[gatehouse::keys::Alg::Rs256]),
        &app.settings.issuer,
    )
    .unwrap();
    let applies = (0..8).map(|_| {
        let (accounts, declared) = (app.state.accounts.clone(), declared.clone());
        tokio::spawn(async move { accounts.apply_clients_file(declared, false).await })
    });
    let mut created = 0;
    for apply in applies.collect::<Vec<_>>() {
        let plan = apply.await.unwrap().expect("every apply succeeds");
        created += plan.changes.len();
    }
    assert_eq!(created, 40, "each client is created by exactly one apply");
}
