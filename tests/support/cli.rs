//! The `gatehouse` command line, run as a child process on a test's storage.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use super::Storage;

/// What a finished `gatehouse` command printed.
pub struct CliOutput {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

pub async fn run_cli(storage: &Storage, args: &[&str], stdin: &str) -> CliOutput {
    run_cli_env(storage, args, stdin, &[]).await
}

/// Like [`run_cli`], with extra environment variables (a different master key, say).
pub async fn run_cli_env(
    storage: &Storage,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> CliOutput {
    run_cli_with(storage, args, stdin, env, &[]).await
}

/// Like [`run_cli_env`], without the variables `unset` of this process's environment.
pub async fn run_cli_with(
    storage: &Storage,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
    unset: &[&str],
) -> CliOutput {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    for name in unset {
        command.env_remove(name);
    }
    let mut child = command
        .args(args)
        .envs(storage.env())
        .env("GATEHOUSE_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn gatehouse");
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .await
            .expect("write stdin");
    }
    let out = child.wait_with_output().await.expect("gatehouse finishes");
    CliOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One signing key as `gatehouse keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub kid: String,
    pub state: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
}

/// A time as `gatehouse keys list` shows it (RFC 3339, UTC) as Unix seconds; `None` for `-`.
pub fn listed_time(shown: &str) -> Option<i64> {
    time::OffsetDateTime::parse(shown, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Runs `gatehouse keys list` on `storage` and parses its table.
pub async fn cli_keys_list(storage: &Storage) -> Vec<KeyRow> {
    let out = run_cli(storage, &["keys", "list"], "").await;
    assert!(out.status.success(), "keys list failed: {}", out.stderr);
    let mut lines = out.stdout.lines();
    let header = lines.next().expect("keys list prints a header");
    assert!(header.starts_with("KID\tSTATE"), "header: {header}");
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() >= 5, "keys list row: {l}");
            KeyRow {
                kid: cols[0].to_string(),
                state: cols[1].to_string(),
                created_at: listed_time(cols[3]).expect("created_at is a date"),
                activated_at: listed_time(cols[4]),
            }
        })
        .collect()
}

/// The kids of `keys list` rows in `state`.
pub fn with_state(rows: &[KeyRow], state: &str) -> Vec<String> {
    rows.iter()
        .filter(|r| r.state == state)
        .map(|r| r.kid.clone())
        .collect()
}

/// The one kid of `keys list` rows in `state`; panics unless there is exactly one.
pub fn only(rows: &[KeyRow], state: &str) -> String {
    let found = with_state(rows, state);
    assert_eq!(found.len(), 1, "exactly one {state} key: {rows:?}");
    found[0].clone()
}
