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
    cli_errors_exit_nonzero_with_a_plain_message,
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
    assert_eq!(states, ["current", "next"], "{rows:?}");
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
            "CREATED",
            "ACTIVATED",
            "RETIRED",
            "REMOVE_AFTER"
        ]
    );
    let rows = cli_keys_list(&app.storage).await;
    assert_eq!(rows.len(), 2);
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
