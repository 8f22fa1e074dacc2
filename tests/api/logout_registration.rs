//! A client's logout endpoints registered wherever clients are: `gatehouse client add` and
//! `client update` take `--backchannel-logout-uri`, `--backchannel-logout-session-required`
//! and `--frontchannel-logout-uri` under the admin API's rule (https unless the issuer is
//! http on loopback; no fragment, no credentials), `client show` and `client list` show them,
//! and `CLIENTS_FILE` declares them (a declared client's endpoints change only there).

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{run_cli_env, spawn_app, spawn_app_with, status_json, Backend, TestApp};

both_backends!(
    client_add_and_update_register_logout_uris_that_show_and_the_admin_api_sees,
    client_add_refuses_an_unsafe_logout_uri_and_creates_nothing,
    a_clients_file_declares_logout_uris_and_only_the_file_changes_them,
);

/// An issuer that is not plain http on loopback: logout URIs must be https.
const HTTPS_ISSUER: &str = "https://id.example";

async fn cli(app: &TestApp, args: &[&str]) -> crate::helpers::CliOutput {
    run_cli_env(
        &app.storage,
        args,
        "",
        &[("GATEHOUSE_ISSUER", HTTPS_ISSUER)],
    )
    .await
}

async fn logout_of(app: &TestApp, token: &str, client: &str) -> (StatusCode, serde_json::Value) {
    let resp = app
        .http
        .get(app.url(&format!("/admin/clients/{client}/logout")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    status_json(resp).await
}

/// The `field: value` lines of `client show`.
fn field<'a>(shown: &'a str, name: &str) -> &'a str {
    shown
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("{name} in {shown}"))
}

