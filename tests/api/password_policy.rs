//! The password policy (NIST SP 800-63B) wherever a password is set: the admin API, the
//! console, the CLI (the reset page: recovery.rs). The reason is shown and nothing is
//! written; the minimum is a setting; a password set before stays valid for signing in.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{
    page_text, run_cli_env, spawn_app, spawn_app_with, status_json, Backend, ADMIN_PASSWORD,
};
use gatehouse::accounts::{Accounts, NewUserRequest, PasswordPolicy};
use gatehouse::passwords::Password;

both_backends!(
    a_weak_password_is_refused_with_the_reason_wherever_it_is_set,
    the_minimum_is_a_setting_and_older_passwords_still_sign_in,
);

/// Too short, and common whatever its case, each with what the refusal says.
const WEAK: [(&str, &str); 2] = [
    ("eleven char", "at least 12 characters (it has 11)"),
    ("1Q2W3E4R5T6Y", "most common"),
];

async fn a_weak_password_is_refused_with_the_reason_wherever_it_is_set(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.add_user("alice", "alice's long password", false).await;
    let console = crate::console::signed_in(&app, "root", ADMIN_PASSWORD, "/console/users").await;
    let users = page_text(&app, &console, "/console/users").await;
    let csrf = crate::helpers::hidden(&users, "csrf");
    for (password, says) in WEAK {
        let resp = app
            .http
            .post(app.url("/admin/users"))
            .bearer_auth(&admin)
            .json(&json!({ "username": "weak", "password": password }))
            .send()
            .await
            .unwrap();
        let (status, body) = status_json(resp).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "admin API, {password}");
        assert!(
            body["error_description"].as_str().unwrap().contains(says),
            "{body}"
        );

        let resp = console
            .post(app.url("/console/users"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "weak"),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::BAD_REQUEST,
            "console, {password}"
        );
        let html = resp.text().await.unwrap();
        assert!(html.contains(says), "{html}");

        let stdin = format!("{password}\n");
        for args in [
            &["user", "add", "weak", "--password-stdin"][..],
            &["user", "set-password", "alice", "--password-stdin"][..],
        ] {
            let out = run_cli_env(&app.storage, args, &stdin, &[]).await;
            assert!(!out.status.success(), "{args:?}");
            assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
            assert!(!out.stderr.contains(password), "{}", out.stderr);
        }
    }
    assert!(app.state.accounts.find_user("weak").await.is_err());
    assert_eq!(
        app.simplejwt_login("alice", "alice's long password")
            .await
            .status(),
        200,
        "alice's password is unchanged"
    );
    // No composition rule: lowercase words alone are fine.
    let out = run_cli_env(
        &app.storage,
        &["user", "add", "plain", "--password-stdin"],
        "just some plain words\n",
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
}

async fn the_minimum_is_a_setting_and_older_passwords_still_sign_in(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.password_min_length = Some("16".into());
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let create = |name: &'static str, password: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let resp = app
                .http
                .post(app.url("/admin/users"))
                .bearer_auth(admin)
                .json(&json!({ "username": name, "password": password }))
                .send()
                .await
                .unwrap();
            status_json(resp).await
        }
    };
    let (status, body) = create("fifteen", "fifteen chars!!").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("at least 16 characters"),
        "{body}"
    );
    let (status, body) = create("sixteen", "sixteen chars!!!").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A user whose password was set under a looser policy (an earlier release) signs in.
    let looser = Accounts {
        policy: PasswordPolicy { min_length: 8 },
        ..app.state.accounts.clone()
    };
    looser
        .create_user(NewUserRequest {
            username: "old-timer".into(),
            email: None,
            password: Password::new("eight ch".into()),
            is_admin: false,
        })
        .await
        .expect("under the old policy");
    assert_eq!(
        app.simplejwt_login("old-timer", "eight ch").await.status(),
        200
    );

    // Below NIST's floor of 8 the setting is refused.
    let out = run_cli_env(
        &app.storage,
        &["user", "list"],
        "",
        &[("GATEHOUSE_PASSWORD_MIN_LENGTH", "6")],
    )
    .await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("password_min_length"), "{}", out.stderr);
}
