//! The harness of the black-box tests, one module a concern. `spawn_app()` (servers) starts
//! a real Gatehouse in-process on a loopback port of its own, on a fresh SQLite file or a
//! freshly created PostgreSQL database (postgres, storage), with its own master key and a
//! manual clock that stands still until the test moves it; seeding creates its users and
//! clients. The other modules drive it as a browser would (browser, chromium), run the
//! `gatehouse` binary (cli, processes), find the downstream tools (downstream), poll for what
//! background tasks and other processes do (polling), and read tokens (tokens).
//!
//! The names are re-exported here, so a test imports them from `crate::helpers`.

pub mod browser;
pub mod chromium;
pub mod cli;
pub mod downstream;
pub mod polling;
pub mod postgres;
pub mod processes;
pub mod receiver;
pub mod requests;
pub mod seeding;
pub mod servers;
pub mod storage;
pub mod tokens;
pub mod totp;

// Each test binary uses part of these.
#[allow(unused_imports)]
pub use self::{
    browser::{
        browser, form_actions, hidden, location, page_text, query_param, sign_in, submit_login,
        unescape,
    },
    cli::{
        cli_keys_list, listed_time, only, run_cli, run_cli_env, run_cli_with, with_state,
        CliOutput, KeyRow,
    },
    polling::eventually,
    postgres::PgDatabase,
    processes::{free_port, ServerProcess},
    requests::{assert_bearer_token_required, assert_invalid_token, password_grant, status_json},
    seeding::ADMIN_PASSWORD,
    servers::{spawn_app, spawn_app_first_start, spawn_app_with, TestApp},
    storage::{seed_storage, Storage},
    tokens::{assemble_jwt, b64url, kid_of, kids, peek, verify_with_jwks},
};

// ---------------------------------------------------------------------------------------
// Backends.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend for each async test function `name(backend)`:
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// Installs rustls' aws-lc-rs provider for the process, once. reqwest is built without a
/// provider of its own (the server installs it when it builds its HTTP client), so a test
/// that makes an HTTP client before any in-process server starts would panic with "No
/// provider set", or not, depending on which test ran first. Every storage and browser
/// calls it.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// Says SKIP visibly; under CI=true a skip is a failure.
pub fn skip(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is required when CI=true");
    }
    // Written to the stderr handle, not through eprintln!, so the test harness does not
    // capture it: a skip must be visible.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIP: {what} is not available (set it up, or run .ci/run)"
    );
}
