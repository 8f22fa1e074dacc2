//! Operator comforts: `gatehouse check`, shell completions, dates in `keys list`, results on
//! stdout with log lines kept off a terminal unless `-v` asks, progress for 4096-bit keys on
//! a terminal, and the one start-up line.

use std::path::Path;

use crate::both_backends;
use crate::helpers::{
    listed_time, run_cli, run_cli_env, skip, spawn_app, Backend, CliOutput, ServerProcess, Storage,
};

both_backends!(
    check_passes_a_served_setup_and_changes_nothing,
    check_says_what_is_wrong_and_exits_one,
    keys_list_shows_dates,
    a_command_at_a_terminal_prints_results_and_logs_only_when_asked,
    a_4096_bit_key_shows_progress_at_a_terminal_only,
    the_start_up_line_names_issuer_database_kid_and_address,
    a_large_import_shows_a_progress_bar_at_a_terminal_only,
);

fn lines_with<'a>(out: &'a str, start: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.starts_with(start)).collect()
}

async fn check_passes_a_served_setup_and_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("root", "root password", true).await;
    let out = app.cli(&["check"], "").await;
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    for topic in [
        "settings",
        "database",
        "master key",
        "signing keys",
        "users",
    ] {
        assert!(
            out.stdout.contains(&format!("ok       {topic}: ")),
            "{topic}: {}",
            out.stdout
        );
    }
    assert!(
        lines_with(&out.stdout, "PROBLEM").is_empty(),
        "{}",
        out.stdout
    );
    let kid = app
        .state
        .keys
        .store
        .snapshot()
        .signer(gatehouse::keys::Alg::Rs256)
        .unwrap()
        .kid
        .clone();
    assert!(
        out.stdout.contains(&format!("current {kid}")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("all 3 private keys open"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with("ready to serve (0 warnings)\n"),
        "{}",
        out.stdout
    );

    // A path where nothing exists yet: said, not created.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh").join("g.db");
    let key = dir.path().join("keys").join("master.key");
    let out = crate::helpers::run_cli_env(
        &app.storage,
        &["check"],
        "",
        &[
            (
                "GATEHOUSE_DATABASE_URL",
                &format!("sqlite://{}", db.display()),
            ),
            ("GATEHOUSE_MASTER_KEY_FILE", &key.display().to_string()),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains("does not exist yet"), "{}", out.stdout);
    assert!(!db.exists() && !db.parent().unwrap().exists() && !key.exists());
}

async fn check_says_what_is_wrong_and_exits_one(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let problem = |out: &CliOutput, topic: &str, words: &str| {
        assert_eq!(out.status.code(), Some(1), "{topic}: {}", out.stdout);
        let found = lines_with(&out.stdout, &format!("PROBLEM  {topic}: "));
        assert!(
            found.iter().any(|l| l.contains(words)),
            "{topic}: expected {words:?} in {}",
            out.stdout
        );
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    };
    let other_key = "c2VjcmV0IG1hc3RlciBrZXkgb2YgMzIgYnl0ZXMhISE=";
    let out = run_cli_env(
        &app.storage,
        &["check"],
        "",
        &[("GATEHOUSE_MASTER_KEY", other_key)],
    )
    .await;
    problem(
        &out,
        "master key",
        "is not the one this database was sealed with",
    );
    assert!(!out.stdout.contains(other_key));

    let out = run_cli_env(
        &app.storage,
        &["check"],
        "",
        &[("GATEHOUSE_KEY_SIZE", "1000")],
    )
    .await;
    problem(&out, "settings", "key_size");

    let out = run_cli_env(
        &app.storage,
        &["check"],
        "",
        &[
            (
                "GATEHOUSE_DATABASE_URL",
                "postgres://gatehouse:db-secret@127.0.0.1:1/none",
            ),
            ("GATEHOUSE_DB_TIMEOUT", "1s"),
        ],
    )
    .await;
    problem(&out, "database", "postgres://gatehouse@127.0.0.1:1/none");
    assert!(!out.stdout.contains("db-secret") && !out.stderr.contains("db-secret"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = app.storage.master_key_file();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = run_cli(&app.storage, &["check"], "").await;
        problem(&out, "master key", "chmod 600");
    }
}

async fn keys_list_shows_dates(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let out = run_cli(&app.storage, &["keys", "list"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    let stored = app.stored_keys().await;
    for key in &stored {
        let row = out
            .stdout
            .lines()
            .find(|l| l.starts_with(&key.kid))
            .unwrap_or_else(|| panic!("{} not listed: {}", key.kid, out.stdout));
        let cols: Vec<&str> = row.split('\t').collect();
        assert!(cols[3].ends_with('Z') && cols[3].contains('T'), "{row}");
        assert_eq!(listed_time(cols[3]), Some(key.created_at), "{row}");
        assert_eq!(listed_time(cols[4]), key.activated_at, "{row}");
        assert!(cols[3].parse::<i64>().is_err(), "Unix seconds: {row}");
    }
}

/// Runs `gatehouse ARGS` in a pseudo-terminal (util-linux `script`), as a person would;
/// `None` when `script` is missing. Returns everything the terminal showed.
async fn at_a_terminal(storage: &Storage, args: &[&str], env: &[(&str, &str)]) -> Option<String> {
    if !Path::new("/usr/bin/script").exists() {
        skip("util-linux script (a pseudo-terminal)");
        return None;
    }
    let command = std::iter::once(env!("CARGO_BIN_EXE_gatehouse"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let out = tokio::process::Command::new("/usr/bin/script")
        .args(["-qec", &command, "/dev/null"])
        .envs(storage.env())
        .env_remove("GATEHOUSE_LOG")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("script runs");
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?}: {shown}");
    Some(shown)
}

async fn a_command_at_a_terminal_prints_results_and_logs_only_when_asked(backend: Backend) {
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    // A first `migrate` logs that it applied migrations: at a terminal, only with -v.
    let Some(shown) = at_a_terminal(&storage, &["migrate"], &[]).await else {
        return;
    };
    assert_eq!(shown.trim(), "migrations are up to date", "{shown:?}");
    let Some(other) = Storage::new(backend) else {
        return;
    };
    let shown = at_a_terminal(&other, &["-v", "migrate"], &[])
        .await
        .unwrap();
    assert!(shown.contains("database migrations applied"), "{shown}");
    assert!(shown.contains("migrations are up to date"), "{shown}");

    // Off a terminal: the result alone on stdout.
    let out = run_cli(&storage, &["user", "list"], "").await;
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        out.stdout
    );
    let out = run_cli(&storage, &["migrate"], "").await;
    assert_eq!(out.stdout, "migrations are up to date\n");
}

async fn a_4096_bit_key_shows_progress_at_a_terminal_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let env = [("GATEHOUSE_KEY_SIZE", "4096")];
    let Some(shown) = at_a_terminal(&app.storage, &["keys", "rotate"], &env).await else {
        return;
    };
    assert!(shown.contains("generating a 4096-bit RSA key"), "{shown}");
    assert!(shown.contains("\"rotated\": true"), "{shown}");
    let keys = app.stored_keys().await;
    let next = keys
        .iter()
        .find(|k| k.state == "standby")
        .expect("a new standby key");
    let out = run_cli_env(&app.storage, &["keys", "list"], "", &env).await;
    assert!(out.status.success(), "{}", out.stderr);
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with(&next.kid))
        .unwrap();
    assert_eq!(row.split('\t').nth(2), Some("4096"), "{row}");
    assert!(
        !out.stderr.contains("generating"),
        "no spinner in a pipe: {}",
        out.stderr
    );
}

async fn the_start_up_line_names_issuer_database_kid_and_address(backend: Backend) {
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    // A database URL with a password (trust authentication ignores it): never shown.
    let url = match &storage.pg {
        Some(pg) => pg.url.replacen(
            "postgres://postgres@",
            "postgres://postgres:db-secret-pw@",
            1,
        ),
        None => storage.database_url.clone(),
    };
    let env = [("GATEHOUSE_DATABASE_URL", url.as_str())];
    let mut server =
        ServerProcess::spawn_with_env(&storage, "https://id.example.test", "startup", &env);
    let http = reqwest::Client::new();
    assert!(server.ready(&http, 60).await, "{}", server.log_text());
    let log = server.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("gatehouse is serving"))
        .expect("the start-up line");
    let port = server.address.rsplit(':').next().unwrap().to_string();
    assert!(line.contains("issuer=https://id.example.test"), "{line}");
    assert!(line.contains(&format!("listen=127.0.0.1:{port}")), "{line}");
    let current = crate::helpers::cli_keys_list(&storage)
        .await
        .into_iter()
        .find(|k| k.state == "current")
        .expect("a current key");
    assert!(line.contains(&format!("kid={}", current.kid)), "{line}");
    let shown_db = match &storage.pg {
        Some(pg) => format!("database=postgres://postgres@127.0.0.1:5432/{}", pg.name),
        None => format!("database={}", storage.database_url),
    };
    assert!(line.contains(&shown_db), "{line}");
    assert!(!log.contains("db-secret-pw"), "{log}");
    assert_eq!(log.matches("gatehouse is serving").count(), 1);
}

#[tokio::test]
async fn completions_are_printed_for_each_shell_whatever_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["completions", shell])
            // Broken settings do not matter to a completion script.
            .env("GATEHOUSE_ACCESS_TTL", "0s")
            .env("GATEHOUSE_DATABASE_URL", "nowhere://")
            .current_dir(dir.path())
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["gatehouse", "import", "check", "rotate"] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing created"
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["completions", "tcsh"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown shell");
}

async fn a_large_import_shows_a_progress_bar_at_a_terminal_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let records: Vec<serde_json::Value> = (1..=1500)
        .map(|pk| {
            serde_json::json!({"model": "auth.user", "pk": pk, "fields": {
                "username": format!("user{pk}"), "password": "!unusable", "is_active": true}})
        })
        .collect();
    let file = app.storage.dir.path().join("big.json");
    std::fs::write(&file, serde_json::to_vec(&records).unwrap()).unwrap();
    let args = ["user", "import", file.to_str().unwrap()];
    let Some(shown) = at_a_terminal(&app.storage, &args, &[]).await else {
        return;
    };
    assert!(shown.contains("importing users ["), "{shown}");
    assert!(shown.contains("imported 1500 users"), "{shown}");
    // Off a terminal: the summary alone.
    let out = run_cli(&app.storage, &args, "").await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("imported 0 users, 1500 already imported"),
        "{}",
        out.stdout
    );
}
