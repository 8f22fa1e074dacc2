//! Black-box tests of Gatehouse among other programs: `gatehouse` server and CLI processes
//! on one database, the production stack behind nginx, single sign-on and the console in
//! headless Chromium, the downstream verifiers (Django REST Framework, PyJWT, Node's jose,
//! the Rust resource server), a real Django project's users, and schemathesis against the
//! OpenAPI document. Like tests/api/, each test runs on SQLite and on PostgreSQL, but for
//! `stack.rs` (PostgreSQL, where several instances share a database; its SIGTERM test on
//! SQLite) and `console_browser.rs` (SQLite: `tests/api/console.rs` covers both).

// The harness is shared with tests/api/; each binary uses part of it.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod helpers;

// The SMTP server of the mail tests (aiosmtpd on loopback).
#[allow(dead_code)]
#[path = "../support/smtp.rs"]
mod smtp;

mod browser;
mod browser_spa;
mod cli;
mod clients_file;
mod console_browser;
mod django_import;
mod downstream;
mod email_browser;
mod failover;
mod key_processes;
mod logging;
mod logout_browser;
mod logout_processes;
mod mail_browser;
mod mail_log;
mod mail_tls;
mod master_key;
mod master_key_algs;
mod mfa_browser;
mod openapi;
mod operations;
mod operator;
mod private_postgres;
mod reset_browser;
mod spa_mfa;
mod stack;
