//! `gatehouse user`: add (the password from stdin, never printed), disable and enable,
//! set-password and delete, each ending what it must.

use super::*;

both_backends!(
    cli_user_add_reads_the_password_from_stdin_and_never_prints_it,
    cli_user_disable_ends_refresh_tokens_and_enable_restores_login,
    cli_user_set_password_replaces_the_password_and_ends_refresh_tokens,
    cli_user_delete_removes_the_user_and_their_tokens,
);

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