async fn client_add_and_update_register_logout_uris_that_show_and_the_admin_api_sees(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await;
    let out = cli(
        &app,
        &[
            "client",
            "add",
            "shop",
            "--public",
            "--redirect-uri",
            "https://shop.example/cb",
            "--backchannel-logout-uri",
            "https://shop.example/bc?tenant=1",
            "--backchannel-logout-session-required",
            "--frontchannel-logout-uri",
            "https://shop.example/fc",
        ],
    )
    .await;
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);

    let (status, e) = logout_of(&app, &token, "shop").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        e["backchannel_logout_uri"],
        "https://shop.example/bc?tenant=1"
    );
    assert_eq!(e["backchannel_logout_session_required"], true);
    assert_eq!(e["frontchannel_logout_uri"], "https://shop.example/fc");
    assert_eq!(e["frontchannel_logout_session_required"], false);

    let show = cli(&app, &["client", "show", "shop"]).await;
    assert!(show.status.success(), "{}", show.stderr);
    assert_eq!(
        field(&show.stdout, "backchannel_logout_uri"),
        "https://shop.example/bc?tenant=1"
    );
    assert_eq!(
        field(&show.stdout, "backchannel_logout_session_required"),
        "true"
    );
    assert_eq!(
        field(&show.stdout, "frontchannel_logout_uri"),
        "https://shop.example/fc"
    );
    assert_eq!(field(&show.stdout, "kind"), "public");
    let json = cli(&app, &["client", "show", "shop", "--json"]).await;
    let shown: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(shown["backchannel_logout_uri"], e["backchannel_logout_uri"]);
    assert_eq!(
        shown["frontchannel_logout_uri"],
        e["frontchannel_logout_uri"]
    );

    let list = cli(&app, &["client", "list"]).await;
    let row = |id: &str| -> Vec<String> {
        let line = list
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{id}\t")))
            .unwrap_or_else(|| panic!("{id} in {}", list.stdout));
        line.split('\t').map(str::to_string).collect()
    };
    assert_eq!(
        row("shop").last().unwrap(),
        "https://shop.example/bc?tenant=1"
    );
    assert_eq!(row("adm").last().unwrap(), "-", "a client without one");

    // `client update`: an absent flag keeps its value, `=false` clears, "" removes a URI.
    let out = cli(
        &app,
        &[
            "client",
            "update",
            "shop",
            "--backchannel-logout-session-required=false",
            "--frontchannel-logout-uri",
            "",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("back-channel https://shop.example/bc?tenant=1;"),
        "{}",
        out.stdout
    );
    let (_, e) = logout_of(&app, &token, "shop").await;
    assert_eq!(
        e["backchannel_logout_uri"],
        "https://shop.example/bc?tenant=1"
    );
    assert_eq!(e["backchannel_logout_session_required"], false);
    assert_eq!(e["frontchannel_logout_uri"], serde_json::Value::Null);

    // The update follows the rule too, and a refused one changes nothing.
    for bad in [
        "http://shop.example/bc",
        "https://shop.example/bc#top",
        "https://user:pw@shop.example/bc",
    ] {
        let out = cli(
            &app,
            &["client", "update", "shop", "--backchannel-logout-uri", bad],
        )
        .await;
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", out.stdout);
        assert!(
            out.stderr.contains("backchannel_logout_uri: must"),
            "{bad}: {}",
            out.stderr
        );
    }
    let (_, after) = logout_of(&app, &token, "shop").await;
    assert_eq!(after, e);

    // A session-required flag without its URI is refused, not dropped unseen: by `client
    // update` (shop has no front-channel URI any more), `client add` and the admin API.
    let out = cli(
        &app,
        &[
            "client",
            "update",
            "shop",
            "--frontchannel-logout-session-required",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("frontchannel_logout_session_required needs frontchannel_logout_uri"),
        "{}",
        out.stderr
    );
    let out = cli(
        &app,
        &[
            "client",
            "add",
            "flagged",
            "--public",
            "--redirect-uri",
            "https://flagged.example/cb",
            "--backchannel-logout-session-required",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("backchannel_logout_session_required needs backchannel_logout_uri"),
        "{}",
        out.stderr
    );
    let out = cli(&app, &["client", "show", "flagged"]).await;
    assert!(
        !out.status.success(),
        "a refused add creates nothing: {}",
        out.stdout
    );
    let resp = app
        .http
        .put(app.url("/admin/clients/shop/logout"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "backchannel_logout_uri": "https://shop.example/bc?tenant=1",
            "frontchannel_logout_session_required": true,
        }))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, after) = logout_of(&app, &token, "shop").await;
    assert_eq!(after, e, "nothing changed");
    // Removing a URI clears its flag: no flag is left without its URI.
    let out = cli(
        &app,
        &[
            "client",
            "update",
            "shop",
            "--backchannel-logout-session-required",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    let out = cli(
        &app,
        &["client", "update", "shop", "--backchannel-logout-uri", ""],
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    let (_, cleared) = logout_of(&app, &token, "shop").await;
    assert_eq!(cleared["backchannel_logout_uri"], serde_json::Value::Null);
    assert_eq!(cleared["backchannel_logout_session_required"], false);
    let out = cli(
        &app,
        &[
            "client",
            "update",
            "nobody",
            "--backchannel-logout-uri",
            "https://x.example/",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "an unknown client: {}",
        out.stdout
    );
}

async fn client_add_refuses_an_unsafe_logout_uri_and_creates_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let cases = [
        (
            "--backchannel-logout-uri",
            "http://rp.example/bc",
            "must be https",
        ),
        (
            "--backchannel-logout-uri",
            "ftp://rp.example/bc",
            "must be https",
        ),
        (
            "--backchannel-logout-uri",
            "/relative",
            "not an absolute URL",
        ),
        (
            "--frontchannel-logout-uri",
            "https://rp.example/fc#x",
            "fragment",
        ),
        (
            "--frontchannel-logout-uri",
            "https://u:p@rp.example/fc",
            "credentials",
        ),
    ];
    for (flag, uri, why) in cases {
        let args = [
            "client",
            "add",
            "rp",
            "--public",
            "--redirect-uri",
            "https://rp.example/cb",
            flag,
            uri,
        ];
        let out = cli(&app, &args).await;
        assert_eq!(out.status.code(), Some(1), "{uri}: {}", out.stdout);
        assert!(out.stderr.contains(why), "{uri}: {}", out.stderr);
        let show = cli(&app, &["client", "show", "rp"]).await;
        assert!(!show.status.success(), "{uri}: the client was not created");
    }
    // Plain http is for development: accepted while the issuer is http on loopback.
    let local = run_cli_env(
        &app.storage,
        &[
            "client",
            "add",
            "rp",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1:9000/cb",
            "--backchannel-logout-uri",
            "http://127.0.0.1:9000/bc",
        ],
        "",
        &[("GATEHOUSE_ISSUER", "http://127.0.0.1:8080")],
    )
    .await;
    assert!(local.status.success(), "{}", local.stderr);
    let e = app.state.sso.logout_endpoints("rp").await.unwrap();
    assert_eq!(
        e.backchannel_logout_uri.as_deref(),
        Some("http://127.0.0.1:9000/bc")
    );
}

const DECLARED: &str = r#"
[[client]]
id = "shop"
kind = "public"
redirect_uris = ["https://shop.example/cb"]
backchannel_logout_uri = "https://shop.example/bc"
backchannel_logout_session_required = true
frontchannel_logout_uri = "https://shop.example/fc"

[[client]]
id = "plain"
kind = "public"
redirect_uris = ["https://plain.example/cb"]
"#;

async fn a_clients_file_declares_logout_uris_and_only_the_file_changes_them(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clients.toml");
    std::fs::write(&file, DECLARED).unwrap();
    let path = file.display().to_string();
    let Some(app) = spawn_app_with(backend, |s| {
        s.clients_file = Some(file.display().to_string());
        s.issuer = Some(HTTPS_ISSUER.into());
    })
    .await
    else {
        return;
    };
    let token = app.admin_token().await;
    let (status, e) = logout_of(&app, &token, "shop").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(e["backchannel_logout_uri"], "https://shop.example/bc");
    assert_eq!(e["backchannel_logout_session_required"], true);
    assert_eq!(e["frontchannel_logout_uri"], "https://shop.example/fc");
    let (_, plain) = logout_of(&app, &token, "plain").await;
    assert_eq!(plain["backchannel_logout_uri"], serde_json::Value::Null);

    // A declared client's endpoints change only in the file.
    let resp = app
        .http
        .put(app.url("/admin/clients/shop/logout"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"backchannel_logout_uri": "https://evil.example/bc"}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("declared in the clients file"),
        "{body}"
    );
    let out = cli(
        &app,
        &[
            "client",
            "update",
            "shop",
            "--backchannel-logout-uri",
            "https://evil.example/bc",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", out.stdout);
    assert!(
        out.stderr.contains("declared in the clients file"),
        "{}",
        out.stderr
    );
    let (_, unchanged) = logout_of(&app, &token, "shop").await;
    assert_eq!(unchanged, e);

    // The file changes them: a new URI, and an entry without them removes them.
    let changed = DECLARED
        .replace("https://shop.example/bc", "https://shop.example/logout")
        .replace(
            "frontchannel_logout_uri = \"https://shop.example/fc\"\n",
            "",
        );
    std::fs::write(&file, &changed).unwrap();
    let dry = cli(&app, &["clients", "apply", &path, "--dry-run"]).await;
    assert!(dry.status.success(), "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains("update shop: backchannel_logout_uri, frontchannel_logout_uri"),
        "{}",
        dry.stdout
    );
    let (_, still) = logout_of(&app, &token, "shop").await;
    assert_eq!(still, e, "a dry run changes nothing");
    let applied = cli(&app, &["clients", "apply", &path]).await;
    assert!(applied.status.success(), "{}", applied.stderr);
    let (_, now) = logout_of(&app, &token, "shop").await;
    assert_eq!(now["backchannel_logout_uri"], "https://shop.example/logout");
    assert_eq!(now["frontchannel_logout_uri"], serde_json::Value::Null);
    let again = cli(&app, &["clients", "apply", &path]).await;
    assert!(
        again.stdout.contains("unchanged: shop, plain"),
        "{}",
        again.stdout
    );

    // A URI that breaks the rule stops the apply, naming the line, and changes nothing.
    let bad = changed.replace("https://shop.example/logout", "http://shop.example/logout");
    std::fs::write(&file, bad).unwrap();
    let refused = cli(&app, &["clients", "apply", &path]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", refused.stdout);
    assert!(
        refused.stderr.contains(&format!(
            "{path}:6: client shop: backchannel_logout_uri: must be https"
        )),
        "{}",
        refused.stderr
    );
    let (_, kept) = logout_of(&app, &token, "shop").await;
    assert_eq!(kept, now);
}
