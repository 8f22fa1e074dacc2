//! Black-box tests over real HTTP, one in-process server per test. Each test runs against a
//! fresh SQLite file and again against a fresh PostgreSQL database (when
//! GATEHOUSE_TEST_POSTGRES_URL is set), but for `outage.rs` (SQLite), `query_plans.rs`
//! (PostgreSQL) and the token verifier's property test (SQLite); the other property tests use
//! no database. Tests that need other programs running (`gatehouse`
//! processes, nginx, Chromium, the downstream verifiers) are in `tests/system/`.

// The harness is shared with tests/system/; each binary uses part of it.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod helpers;

// The SMTP server of the mail tests (aiosmtpd on loopback).
#[allow(dead_code)]
#[path = "../support/smtp.rs"]
mod smtp;

mod account;
mod account_api;
mod admin;
mod admin_mfa;
mod algs;
mod architecture;
mod assurance;
mod attacks;
mod audit;
mod backchannel;
mod clients_file;
mod console;
mod cors;
mod data_at_rest;
mod email_change;
mod forwarded_for;
mod hardening;
mod housekeeping;
mod keys;
mod liveness;
mod login_guard;
mod logout_registration;
mod mail;
mod mail_stall;
mod mfa_policy;
mod oauth;
mod observability;
mod outage;
mod outbox;
mod outbox_figures;
mod password_policy;
mod properties;
mod query_plans;
mod recovery;
mod second_step;
mod session_details;
mod simplejwt;
mod smoke;
mod sso;
mod step_up;
mod totp;
