//! The `gatehouse` command line against a running server's database: users, clients, keys,
//! migrations, and plain errors.
//!
//! By subject: `users`, `clients`, `keys` (and migrations), `errors`, `lists` (paging and
//! search) and `help`.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    cli_keys_list, run_cli, run_cli_env, spawn_app, Backend, CliOutput, Storage, TestApp,
};

mod clients;
mod errors;
mod help;
mod keys;
mod lists;
mod users;

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

/// The first column of each line a list printed.
fn names(out: &CliOutput) -> Vec<&str> {
    out.stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect()
}
