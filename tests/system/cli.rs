//! The `gatehouse` command line against a running server's database: users, clients, keys,
//! migrations, and plain errors.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    cli_keys_list, run_cli, run_cli_env, spawn_app, Backend, CliOutput, Storage, TestApp,
};

both_backends!(
    cli_user_add_reads_the_password_from_stdin_and_never_prints_it,
    cli_user_disable_ends_refresh_tokens_and_enable_restores_login,
    cli_user_set_password_replaces_the_password_and_ends_refresh_tokens,
    cli_user_delete_removes_the_user_and_their_tokens,
    cli_client_add_json_prints_the_secret_and_rotate_secret_replaces_it,
    cli_client_list_disable_enable_delete,
    cli_keys_list_and_migrate_work_on_a_fresh_and_a_served_database,
    a_database_from_before_the_standby_key_migrates_and_gets_one_at_first_start,
    cli_errors_exit_nonzero_with_a_plain_message,
    cli_lists_are_paged_and_searched_by_prefix,
);

fn ok(out: &CliOutput, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        out.stdout,
        out.stderr
    );
}

/// A failure an operator can read: exit code 1, one `error: ...` message, no panic.
fn plain_failure(out: &CliOutput, what: &str, expected: &str) {
    assert!(!out.status.success(), "{what} succeeded: {}", out.stdout);
    assert_eq!(out.status.code(), Some(1), "{what}: {}", out.stderr);
    assert!(
        out.stderr.contains(expected),
        "{what}: expected {expected:?} in {:?}",
        out.stderr
    );
    assert!(
        out.stderr.trim_start().starts_with("error:"),
        "{what}: {}",
        out.stderr
    );
    for noise in ["panicked", "backtrace", "RUST_BACKTRACE", "Caused by"] {
        assert!(!out.stderr.contains(noise), "{what}: {}", out.stderr);
    }
}

async fn login_status(app: &TestApp, user: &str, password: &str) -> u16 {
    app.simplejwt_login(user, password).await.status().as_u16()
}

async fn refresh_status(app: &TestApp, refresh: &str) -> u16 {
    app.post_json("/api/token/refresh/", json!({ "refresh": refresh }))
        .await
        .status()
        .as_u16()
}

async fn userinfo_status(app: &TestApp, access: &str) -> u16 {
    app.http
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn client_credentials_status(app: &TestApp, id: &str, secret: &str) -> u16 {
    app.http
        .post(app.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn cli_user_add_reads_the_password_from_stdin_and_never_prints_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let password = "correct horse battery staple";
    let out = app
        .cli(
            &[
                "user",
                "add",
                "alice",
                "--email",
                "alice@example.com",
                "--password-stdin",
            ],
            &format!("{password}\n"),
        )
        .await;
    ok(&out, "user add");
    assert!(out.stdout.contains("alice"), "{}", out.stdout);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(password), "the password was printed: {text}");
        assert!(!text.contains("argon2"), "the hash was printed: {text}");
    }
    assert_eq!(login_status(&app, "alice", password).await, 200);
    assert_eq!(login_status(&app, "alice", "correct horse").await, 401);

    // A CRLF line ending is not part of the password; inner spaces are.
    let out = app
        .cli(
            &["user", "add", "winnie", "--admin", "--password-stdin"],
            "pass with spaces\r\n",
        )
        .await;
    ok(&out, "user add --admin");
    assert!(out.stdout.contains("admin"), "{}", out.stdout);
    assert_eq!(login_status(&app, "winnie", "pass with spaces").await, 200);

    let out = app.cli(&["user", "list"], "").await;
    ok(&out, "user list");
    let alice = out
        .stdout
        .lines()
        .find(|l| l.starts_with("alice\t"))
        .expect("alice listed");
    assert!(alice.contains("alice@example.com"), "{alice}");
    assert!(!alice.contains("admin"), "{alice}");
    let winnie = out
        .stdout
        .lines()
        .find(|l| l.starts_with("winnie\t"))
        .expect("winnie listed");
    assert!(winnie.ends_with("admin"), "{winnie}");
    assert!(!out.stdout.contains("argon2") && !out.stdout.contains(password));

    // An empty password is refused, and nothing is created.
    let out = app
        .cli(&["user", "add", "empty", "--password-stdin"], "\n")
        .await;
    plain_failure(&out, "empty password", "password may not be empty");
    let out = app.cli(&["user", "list"], "").await;
    assert!(!out.stdout.contains("empty\t"), "{}", out.stdout);
}

