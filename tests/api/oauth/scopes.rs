//! Requested scopes: only registered ones are granted (`invalid_scope` otherwise), and
//! `admin` only to admin users.

use crate::both_backends;
use crate::helpers::{status_json, Backend};

use super::{assert_oauth_error, password_pair, setup, PASSWORD};

both_backends!(
    unregistered_scope_is_invalid_scope,
    admin_scope_is_refused_for_a_non_admin_user,
);

async fn unregistered_scope_is_invalid_scope(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    for scope in ["other", "api other", "admin", "openid"] {
        let resp = app
            .post_form_basic(
                "/token",
                "cc",
                &cc,
                &[("grant_type", "client_credentials"), ("scope", scope)],
            )
            .await;
        assert_oauth_error(resp, 400, "invalid_scope", scope).await;
    }
    for scope in ["admin", "openid payroll"] {
        let resp = app
            .post_form_basic(
                "/token",
                "app",
                &pw,
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("scope", scope),
                ],
            )
            .await;
        assert_oauth_error(resp, 400, "invalid_scope", scope).await;
    }
    // A registered subset is granted as asked.
    let body = password_pair(&app, &pw, Some("openid email")).await;
    assert_eq!(body["scope"], "openid email");
}

async fn admin_scope_is_refused_for_a_non_admin_user(backend: Backend) {
    let Some((app, _, _)) = setup(backend).await else {
        return;
    };
    app.add_user("root", "root password", true).await;
    let console = app
        .add_client(&[
            "console", "--grant", "password", "--scope", "openid", "profile", "admin",
        ])
        .await
        .expect("secret");
    let ask = |user: &'static str, password: &'static str| {
        let (app, console) = (&app, console.clone());
        async move {
            app.post_form_basic(
                "/token",
                "console",
                &console,
                &[
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", password),
                    ("scope", "openid admin"),
                ],
            )
            .await
        }
    };
    assert_oauth_error(
        ask("alice", PASSWORD).await,
        400,
        "invalid_scope",
        "admin for alice",
    )
    .await;
    // Without the right password an admin gets invalid_grant, not a scope hint.
    assert_oauth_error(
        ask("root", "wrong").await,
        400,
        "invalid_grant",
        "admin, wrong password",
    )
    .await;
    let (status, body) = status_json(ask("root", "root password").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid admin");
    assert!(
        body.get("refresh_token").is_none(),
        "console has no refresh_token grant"
    );
    // Alice still gets a token without admin.
    let resp = app
        .post_form_basic(
            "/token",
            "console",
            &console,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid profile");
}
