//! Errors exit non-zero with a plain message.

use super::*;

both_backends!(cli_errors_exit_nonzero_with_a_plain_message,);

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