async fn cli_user_disable_ends_refresh_tokens_and_enable_restores_login(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "alice's password", false).await;
    app.add_user("bob", "bob's password", false).await;
    let (access, refresh) = app.tokens("alice", "alice's password").await;
    let (_, bob_refresh) = app.tokens("bob", "bob's password").await;
    // An OAuth client's refresh token too.
    let secret = app
        .add_client(&[
            "app",
            "--grant",
            "password",
            "refresh_token",
            "--scope",
            "openid",
        ])
        .await
        .unwrap();
    let resp = crate::helpers::password_grant(
        &app.http,
        &app.address,
        "app",
        &secret,
        "alice",
        "alice's password",
        "openid",
    )
    .await;
    assert_eq!(resp.status(), 200);
    let oauth_refresh = resp.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();

    let out = app.cli(&["user", "disable", "alice"], "").await;
    ok(&out, "user disable");
    assert_eq!(refresh_status(&app, &refresh).await, 401);
    let verify = app
        .post_json("/api/token/verify/", json!({ "token": refresh }))
        .await;
    assert_eq!(verify.status(), 401);
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("app", Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &oauth_refresh),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(userinfo_status(&app, &access).await, 401);
    assert_eq!(login_status(&app, "alice", "alice's password").await, 401);
    let out = app.cli(&["user", "list"], "").await;
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("alice\t"))
        .unwrap();
    assert!(line.contains("disabled"), "{line}");
    // Bob is untouched.
    assert_eq!(refresh_status(&app, &bob_refresh).await, 200);

    let out = app.cli(&["user", "enable", "alice"], "").await;
    ok(&out, "user enable");
    assert_eq!(login_status(&app, "alice", "alice's password").await, 200);
    assert_eq!(
        refresh_status(&app, &refresh).await,
        401,
        "enabling does not revive revoked families"
    );
}

async fn cli_user_set_password_replaces_the_password_and_ends_refresh_tokens(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "old password", false).await;
    let (_, refresh) = app.tokens("alice", "old password").await;
    let out = app
        .cli(
            &["user", "set-password", "alice", "--password-stdin"],
            "brand new password\n",
        )
        .await;
    ok(&out, "user set-password");
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("brand new password"), "{text}");
    }
    assert_eq!(login_status(&app, "alice", "old password").await, 401);
    assert_eq!(login_status(&app, "alice", "brand new password").await, 200);
    assert_eq!(refresh_status(&app, &refresh).await, 401);

    let out = app
        .cli(&["user", "set-password", "alice", "--password-stdin"], "\n")
        .await;
    plain_failure(&out, "empty new password", "password may not be empty");
    assert_eq!(login_status(&app, "alice", "brand new password").await, 200);
}

async fn cli_user_delete_removes_the_user_and_their_tokens(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "alice's password", false).await;
    let (access, refresh) = app.tokens("alice", "alice's password").await;
    let out = app.cli(&["user", "delete", "alice"], "").await;
    ok(&out, "user delete");
    let out = app.cli(&["user", "list"], "").await;
    assert!(!out.stdout.contains("alice"), "{}", out.stdout);
    assert_eq!(login_status(&app, "alice", "alice's password").await, 401);
    assert_eq!(userinfo_status(&app, &access).await, 401);
    assert_eq!(refresh_status(&app, &refresh).await, 401);
    let out = app.cli(&["user", "delete", "alice"], "").await;
    plain_failure(&out, "delete twice", "not found");
    // The name is free again, for a new user with a new sub.
    app.add_user("alice", "another password", false).await;
    assert_eq!(login_status(&app, "alice", "another password").await, 200);
    assert_eq!(userinfo_status(&app, &access).await, 401);
}

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

