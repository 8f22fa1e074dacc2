//! `gatehouse client`: add with its secret shown once, rotate-secret, list, disable, enable
//! and delete.

use super::*;

both_backends!(
    cli_client_add_json_prints_the_secret_and_rotate_secret_replaces_it,
    cli_client_list_disable_enable_delete,
);

async fn cli_client_add_json_prints_the_secret_and_rotate_secret_replaces_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let out = app
        .cli(
            &[
                "client",
                "add",
                "svc",
                "--grant",
                "client_credentials",
                "--scope",
                "read",
                "--json",
            ],
            "",
        )
        .await;
    ok(&out, "client add --json");
    let printed: Value = serde_json::from_str(out.stdout.trim()).expect("one JSON document");
    let obj = printed.as_object().unwrap();
    assert_eq!(
        obj.keys().map(String::as_str).collect::<Vec<_>>(),
        ["client_id", "client_secret"]
    );
    assert_eq!(printed["client_id"], "svc");
    let secret = printed["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 43, "256 random bits: {secret}");
    assert!(!out.stderr.contains(&secret));
    assert_eq!(client_credentials_status(&app, "svc", &secret).await, 200);

    // Plain output shows the secret once, with a note.
    let out = app
        .cli(
            &["client", "add", "svc2", "--grant", "client_credentials"],
            "",
        )
        .await;
    ok(&out, "client add");
    let secret2 = out
        .stdout
        .lines()
        .find(|l| l.contains("secret"))
        .and_then(|l| l.split_whitespace().last())
        .expect("the secret is printed")
        .to_string();
    assert_eq!(client_credentials_status(&app, "svc2", &secret2).await, 200);

    let out = app
        .cli(&["client", "rotate-secret", "svc", "--json"], "")
        .await;
    ok(&out, "client rotate-secret --json");
    let rotated: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(rotated["client_id"], "svc");
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    assert_eq!(client_credentials_status(&app, "svc", &secret).await, 401);
    assert_eq!(
        client_credentials_status(&app, "svc", &new_secret).await,
        200
    );

    let out = app.cli(&["client", "rotate-secret", "svc"], "").await;
    ok(&out, "client rotate-secret");
    let third = out
        .stdout
        .split_whitespace()
        .last()
        .expect("the secret is printed")
        .to_string();
    assert_eq!(
        client_credentials_status(&app, "svc", &new_secret).await,
        401
    );
    assert_eq!(client_credentials_status(&app, "svc", &third).await, 200);

    // A public client has no secret.
    let out = app
        .cli(
            &[
                "client",
                "add",
                "spa",
                "--public",
                "--redirect-uri",
                "https://spa.example/cb",
                "--json",
            ],
            "",
        )
        .await;
    ok(&out, "client add --public --json");
    let spa: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(spa, json!({ "client_id": "spa", "client_secret": null }));
    let out = app.cli(&["client", "rotate-secret", "spa"], "").await;
    plain_failure(&out, "rotate-secret of a public client", "public");
}

async fn cli_client_list_disable_enable_delete(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let secret = app
        .add_client(&["svc", "--grant", "client_credentials"])
        .await
        .unwrap();
    app.add_client(&["web", "--redirect-uri", "https://web.example/cb"])
        .await
        .unwrap();

    let out = app.cli(&["client", "list"], "").await;
    ok(&out, "client list");
    let line = |id: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{id}\t")))
            .unwrap_or_else(|| panic!("{id} not listed: {}", out.stdout))
            .to_string()
    };
    let svc = line("svc");
    assert!(
        svc.contains("confidential") && svc.contains("enabled"),
        "{svc}"
    );
    assert!(svc.contains("client_credentials"), "{svc}");
    let web = line("web");
    assert!(web.contains("authorization_code") && web.contains("https://web.example/cb"));
    line("simplejwt");
    assert!(!out.stdout.contains(&secret), "a secret is listed");

    ok(&app.cli(&["client", "disable", "svc"], "").await, "disable");
    assert_eq!(client_credentials_status(&app, "svc", &secret).await, 401);
    let out = app.cli(&["client", "list"], "").await;
    assert!(out
        .stdout
        .lines()
        .any(|l| l.starts_with("svc\t") && l.contains("disabled")));
    ok(&app.cli(&["client", "enable", "svc"], "").await, "enable");
    assert_eq!(client_credentials_status(&app, "svc", &secret).await, 200);
    ok(&app.cli(&["client", "delete", "svc"], "").await, "delete");
    assert_eq!(client_credentials_status(&app, "svc", &secret).await, 401);
    let out = app.cli(&["client", "list"], "").await;
    assert!(!out.stdout.lines().any(|l| l.starts_with("svc\t")));
}
