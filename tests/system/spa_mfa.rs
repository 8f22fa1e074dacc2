//! A single-page app's second factor, driven by a Python script with `pyotp` (an
//! authenticator app written apart from Gatehouse) against a `gatehouse serve` process on
//! the system clock: enrolment through `/api/account/totp/`, the `mfa_required` answer of
//! `/api/token/`, completion at `/api/token/mfa/` (a replayed code refused, a recovery code
//! accepted), and removal. The script comes from `tests/downstream/install.sh`.

use std::process::Stdio;

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::both_backends;
use crate::downstream::{python, script};
use crate::helpers::{run_cli, Backend, ServerProcess, Storage};

both_backends!(a_single_page_app_enrols_totp_and_signs_in_with_pyotp_codes);

const PASSWORD: &str = "alice's long password";

async fn a_single_page_app_enrols_totp_and_signs_in_with_pyotp_codes(backend: Backend) {
    let Some(python) = python() else {
        return;
    };
    let Some(storage) = Storage::migrated(backend) else {
        return;
    };
    let out = run_cli(
        &storage,
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    let mut server = ServerProcess::spawn(&storage, "http://localhost", "spa-mfa");
    assert!(
        server.ready(&reqwest::Client::new(), 90).await,
        "{}",
        server.log_text()
    );
    let mut child = tokio::process::Command::new(python)
        .arg(script("spa_mfa.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python");
    let input = json!({ "base": server.address, "username": "alice", "password": PASSWORD });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log_text()
    );
    let seen: Value = serde_json::from_str(stdout.trim()).expect("the script's JSON");
    assert_eq!(seen["recovery_codes"], 10);
    assert_eq!(seen["methods"], json!(["totp", "recovery_code"]));
    assert_eq!(seen["pair"], json!(["access", "refresh"]));
    assert_eq!(seen["replayed_code"], json!([401, "invalid_code"]));
    assert_eq!(seen["removed"], true);
}