async fn cli_keys_list_and_migrate_work_on_a_fresh_and_a_served_database(backend: Backend) {
    // A database no server has touched yet.
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    let out = run_cli(&storage, &["migrate"], "").await;
    ok(&out, "migrate on a fresh database");
    let out = run_cli(&storage, &["migrate"], "").await;
    ok(&out, "migrate again");
    assert!(out.stdout.contains("up to date"), "{}", out.stdout);
    let rows = cli_keys_list(&storage).await;
    let mut states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
    states.sort();
    assert_eq!(states, ["current", "next", "standby"], "{rows:?}");
    assert!(storage.master_key_file().exists());
    drop(storage);

    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let out = app.cli(&["migrate"], "").await;
    ok(&out, "migrate while serving");
    let out = app.cli(&["keys", "list"], "").await;
    ok(&out, "keys list");
    let header = out.stdout.lines().next().unwrap();
    assert_eq!(
        header.split('\t').collect::<Vec<_>>(),
        [
            "KID",
            "STATE",
            "BITS",
            "PUBLISHED",
            "ACTIVATED",
            "RETIRED",
            "REMOVE_AFTER",
            "ALG"
        ]
    );
    let rows = cli_keys_list(&app.storage).await;
    assert_eq!(rows.len(), 3);
    let jwks = app.jwks().await;
    for row in &rows {
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == row.kid.as_str()),
            "{} is published",
            row.kid
        );
    }
    // keys list only reads: listing twice changes nothing.
    assert_eq!(cli_keys_list(&app.storage).await, rows);
    assert!(!out.stdout.contains("PRIVATE") && !out.stdout.contains("BEGIN"));
}

async fn cli_errors_exit_nonzero_with_a_plain_message(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "alice's password", false).await;

    let out = app
        .cli(
            &["user", "add", "alice", "--password-stdin"],
            "another long one\n",
        )
        .await;
    plain_failure(&out, "duplicate user", "already exists");
    assert!(!out.stderr.contains("another long one"));
    assert_eq!(login_status(&app, "alice", "alice's password").await, 200);

    for verb in ["disable", "enable", "delete"] {
        let out = app.cli(&["user", verb, "nobody"], "").await;
        plain_failure(
            &out,
            &format!("user {verb} of an unknown user"),
            "not found",
        );
    }
    let out = app
        .cli(
            &["user", "set-password", "nobody", "--password-stdin"],
            "pw\n",
        )
        .await;
    plain_failure(&out, "set-password of an unknown user", "not found");

    for bad in ["bad name", "semi;colon", ""] {
        let out = app
            .cli(&["user", "add", bad, "--password-stdin"], "a password\n")
            .await;
        plain_failure(&out, &format!("username {bad:?}"), "username");
    }
    let long = "x".repeat(151);
    let out = app
        .cli(&["user", "add", &long, "--password-stdin"], "a password\n")
        .await;
    plain_failure(&out, "long username", "150");
    let out = app
        .cli(
            &[
                "user",
                "add",
                "eve",
                "--email",
                "not an address",
                "--password-stdin",
            ],
            "a password\n",
        )
        .await;
    plain_failure(&out, "bad email", "email");

    let out = app.cli(&["client", "add", "web"], "").await;
    plain_failure(
        &out,
        "authorization_code without a redirect URI",
        "redirect",
    );
    let out = app
        .cli(&["client", "add", "web", "--redirect-uri", "/relative"], "")
        .await;
    plain_failure(&out, "relative redirect URI", "absolute");
    let out = app
        .cli(&["client", "add", "simplejwt", "--grant", "password"], "")
        .await;
    plain_failure(&out, "duplicate client", "already exists");
    for verb in ["disable", "enable", "delete", "rotate-secret"] {
        let out = app.cli(&["client", verb, "ghost"], "").await;
        plain_failure(&out, &format!("client {verb} ghost"), "not found");
    }
    let out = app.cli(&["client", "delete", "simplejwt"], "").await;
    plain_failure(&out, "delete the built-in client", "simplejwt");

    // A bad setting names the setting.
    let out = run_cli_env(
        &app.storage,
        &["keys", "list"],
        "",
        &[("GATEHOUSE_ACCESS_TTL", "forever")],
    )
    .await;
    plain_failure(&out, "bad duration", "access_ttl");
    let out = run_cli_env(
        &app.storage,
        &["user", "list"],
        "",
        &[("GATEHOUSE_DATABASE_URL", "mysql://nope")],
    )
    .await;
    plain_failure(&out, "unsupported database", "database");

    // Usage errors come from the parser, non-zero as well.
    let out = app.cli(&["frobnicate"], "").await;
    assert!(!out.status.success());
    assert!(!out.stderr.contains("panicked"));
    let out = app
        .cli(&["client", "add", "x", "--grant", "implicit"], "")
        .await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("implicit"), "{}", out.stderr);

    // None of the failures left anything behind.
    let out = app.cli(&["user", "list"], "").await;
    let users: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(users, ["alice"]);
    let out = app.cli(&["client", "list"], "").await;
    let clients: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(clients, ["simplejwt"]);
}

