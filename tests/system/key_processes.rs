//! Signing keys across processes: `gatehouse` servers and CLI runs that rotate at the same
//! moment, a rotation schedule on two servers, processes starting together on a fresh
//! database, and an emergency under load right after a scheduled rotation, watched by
//! verifiers that cache the JWKS as Cache-Control says. One key set comes out of each, as
//! DESIGN's "Concurrency" requires.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    cli_keys_list, eventually, kid_of, kids, only, password_grant, run_cli, verify_with_jwks,
    with_state, Backend, KeyRow, ServerProcess, Storage,
};

both_backends!(
    two_processes_rotating_at_once_keep_one_key_in_each_place,
    processes_starting_together_on_a_fresh_database_all_start,
    scheduled_rotation_on_two_processes_rotates_once_per_interval,
    an_emergency_a_second_after_a_scheduled_rotation_shows_no_verifier_an_unknown_kid,
);

/// What one of the concurrent rotations answered.
type Rotation = Result<Value, String>;

async fn rotate_via_admin(http: reqwest::Client, base: String, token: String) -> Rotation {
    let resp = http
        .post(format!("{base}/admin/keys/rotate"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{base}: {status} {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
}

/// Adds the admin user `root` and the client `adm` with the CLI, and returns an admin
/// token that `server` issued.
async fn admin_token(storage: &Storage, http: &reqwest::Client, server: &ServerProcess) -> String {
    let out = run_cli(
        storage,
        &["user", "add", "root", "--admin", "--password-stdin"],
        "root password\n",
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    let secret = client_secret(storage, &["adm", "--grant", "password", "--scope", "admin"]).await;
    let resp = password_grant(
        http,
        &server.address,
        "adm",
        &secret,
        "root",
        "root password",
        "admin",
    )
    .await;
    assert_eq!(resp.status(), 200);
    resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Registers a confidential client with the CLI (`client add ARGS --json`); its secret.
async fn client_secret(storage: &Storage, args: &[&str]) -> String {
    let args: Vec<&str> = ["client", "add"]
        .iter()
        .chain(args)
        .chain(&["--json"])
        .copied()
        .collect();
    let out = run_cli(storage, &args, "").await;
    assert!(out.status.success(), "{}", out.stderr);
    let added: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    added["client_secret"].as_str().unwrap().to_string()
}

async fn two_processes_rotating_at_once_keep_one_key_in_each_place(backend: Backend) {
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    let issuer = "http://gatehouse.test";
    let http = reqwest::Client::new();
    let mut a = ServerProcess::spawn(&storage, issuer, "a");
    let mut b = ServerProcess::spawn(&storage, issuer, "b");
    assert!(
        a.ready(&http, 60).await,
        "a never got ready:\n{}",
        a.log_text()
    );
    assert!(
        b.ready(&http, 60).await,
        "b never got ready:\n{}",
        b.log_text()
    );
    assert_eq!(
        http.get(a.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        http.get(b.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "two instances started together share one key set"
    );

    let token = admin_token(&storage, &http, &a).await;
    let before = cli_keys_list(&storage).await;
    assert_eq!(before.len(), 3, "{before:?}");

    // Ten rotations at the same moment: three on each server, four from the CLI.
    const ROTATIONS: usize = 10;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(ROTATIONS));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..ROTATIONS {
        let barrier = barrier.clone();
        let (http, token) = (http.clone(), token.clone());
        let base = if i % 2 == 0 {
            a.address.clone()
        } else {
            b.address.clone()
        };
        let env = storage.env();
        tasks.spawn(async move {
            barrier.wait().await;
            if i < 6 {
                return rotate_via_admin(http, base, token).await;
            }
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
                .args(["keys", "rotate"])
                .envs(env)
                .env("GATEHOUSE_LOG", "warn")
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "keys rotate: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
        });
    }
    let mut answers: Vec<Rotation> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        answers.push(joined.expect("task"));
    }
    let failures: Vec<&String> = answers.iter().filter_map(|r| r.as_ref().err()).collect();
    let database = storage
        .pg
        .as_ref()
        .map_or(storage.database_url.as_str(), |pg| pg.name.as_str());
    assert!(
        failures.is_empty(),
        "every rotation on {database} is a real one, none fails: {failures:#?}\na: {}\nb: {}",
        a.log_text(),
        b.log_text()
    );
    let outcomes: Vec<&Value> = answers.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert!(outcomes.iter().all(|o| o["rotated"] == true));

    // Each rotation retired a different key and promoted a different one.
    let retired_by: BTreeSet<String> = outcomes
        .iter()
        .map(|o| o["retired"].as_str().expect("retired").to_string())
        .collect();
    let promoted: BTreeSet<String> = outcomes
        .iter()
        .map(|o| o["current"].as_str().expect("current").to_string())
        .collect();
    assert_eq!(retired_by.len(), outcomes.len(), "{outcomes:#?}");
    assert_eq!(promoted.len(), outcomes.len(), "{outcomes:#?}");

    let rows = cli_keys_list(&storage).await;
    let current = only(&rows, "current");
    let next = only(&rows, "next");
    let standby = only(&rows, "standby");
    let retired: BTreeSet<String> = with_state(&rows, "retired").into_iter().collect();
    assert_eq!(retired.len(), outcomes.len(), "{rows:#?}");
    assert_eq!(retired, retired_by);
    assert!(with_state(&rows, "revoked").is_empty());
    assert_eq!(rows.len(), outcomes.len() + 3, "no stray keys: {rows:#?}");

    // Both instances serve the same JWKS within 5 s (KEY_POLL_INTERVAL 1 s).
    let fetch = |base: String| {
        let http = http.clone();
        async move {
            let resp = http
                .get(format!("{base}/.well-known/jwks.json"))
                .send()
                .await
                .expect("request");
            let etag = resp.headers()["etag"].to_str().unwrap().to_string();
            (etag, resp.text().await.expect("body"))
        }
    };
    let mut expected: BTreeSet<String> = retired.clone();
    expected.insert(current.clone());
    expected.insert(next.clone());
    expected.insert(standby.clone());
    let (a_base, b_base) = (a.address.clone(), b.address.clone());
    let converged = eventually(5, || {
        let (fa, fb) = (fetch(a_base.clone()), fetch(b_base.clone()));
        let expected = &expected;
        async move {
            let ((etag_a, body_a), (etag_b, body_b)) = (fa.await, fb.await);
            let jwks: Value = serde_json::from_str(&body_a).unwrap_or_default();
            etag_a == etag_b && body_a == body_b && kids(&jwks) == *expected
        }
    })
    .await;
    assert!(
        converged,
        "the two instances' JWKS differ after 5 s:\na: {}\nb: {}",
        fetch(a.address.clone()).await.1,
        fetch(b.address.clone()).await.1
    );

    // Both sign with the one current key, and accept each other's tokens.
    for (signer, checker) in [(&a, &b), (&b, &a)] {
        let resp = http
            .post(signer.url("/api/token/"))
            .json(&json!({ "username": "root", "password": "root password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let access = resp.json::<Value>().await.unwrap()["access"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(kid_of(&access), current);
        let verified = http
            .post(checker.url("/api/token/verify/"))
            .json(&json!({ "token": access }))
            .send()
            .await
            .unwrap();
        assert_eq!(verified.status(), 200);
    }

    a.child.kill().await.expect("kill a");
    b.child.kill().await.expect("kill b");
}

async fn scheduled_rotation_on_two_processes_rotates_once_per_interval(backend: Backend) {
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    // The first process creates the database and keys; the second joins it.
    let http = reqwest::Client::new();
    let env = [
        ("GATEHOUSE_KEY_ROTATION_INTERVAL", "2s"),
        ("GATEHOUSE_JWKS_MAX_AGE", "1s"),
    ];
    let issuer = "http://gatehouse.test";
    let mut a = ServerProcess::spawn_with_env(&storage, issuer, "a", &env);
    assert!(a.ready(&http, 60).await, "a:\n{}", a.log_text());
    let mut b = ServerProcess::spawn_with_env(&storage, issuer, "b", &env);
    assert!(b.ready(&http, 60).await, "b:\n{}", b.log_text());

    // Both poll every second and both find rotations due: still one rotation per interval.
    let jwks_of = |p: &ServerProcess| {
        let (http, url) = (http.clone(), p.url("/.well-known/jwks.json"));
        async move {
            http.get(url)
                .send()
                .await
                .expect("request")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let rotated_thrice = eventually(30, || {
        let fetch = jwks_of(&a);
        async move { fetch.await["keys"].as_array().map_or(0, Vec::len) >= 6 }
    })
    .await;
    assert!(
        rotated_thrice,
        "fewer than three scheduled rotations in 30 s:\na: {}\nb: {}",
        a.log_text(),
        b.log_text()
    );

    let rows = cli_keys_list(&storage).await;
    assert_eq!(with_state(&rows, "current").len(), 1, "{rows:#?}");
    assert_eq!(with_state(&rows, "next").len(), 1, "{rows:#?}");
    assert_eq!(with_state(&rows, "standby").len(), 1, "{rows:#?}");
    assert!(with_state(&rows, "revoked").is_empty());
    let mut activations: Vec<(i64, &KeyRow)> = rows
        .iter()
        .filter_map(|r| r.activated_at.map(|t| (t, r)))
        .collect();
    activations.sort_by_key(|(t, _)| *t);
    for pair in activations.windows(2) {
        let ((earlier, _), (later, row)) = (pair[0], pair[1]);
        assert!(
            later - earlier >= 2,
            "two rotations {}s apart (interval 2 s): {rows:#?}",
            later - earlier
        );
        // JWKS_MAX_AGE 1 s, plus KEY_POLL_INTERVAL 1 s and a second for whole-second times.
        assert!(
            later - row.created_at >= 3,
            "key {} promoted {}s after it was published, before every cache held it",
            row.kid,
            later - row.created_at
        );
    }
    let converged = eventually(5, || {
        let (fa, fb) = (jwks_of(&a), jwks_of(&b));
        async move { fa.await == fb.await }
    })
    .await;
    assert!(converged, "the two instances serve different key sets");

    a.child.kill().await.expect("kill a");
    b.child.kill().await.expect("kill b");
}

async fn processes_starting_together_on_a_fresh_database_all_start(backend: Backend) {
    // Several rounds: the races at first start (migrations, the master key file, the
    // master key check) are narrow, and each round is a fresh database.
    for round in 0..4 {
        let Some(storage) = Storage::new(backend) else {
            return;
        };
        let storage = std::sync::Arc::new(storage);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let storage = storage.clone();
            let args: &[&str] = if i % 2 == 0 {
                &["keys", "list"]
            } else {
                &["migrate"]
            };
            tasks.spawn(async move { (args, run_cli(&storage, args, "").await) });
        }
        let mut listings = BTreeSet::new();
        while let Some(joined) = tasks.join_next().await {
            let (args, out) = joined.expect("task");
            assert!(
                out.status.success(),
                "round {round}: {args:?} starting together with others failed: {}",
                out.stderr
            );
            if args[0] == "keys" {
                listings.insert(out.stdout);
            }
        }
        assert_eq!(
            listings.len(),
            1,
            "round {round}: one key set: {listings:#?}"
        );
        let rows = cli_keys_list(&storage).await;
        assert_eq!(with_state(&rows, "current").len(), 1, "{rows:?}");
        assert_eq!(with_state(&rows, "next").len(), 1, "{rows:?}");
        assert_eq!(with_state(&rows, "standby").len(), 1, "{rows:?}");
        assert_eq!(rows.len(), 3, "{rows:?}");
        let key_dir = storage.master_key_file();
        let entries: Vec<_> = std::fs::read_dir(key_dir.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["master.key"], "round {round}: stray files");
    }
}

/// A downstream service that verifies tokens against the JWKS it fetched, kept exactly as
/// long as `Cache-Control: max-age` says and never fetched early: a token whose kid its
/// cache lacks fails, as it would for a service that does not refetch on an unknown kid.
struct CachingVerifier {
    jwks_url: String,
    jwks: Value,
    fresh_until: std::time::Instant,
}

/// Why a verifier refused a token.
#[derive(Debug)]
enum Refusal {
    UnknownKid(String),
    Invalid(String),
}

impl CachingVerifier {
    async fn fetch(http: &reqwest::Client, jwks_url: String) -> CachingVerifier {
        // A second try when an idle keep-alive connection was closed under the request.
        let resp = match http.get(&jwks_url).send().await {
            Ok(resp) => resp,
            Err(_) => http.get(&jwks_url).send().await.expect("JWKS"),
        };
        let max_age = resp.headers()["cache-control"]
            .to_str()
            .unwrap()
            .split(',')
            .find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<u64>().ok())
            .expect("a max-age");
        CachingVerifier {
            jwks: resp.json().await.expect("JWKS JSON"),
            fresh_until: std::time::Instant::now() + std::time::Duration::from_secs(max_age),
            jwks_url,
        }
    }

    async fn verify(&mut self, http: &reqwest::Client, token: &str) -> Result<(), Refusal> {
        if std::time::Instant::now() >= self.fresh_until {
            *self = CachingVerifier::fetch(http, self.jwks_url.clone()).await;
        }
        let kid = kid_of(token);
        if !kids(&self.jwks).contains(&kid) {
            return Err(Refusal::UnknownKid(kid));
        }
        verify_with_jwks(token, &self.jwks, ISSUER)
            .map(drop)
            .map_err(Refusal::Invalid)
    }
}

const ISSUER: &str = "http://gatehouse.test";

async fn verify_status(http: &reqwest::Client, server: &ServerProcess, token: &str) -> u16 {
    http.post(server.url("/api/token/verify/"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .expect("verify")
        .status()
        .as_u16()
}

async fn client_credentials(http: &reqwest::Client, base: &str, secret: &str) -> String {
    let request = || {
        http.post(format!("{base}/token"))
            .basic_auth("svc", Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    // A second try when an idle keep-alive connection was closed under the request.
    let resp = match request().await {
        Ok(resp) => resp,
        Err(_) => request().await.expect("token request"),
    };
    assert_eq!(resp.status(), 200);
    resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn an_emergency_a_second_after_a_scheduled_rotation_shows_no_verifier_an_unknown_kid(
    backend: Backend,
) {
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    // A key is in every honest cache 5 s after it is stored (max-age 3 s, poll 1 s, a
    // second for whole-second times); scheduled rotations every 12 s.
    let env = [
        ("GATEHOUSE_KEY_ROTATION_INTERVAL", "12s"),
        ("GATEHOUSE_JWKS_MAX_AGE", "3s"),
    ];
    let http = reqwest::Client::new();
    let mut a = ServerProcess::spawn_with_env(&storage, ISSUER, "a", &env);
    assert!(a.ready(&http, 60).await, "a:\n{}", a.log_text());
    let mut b = ServerProcess::spawn_with_env(&storage, ISSUER, "b", &env);
    assert!(b.ready(&http, 60).await, "b:\n{}", b.log_text());
    let admin = admin_token(&storage, &http, &a).await;
    let svc_secret = client_secret(&storage, &["svc", "--grant", "client_credentials"]).await;
    let keys_of = |base: String| {
        let (http, admin) = (http.clone(), admin.clone());
        async move {
            let listed: Value = http
                .get(format!("{base}/admin/keys"))
                .bearer_auth(&admin)
                .send()
                .await
                .expect("admin keys")
                .json()
                .await
                .expect("JSON");
            listed["keys"].as_array().unwrap().clone()
        }
    };
    let current_of = |keys: &[Value]| {
        keys.iter()
            .find(|k| k["state"] == "current")
            .map(|k| {
                (
                    k["kid"].as_str().unwrap().to_string(),
                    k["activated_at"].as_i64().unwrap(),
                )
            })
            .expect("a current key")
    };
    // The current key and a token it signed (read again if a rotation came in between).
    let (first, first_token) = loop {
        let (current, _) = current_of(&keys_of(a.address.clone()).await);
        let token = client_credentials(&http, &a.address, &svc_secret).await;
        if kid_of(&token) == current {
            break (current, token);
        }
    };

    // Six verifiers, three on each instance, whose caches expire at staggered moments.
    let mut verifiers = Vec::new();
    for i in 0..6 {
        let server = if i % 2 == 0 { &a } else { &b };
        verifiers.push(CachingVerifier::fetch(&http, server.url("/.well-known/jwks.json")).await);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // Tokens from both instances, each checked by every verifier, until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (http, stop, secret) = (http.clone(), stop.clone(), svc_secret.clone());
        let bases = [a.address.clone(), b.address.clone()];
        tokio::spawn(async move {
            let mut verified = 0usize;
            let mut refused: Vec<Refusal> = Vec::new();
            let mut one_per_kid = std::collections::HashMap::new();
            let mut i = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let token = client_credentials(&http, &bases[i % 2], &secret).await;
                i += 1;
                for v in verifiers.iter_mut() {
                    match v.verify(&http, &token).await {
                        Ok(()) => verified += 1,
                        Err(r) => refused.push(r),
                    }
                }
                one_per_kid.insert(kid_of(&token), token);
                // Steady load, not all the CPU: the machine runs other tests too.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            (verified, refused, one_per_kid)
        })
    };

    // The next scheduled rotation; one second after it, the key that just became current
    // leaks.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let rotated_at = loop {
        let (kid, at) = current_of(&keys_of(a.address.clone()).await);
        if kid != first {
            break at;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scheduled rotation within 30 s:\na: {}",
            a.log_text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let one_second_after = std::time::Duration::from_secs((rotated_at + 1) as u64);
    tokio::time::sleep(one_second_after.saturating_sub(now)).await;
    let resp = http
        .post(b.url("/admin/keys/rotate"))
        .bearer_auth(&admin)
        .json(&json!({ "emergency": true }))
        .send()
        .await
        .expect("emergency");
    assert_eq!(resp.status(), 200);
    let emergency: Value = resp.json().await.unwrap();
    let leaked_now = emergency["revoked"].as_str().expect("revoked").to_string();
    // Seconds between the publication of the key that signs now and the emergency.
    let published_before = rotated_at + 1 - emergency["current_published_at"].as_i64().unwrap();
    // The key that was current until the scheduled rotation leaked too: revoked by its kid.
    let out = run_cli(
        &storage,
        &[
            "keys",
            "revoke",
            &first,
            "--reason",
            "leaked with its successor",
        ],
        "",
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    let refused_everywhere = eventually(5, || async {
        verify_status(&http, &a, &first_token).await == 401
            && verify_status(&http, &b, &first_token).await == 401
    })
    .await;
    assert!(
        refused_everywhere,
        "a key revoked by kid still verifies after 5 s"
    );

    // Load goes on until every verifier has refetched twice.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (verified, refused, one_per_kid) = load.await.expect("load");
    let revoked = [first.clone(), leaked_now.clone()];
    let unknown: Vec<&String> = refused
        .iter()
        .filter_map(|r| match r {
            // A token of a revoked key, signed by an instance that had not yet seen the
            // revocation, may meet a verifier that has: refused, rightly.
            Refusal::UnknownKid(kid) if !revoked.contains(kid) => Some(kid),
            _ => None,
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "{} verifications failed on an unknown kid ({} succeeded): {:?}",
        unknown.len(),
        verified,
        unknown.iter().collect::<BTreeSet<_>>()
    );
    let invalid: Vec<&String> = refused
        .iter()
        .filter_map(|r| match r {
            Refusal::Invalid(why) => Some(why),
            Refusal::UnknownKid(_) => None,
        })
        .collect();
    assert!(invalid.is_empty(), "{invalid:?}");
    assert!(verified > 0);
    assert!(
        published_before >= 5,
        "the emergency promoted a key published {}s before: {emergency}",
        published_before
    );

    // Both instances refuse the tokens the load got from the key revoked in the emergency
    // (there may be none: it signed for a second or two).
    if let Some(token) = one_per_kid.get(&leaked_now) {
        for server in [&a, &b] {
            assert_eq!(verify_status(&http, server, token).await, 401);
        }
    }
    let rows = cli_keys_list(&storage).await;
    let mut gone = with_state(&rows, "revoked");
    gone.sort();
    let mut expected = revoked.to_vec();
    expected.sort();
    assert_eq!(gone, expected, "{rows:#?}");
    for state in ["current", "next", "standby"] {
        assert_eq!(with_state(&rows, state).len(), 1, "{state}: {rows:#?}");
    }

    a.child.kill().await.expect("kill a");
    b.child.kill().await.expect("kill b");
}
