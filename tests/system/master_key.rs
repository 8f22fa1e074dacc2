//! `gatehouse master-key rotate`: every private key (and every sealed grace-window successor)
//! moves to a new master key in one transaction; servers on the new key serve the same kids
//! and the same JWKS; the old key alone is refused; the one secret ever printed is the new
//! key when it lives in the environment; a rotation interrupted at either side of its commit
//! leaves a key on disk that opens the database.

use gatehouse::db::repo;
use gatehouse::keys::encryption::MasterKey;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{
    peek, run_cli_env, spawn_app, spawn_app_with, verify_with_jwks, Backend, CliOutput,
    ServerProcess, Storage, TestApp,
};

both_backends!(
    master_key_rotate_reseals_every_key_under_a_new_key_file,
    master_key_rotate_with_the_key_in_the_environment_prints_the_new_key_once,
    a_rollover_serves_with_both_keys_and_then_with_the_new_key_alone,
    an_interrupted_rotation_leaves_a_key_that_opens_the_database,
    an_error_after_the_commit_keeps_the_staged_key_and_the_next_run_finishes,
);

const PASSWORD: &str = "correct horse battery staple";

fn read_key(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .expect("key file")
        .trim()
        .to_string()
}

fn key_dir_entries(storage: &Storage) -> Vec<String> {
    let dir = storage.master_key_file();
    let mut names: Vec<String> = std::fs::read_dir(dir.parent().expect("keys dir"))
        .expect("read keys dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// (kid, sealed private key, master key id) of every stored key.
async fn sealed_rows(app: &TestApp) -> Vec<(String, Vec<u8>, String)> {
    let mut rows = app
        .state
        .keys
        .db
        .run(repo::keys::all_sealed)
        .await
        .expect("sealed keys");
    rows.sort();
    rows
}

fn assert_no_key_printed(out: &CliOutput, keys: &[&str], what: &str) {
    for key in keys {
        assert!(!out.stdout.contains(key), "{what}: a key on stdout");
        assert!(!out.stderr.contains(key), "{what}: a key on stderr");
    }
}

/// The old key alone is refused like any wrong key: plainly, without echoing it.
async fn assert_refused_with(storage: &Storage, key: &str) {
    let out = run_cli_env(
        storage,
        &["keys", "list"],
        "",
        &[("GATEHOUSE_MASTER_KEY", key)],
    )
    .await;
    assert!(!out.status.success(), "the old master key still opens it");
    assert!(
        out.stderr.to_lowercase().contains("master key"),
        "the refusal names the master key: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_no_key_printed(&out, &[key], "refusal");
}

/// `keys list` with `key` in the environment lists every one of `kids`; its output.
async fn listed_with(storage: &Storage, key: &str, kids: &[String]) -> CliOutput {
    let listed = run_cli_env(
        storage,
        &["keys", "list"],
        "",
        &[("GATEHOUSE_MASTER_KEY", key)],
    )
    .await;
    assert!(listed.status.success(), "keys list: {}", listed.stderr);
    for kid in kids {
        assert!(listed.stdout.contains(kid.as_str()), "{kid} listed");
    }
    listed
}

async fn verify_at(http: &reqwest::Client, server: &ServerProcess, token: &str) -> u16 {
    http.post(server.url("/api/token/verify/"))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await
        .expect("verify")
        .status()
        .as_u16()
}

async fn login_at(http: &reqwest::Client, server: &ServerProcess) -> (String, String) {
    let resp = http
        .post(server.url("/api/token/"))
        .json(&serde_json::json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 200, "login at {}", server.address);
    let body: Value = resp.json().await.expect("json");
    (
        body["access"].as_str().expect("access").into(),
        body["refresh"].as_str().expect("refresh").into(),
    )
}

async fn jwks_at(http: &reqwest::Client, server: &ServerProcess) -> Value {
    http.get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json")
}

async fn master_key_rotate_reseals_every_key_under_a_new_key_file(backend: Backend) {
    // A grace window, so that a sealed successor exists and must move too.
    let Some(app) = spawn_app_with(backend, |a| a.refresh_grace = Some("1h".into())).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    let resp = app
        .post_json(
            "/api/token/refresh/",
            serde_json::json!({ "refresh": refresh }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let successor: Value = resp.json().await.expect("json");
    let jwks_before = app.jwks().await;
    let path = app.storage.master_key_file();
    let old = read_key(&path);
    let old_key = MasterKey::from_base64(&old).expect("old key");
    let before = sealed_rows(&app).await;
    assert!(before.iter().all(|(_, _, id)| id == old_key.id()));

    let out = app.cli(&["master-key", "rotate"], "").await;
    assert!(out.status.success(), "rotate failed: {}", out.stderr);
    let new = read_key(&path);
    let new_key = MasterKey::from_base64(&new).expect("the key file holds a key");
    assert_ne!(new, old, "the key file changed");
    assert_no_key_printed(&out, &[&old, &new], "rotate with a key file");
    assert!(out.stdout.contains(new_key.id()), "{}", out.stdout);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "new key file mode {mode:o}");
    }
    assert_eq!(key_dir_entries(&app.storage), ["master.key"], "stray files");

    // Same kids, same private keys, new ciphertext under the new key id; the old key opens none.
    let after = sealed_rows(&app).await;
    assert_eq!(before.len(), after.len());
    for ((kid, old_sealed, _), (kid_after, sealed, id)) in before.iter().zip(&after) {
        assert_eq!(kid, kid_after);
        assert_eq!(id, new_key.id(), "{kid} names the new key");
        assert_ne!(old_sealed, sealed, "{kid} was re-sealed");
        assert!(
            old_key.open(sealed, kid.as_bytes()).is_err(),
            "{kid}: old key opens it"
        );
        assert_eq!(
            new_key
                .open(sealed, kid.as_bytes())
                .expect("new key opens it")
                .as_slice(),
            old_key
                .open(old_sealed, kid.as_bytes())
                .expect("old")
                .as_slice(),
            "{kid}: the same private key"
        );
    }

    // A server on the new key: the same JWKS, the same kid signs, earlier tokens verify, and
    // the grace-window successor (re-sealed too) is still served.
    let http = reqwest::Client::new();
    let issuer = app.settings.issuer.clone();
    let mut server = ServerProcess::spawn_with_env(
        &app.storage,
        &issuer,
        "after",
        &[("GATEHOUSE_REFRESH_GRACE", "1h")],
    );
    assert!(
        server.ready(&http, 60).await,
        "after:\n{}",
        server.log_text()
    );
    assert_eq!(jwks_at(&http, &server).await, jwks_before, "JWKS unchanged");
    assert_eq!(verify_at(&http, &server, &access).await, 200);
    let (fresh, _) = login_at(&http, &server).await;
    assert_eq!(
        peek(&fresh).0["kid"],
        peek(&access).0["kid"],
        "same signing kid"
    );
    verify_with_jwks(&fresh, &jwks_before, &issuer).expect("verifies with the old JWKS");
    let replay = http
        .post(server.url("/api/token/refresh/"))
        .json(&serde_json::json!({ "refresh": refresh }))
        .send()
        .await
        .expect("replay");
    assert_eq!(replay.status(), 200, "grace replay after the rotation");
    let replayed: Value = replay.json().await.expect("json");
    assert_eq!(
        replayed["refresh"], successor["refresh"],
        "the same successor"
    );
    assert!(
        !server.log_text().contains(&new),
        "the server logged the key"
    );

    assert_refused_with(&app.storage, &old).await;

    let audit = app
        .cli(&["audit", "--json", "--kind", "master_key.rotated"], "")
        .await;
    assert!(audit.status.success(), "{}", audit.stderr);
    let events: Vec<Value> = audit
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(events.len(), 1, "{}", audit.stdout);
    assert_eq!(events[0]["subject"], new_key.id());
    assert_no_key_printed(&audit, &[&old, &new], "audit");
}

async fn master_key_rotate_with_the_key_in_the_environment_prints_the_new_key_once(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let path = app.storage.master_key_file();
    let old = read_key(&path);
    let kids: Vec<String> = sealed_rows(&app).await.into_iter().map(|r| r.0).collect();

    let env = [("GATEHOUSE_MASTER_KEY", old.as_str())];
    let out = run_cli_env(&app.storage, &["master-key", "rotate"], "", &env).await;
    assert!(out.status.success(), "rotate failed: {}", out.stderr);
    let printed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| MasterKey::from_base64(l).is_ok())
        .collect();
    assert_eq!(printed.len(), 1, "one key printed: {}", out.stdout);
    let new = printed[0].trim().to_string();
    assert_ne!(new, old);
    assert_eq!(out.stdout.matches(&new).count(), 1, "printed once");
    assert!(!out.stderr.contains(&new), "the key went to stderr");
    assert_no_key_printed(&out, &[&old], "rotate from the environment");
    // The file is not where this key lives: it is left alone.
    assert_eq!(read_key(&path), old);
    assert_eq!(key_dir_entries(&app.storage), ["master.key"]);

    let new_key = MasterKey::from_base64(&new).expect("key");
    let after = sealed_rows(&app).await;
    assert_eq!(after.iter().map(|r| r.0.clone()).collect::<Vec<_>>(), kids);
    assert!(after.iter().all(|(_, _, id)| id == new_key.id()));
    let listed = listed_with(&app.storage, &new, &kids).await;
    assert_no_key_printed(&listed, &[&old, &new], "keys list");
    assert_refused_with(&app.storage, &old).await;
}

async fn a_rollover_serves_with_both_keys_and_then_with_the_new_key_alone(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let jwks_before = app.jwks().await;
    let old = read_key(&app.storage.master_key_file());
    let new = MasterKey::generate().to_base64().to_string();
    let both = [
        ("GATEHOUSE_MASTER_KEY", new.as_str()),
        ("GATEHOUSE_MASTER_KEY_PREVIOUS", old.as_str()),
    ];
    let http = reqwest::Client::new();
    let issuer = app.settings.issuer.clone();

    // Restarted with both keys before the re-seal: it serves.
    let mut during = ServerProcess::spawn_with_env(&app.storage, &issuer, "both", &both);
    assert!(
        during.ready(&http, 60).await,
        "both:\n{}",
        during.log_text()
    );
    let (early, _) = login_at(&http, &during).await;

    let out = run_cli_env(&app.storage, &["master-key", "rotate"], "", &both).await;
    assert!(out.status.success(), "rotate failed: {}", out.stderr);
    assert_no_key_printed(&out, &[&old, &new], "rollover");
    let new_id = MasterKey::from_base64(&new).expect("key").id().to_string();
    assert!(
        sealed_rows(&app)
            .await
            .iter()
            .all(|(_, _, id)| *id == new_id),
        "every key under the new master key"
    );

    // Both instances still running serve: the one on both keys, and the first one, which
    // still holds only the old key (in memory).
    let (_, _) = login_at(&http, &during).await;
    assert_eq!(verify_at(&http, &during, &early).await, 200);
    let (_, _) = app.tokens("alice", PASSWORD).await;

    // The new key alone serves, with the same keys; the old key alone is refused.
    let mut after = ServerProcess::spawn_with_env(
        &app.storage,
        &issuer,
        "new-only",
        &[("GATEHOUSE_MASTER_KEY", new.as_str())],
    );
    assert!(
        after.ready(&http, 60).await,
        "new only:\n{}",
        after.log_text()
    );
    assert_eq!(jwks_at(&http, &after).await, jwks_before);
    assert_eq!(verify_at(&http, &after, &early).await, 200);
    let (fresh, _) = login_at(&http, &after).await;
    assert_eq!(peek(&fresh).0["kid"], peek(&early).0["kid"]);
    assert_refused_with(&app.storage, &old).await;
    for server in [&during, &after] {
        let log = server.log_text();
        assert!(!log.contains(&new) && !log.contains(&old), "a key in a log");
    }

    // The first instance, still on the old key alone, is due to rotate the signing keys: it
    // refuses (and says why), since the key it would make would be sealed under a master key
    // the database no longer names, which no other instance could open.
    let keys_before = sealed_rows(&app).await;
    let outcome = app
        .state
        .keys
        .rotate(None, gatehouse::keys::rotation::RotationKind::Manual)
        .await
        .map(gatehouse::keys::rotation::RotationOutcome::combined)
        .expect("an answer");
    assert!(!outcome.rotated, "{outcome:?}");
    let warning = outcome.warning.expect("a reason");
    assert!(warning.contains("master key"), "{warning}");
    assert!(!warning.contains(&old) && !warning.contains(&new));
    assert_eq!(sealed_rows(&app).await, keys_before, "nothing stored");
    let new_only = [("GATEHOUSE_MASTER_KEY", new.as_str())];
    let checked = run_cli_env(&app.storage, &["check"], "", &new_only).await;
    assert!(checked.status.success(), "check: {}", checked.stdout);
    assert_no_key_printed(&checked, &[&old, &new], "check");
}

async fn an_interrupted_rotation_leaves_a_key_that_opens_the_database(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let path = app.storage.master_key_file();
    let staged = path.with_file_name("master.key.next");
    let k0 = read_key(&path);

    // A wrong key rotates nothing and stages nothing.
    let wrong = MasterKey::generate().to_base64().to_string();
    let out = run_cli_env(
        &app.storage,
        &["master-key", "rotate"],
        "",
        &[("GATEHOUSE_MASTER_KEY", &wrong)],
    )
    .await;
    assert!(!out.status.success(), "rotated with a wrong key");
    assert!(
        out.stderr.to_lowercase().contains("master key"),
        "{}",
        out.stderr
    );
    assert_no_key_printed(&out, &[&wrong, &k0], "wrong key");
    assert_eq!(key_dir_entries(&app.storage), ["master.key"]);

    // A crash before the commit: a staged key the database does not name. The old file
    // still opens the database, and the next run discards the stale key and rotates.
    let stale = MasterKey::generate().to_base64().to_string();
    std::fs::write(&staged, &stale).unwrap();
    let listed = app.cli(&["keys", "list"], "").await;
    assert!(
        listed.status.success(),
        "{}: {}{}",
        listed.status,
        listed.stdout,
        listed.stderr
    );
    let out = app.cli(&["master-key", "rotate"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    let k1 = read_key(&path);
    assert!(k1 != k0 && k1 != stale, "a fresh key");
    assert_eq!(key_dir_entries(&app.storage), ["master.key"]);

    // A crash after the commit, before the file was replaced: the database is under the
    // staged key and the file still holds the one before. A server starts on the staged key,
    // and the next run only moves it into place.
    std::fs::write(&staged, &k1).unwrap();
    std::fs::write(&path, &k0).unwrap();
    let http = reqwest::Client::new();
    let mut server = ServerProcess::spawn(&app.storage, &app.settings.issuer, "resumed");
    assert!(
        server.ready(&http, 60).await,
        "resumed:\n{}",
        server.log_text()
    );
    let log = server.log_text();
    assert!(log.contains("interrupted"), "the server says so: {log}");
    assert!(!log.contains(&k1) && !log.contains(&k0), "a key in the log");
    let checked = app.cli(&["check"], "").await;
    assert!(checked.status.success(), "check: {}", checked.stdout);
    assert!(
        checked.stdout.contains("master-key rotate"),
        "check says what to do: {}",
        checked.stdout
    );
    assert_no_key_printed(&checked, &[&k0, &k1], "check");
    let out = app.cli(&["master-key", "rotate"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains("interrupted"), "{}", out.stdout);
    assert_no_key_printed(&out, &[&k0, &k1], "finishing");
    assert_eq!(read_key(&path), k1, "the staged key moved into place");
    assert_eq!(key_dir_entries(&app.storage), ["master.key"]);
    assert_refused_with(&app.storage, &k0).await;

    // --keep-previous leaves the old key beside the new one, as private as the key file.
    let out = app
        .cli(&["master-key", "rotate", "--keep-previous"], "")
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    let k2 = read_key(&path);
    assert_ne!(k2, k1);
    let previous = path.with_file_name("master.key.previous");
    assert_eq!(read_key(&previous), k1, "the old key is kept");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&previous).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "kept key mode {mode:o}");
    }
    assert_eq!(
        key_dir_entries(&app.storage),
        ["master.key", "master.key.previous"]
    );
    assert_no_key_printed(&out, &[&k1, &k2], "--keep-previous");
}

/// PostgreSQL can report an error for a COMMIT that went through (the connection lost on the
/// way back). The command cannot tell, so it keeps the staged key whatever the error; the
/// next run learns from the database's check value which key it is sealed with, and
/// finishes, keeping the old key when asked again with `--keep-previous`.
async fn an_error_after_the_commit_keeps_the_staged_key_and_the_next_run_finishes(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let path = app.storage.master_key_file();
    let staged = path.with_file_name("master.key.next");
    let k0 = read_key(&path);
    let kids: Vec<String> = sealed_rows(&app).await.into_iter().map(|r| r.0).collect();

    let fault = [("GATEHOUSE_TEST_FAIL_AFTER_COMMIT", "1")];
    let out = run_cli_env(
        &app.storage,
        &["master-key", "rotate", "--keep-previous"],
        "",
        &fault,
    )
    .await;
    assert!(!out.status.success(), "the injected failure is reported");
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    // The database is under the new key, and the new key is still on disk.
    assert!(
        staged.exists(),
        "the staged key, the only copy of the database's key, is gone"
    );
    assert!(
        out.stderr.contains("master-key rotate --keep-previous"),
        "says how to finish: {}",
        out.stderr
    );
    let k1 = read_key(&staged);
    let k1_id = MasterKey::from_base64(&k1)
        .expect("staged key")
        .id()
        .to_string();
    assert!(
        sealed_rows(&app)
            .await
            .iter()
            .all(|(_, _, id)| *id == k1_id),
        "the re-seal committed"
    );
    assert_eq!(read_key(&path), k0, "the key file is untouched");
    assert_no_key_printed(&out, &[&k0, &k1], "failed rotation");
    // Meanwhile every command opens the database (start-up adopts the staged key).
    let listed = app.cli(&["keys", "list"], "").await;
    assert!(listed.status.success(), "{}", listed.stderr);

    let out = app
        .cli(&["master-key", "rotate", "--keep-previous"], "")
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains("interrupted"), "{}", out.stdout);
    assert_no_key_printed(&out, &[&k0, &k1], "finishing");
    assert_eq!(read_key(&path), k1, "the staged key moved into place");
    let previous = path.with_file_name("master.key.previous");
    assert_eq!(read_key(&previous), k0, "the old key is kept");
    assert_eq!(
        key_dir_entries(&app.storage),
        ["master.key", "master.key.previous"]
    );
    listed_with(&app.storage, &k1, &kids).await;
    assert_refused_with(&app.storage, &k0).await;

    // A failure with the key in the environment says which key the database opens with.
    let env = [
        ("GATEHOUSE_MASTER_KEY", k1.as_str()),
        ("GATEHOUSE_TEST_FAIL_AFTER_COMMIT", "1"),
    ];
    let out = run_cli_env(&app.storage, &["master-key", "rotate"], "", &env).await;
    assert!(!out.status.success(), "the injected failure is reported");
    let k2 = out
        .stdout
        .lines()
        .find(|l| MasterKey::from_base64(l).is_ok())
        .expect("the new key is printed")
        .trim()
        .to_string();
    assert!(
        out.stderr
            .contains("sealed under the new key printed above"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("NOT put to use"), "{}", out.stderr);
    listed_with(&app.storage, &k2, &kids).await;
}