/// A key's state, read straight from the database.
#[derive(diesel::QueryableByName)]
struct StoredState {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kid: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    state: String,
}

/// Takes `storage`'s database back to the schema before the standby key (the `down.sql`
/// of that migration and of every later one) and lists its keys as they are stored then.
fn before_the_standby_key(storage: &Storage) -> Vec<(String, String)> {
    use diesel::{Connection, RunQueryDsl};
    use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
    const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
    const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
    const LIST: &str = "SELECT kid, state FROM signing_keys ORDER BY state";
    // migrations/*/2026-12-07-000008_standby_key
    const STANDBY_MIGRATION: &str = "20261207000008";
    let rows: Vec<StoredState> = match storage.database_url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut conn = diesel::SqliteConnection::establish(path).expect("SQLite");
            while conn
                .revert_last_migration(SQLITE)
                .expect("revert")
                .to_string()
                != STANDBY_MIGRATION
            {}
            diesel::sql_query(LIST).load(&mut conn).expect("keys")
        }
        None => {
            let mut conn = diesel::PgConnection::establish(&storage.database_url).expect("PG");
            while conn
                .revert_last_migration(POSTGRES)
                .expect("revert")
                .to_string()
                != STANDBY_MIGRATION
            {}
            diesel::sql_query(LIST).load(&mut conn).expect("keys")
        }
    };
    rows.into_iter().map(|r| (r.kid, r.state)).collect()
}

async fn a_database_from_before_the_standby_key_migrates_and_gets_one_at_first_start(
    backend: Backend,
) {
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    ok(
        &run_cli(&storage, &["keys", "list"], "").await,
        "first start",
    );
    let old = before_the_standby_key(&storage);
    let states: Vec<&str> = old.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(states, ["current", "next"], "the schema of before: {old:?}");

    // The first start after the upgrade migrates and makes the missing standby key; the
    // current and next keys stay as they were.
    let rows = cli_keys_list(&storage).await;
    let kid_in = |state: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r.state == state)
            .map(|r| r.kid.clone())
            .collect()
    };
    assert_eq!(kid_in("current"), [old[0].0.clone()], "{rows:?}");
    assert_eq!(kid_in("next"), [old[1].0.clone()], "{rows:?}");
    assert_eq!(kid_in("standby").len(), 1, "{rows:?}");
    assert_eq!(rows.len(), 3, "{rows:?}");
}

/// The first column of each line a list printed.
fn names(out: &CliOutput) -> Vec<&str> {
    out.stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect()
}

