//! Signing keys as the outside world sees them: the JWKS, rotation (CLI, admin API,
//! schedule, emergency) and the master key. Several processes on one database:
//! tests/system/key_processes.rs.
//!
//! By subject: `jwks` (the document and its caching), `rotation` (by the CLI and the admin
//! API, emergencies), `schedule` (rotation by itself), `revocation` (of a retired, next or
//! standby key) and `master_key`.

use std::collections::BTreeSet;

use base64::Engine;
use gatehouse::keys::rotation::RotationKind;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::both_backends;
use crate::helpers::{
    eventually, kid_of, kids, only, run_cli_env, spawn_app, spawn_app_first_start, spawn_app_with,
    verify_with_jwks, with_state, Backend, TestApp,
};
use gatehouse::domain::utc_datetime;

mod jwks;
mod master_key;
mod revocation;
mod rotation;
mod schedule;

async fn jwks_etag(app: &TestApp) -> String {
    app.http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("request")
        .headers()
        .get("etag")
        .expect("etag")
        .to_str()
        .expect("ascii")
        .to_string()
}

async fn verify_status(app: &TestApp, token: &str) -> u16 {
    app.post_json("/api/token/verify/", json!({ "token": token }))
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
        .expect("request")
        .status()
        .as_u16()
}

async fn refresh(app: &TestApp, refresh: &str) -> reqwest::Response {
    app.post_json("/api/token/refresh/", json!({ "refresh": refresh }))
        .await
}

/// Seconds after which a stored key is in every honest cache: JWKS_MAX_AGE plus the time
/// instances take to serve it (KEY_POLL_INTERVAL, an hour in these tests, and a second).
fn cached_everywhere_after(app: &TestApp) -> u64 {
    app.state.keys.policy.rotation.cached_everywhere_after() as u64
}

/// Moves the clock by `secs` and runs the key upkeep, as every move does.
async fn advance_and_upkeep(app: &TestApp, secs: u64) {
    app.advance(secs);
    app.state.keys.maintain_once().await.expect("upkeep");
}