async fn cli_lists_are_paged_and_searched_by_prefix(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    for name in ["alice", "alina", "bob"] {
        app.add_user(name, "a long enough password", false).await;
    }
    let out = app.cli(&["user", "list", "--limit", "2"], "").await;
    ok(&out, "user list --limit 2");
    assert_eq!(names(&out), ["alice", "alina"]);
    // Where the next page starts goes to stderr, so stdout holds only rows.
    assert_eq!(out.stderr.trim(), "more: --after alina");
    let out = app
        .cli(&["user", "list", "--limit", "2", "--after", "alina"], "")
        .await;
    ok(&out, "user list --after");
    assert_eq!(names(&out), ["bob"]);
    assert_eq!(out.stderr.trim(), "", "the last page");
    let out = app.cli(&["user", "list", "--prefix", "ali"], "").await;
    ok(&out, "user list --prefix");
    assert_eq!(names(&out), ["alice", "alina"]);

    app.add_client(&["svc", "--grant", "client_credentials"])
        .await;
    let out = app.cli(&["client", "list", "--limit", "1"], "").await;
    ok(&out, "client list --limit 1");
    assert_eq!(names(&out), ["simplejwt"]);
    assert_eq!(out.stderr.trim(), "more: --after simplejwt");
    let out = app.cli(&["client", "list", "--prefix", "sv"], "").await;
    assert_eq!(names(&out), ["svc"]);

    let out = app.cli(&["user", "list", "--limit", "0"], "").await;
    plain_failure(&out, "user list --limit 0", "limit must be 1 to 500");
    let out = app.cli(&["audit", "--limit", "1"], "").await;
    ok(&out, "audit --limit 1");
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    let after = out
        .stderr
        .trim()
        .strip_prefix("more: --after ")
        .expect(&out.stderr);
    let out = app
        .cli(&["audit", "--limit", "1", "--after", after], "")
        .await;
    ok(&out, "audit --after");
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
}

/// `gatehouse ARGS -h`.
fn help(args: &[String]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .arg("-h")
        .output()
        .expect("run gatehouse");
    assert!(out.status.success(), "{args:?} -h failed");
    String::from_utf8(out.stdout).expect("UTF-8 help")
}

/// The entries of a help section (`Commands:`, `Arguments:`, `Options:`), each with its
/// description: on its line, or on the next, further indented, when clap puts it there.
fn entries(text: &str, section: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let lines = text
        .lines()
        .skip_while(|l| *l != section)
        .skip(1)
        .take_while(|l| !l.is_empty());
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        match out.last_mut() {
            Some((_, description)) if indent >= 10 && description.is_empty() => {
                *description = line.trim().to_string();
            }
            _ => {
                let (name, description) = line.trim().split_once("  ").unwrap_or((line.trim(), ""));
                out.push((name.to_string(), description.trim().to_string()));
            }
        }
    }
    out
}

/// Every subcommand and option has a description; the settings and `-v`, which every
/// command accepts, are listed once, in `gatehouse -h`, not again under each subcommand.
#[test]
fn help_describes_every_command_and_option_and_lists_the_settings_once() {
    let top = help(&[]);
    assert_eq!(top.matches("--database-url <").count(), 1, "{top}");
    let globals = [
        "--config",
        "--database-url",
        "--master-key",
        "--bind",
        "--issuer",
        "--verbose",
    ];
    let mut pending: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(args) = pending.pop() {
        let text = help(&args);
        for (name, description) in entries(&text, "Commands:") {
            assert!(!description.is_empty(), "{args:?} {name}: no description");
            if name != "help" {
                let mut sub = args.clone();
                sub.push(name);
                pending.push(sub);
            }
        }
        if args.is_empty() {
            continue;
        }
        seen += 1;
        for section in ["Arguments:", "Options:"] {
            for (name, description) in entries(&text, section) {
                assert!(!description.is_empty(), "{args:?} {name}: no description");
            }
        }
        for (name, _) in entries(&text, "Options:") {
            assert!(
                !globals.iter().any(|g| name.contains(g)),
                "{args:?} lists {name}:\n{text}"
            );
        }
        assert!(text.contains("see gatehouse --help"), "{text}");
    }
    // serve … completions, and user add … client rotate-secret, keys list/rotate, ….
    assert!(seen >= 25, "only {seen} commands");
}
