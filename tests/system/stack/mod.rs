//! The production stack on loopback: two `gatehouse serve` processes on one PostgreSQL
//! database behind real nginx running `deploy/nginx.conf`, and the faults it must survive
//! (a killed instance, a stopped database, SIGTERM).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    cli_keys_list, eventually, free_port, password_grant, peek, run_cli, seed_storage, skip,
    status_json, Backend, ServerProcess, Storage,
};
use crate::private_postgres::PrivatePostgres;

pub(crate) const ALICE_PASSWORD: &str = "correct horse battery staple";
const ROOT_PASSWORD: &str = "root password for the stack";

pub(crate) fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Real nginx with `deploy/nginx.conf`, its placeholders filled in for loopback.
pub(crate) struct Nginx {
    child: tokio::process::Child,
    dir: tempfile::TempDir,
    pub(crate) address: String,
}

impl Nginx {
    fn start(binary: &Path, port: u16, upstream_a: &str, upstream_b: &str) -> Nginx {
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
                .expect("deploy/nginx.conf");
        let conf = template
            .replace("${GATEHOUSE_A}", upstream_a)
            .replace("${GATEHOUSE_B}", upstream_b)
            .replace("${LISTEN}", &format!("127.0.0.1:{port}"));
        assert!(!conf.contains("${"), "a placeholder was left: {conf}");
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["logs", "tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        // nginx started by root runs its workers as nobody: let them use the prefix.
        let _ = std::process::Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(dir.path())
            .status();
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log");
        let child = tokio::process::Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn nginx");
        Nginx {
            child,
            dir,
            address: format!("http://127.0.0.1:{port}"),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    fn log_text(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        format!(
            "{}{}{}",
            read("stderr.log").unwrap_or_default(),
            read("error.log").unwrap_or_default(),
            read("logs/error.log").unwrap_or_default()
        )
    }
}

impl Drop for Nginx {
    /// SIGKILL of the master alone (`kill_on_drop`) would orphan its workers: SIGTERM makes
    /// it stop them first.
    fn drop(&mut self) {
        let Some(pid) = self.child.id() else {
            return;
        };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Two instances (A, B) on one database, nginx in front.
pub(crate) struct Stack {
    storage: Storage,
    pub(crate) a: ServerProcess,
    pub(crate) b: ServerProcess,
    pub(crate) nginx: Nginx,
    pub(crate) http: reqwest::Client,
    adm_secret: String,
}

fn host_port(address: &str) -> &str {
    address.trim_start_matches("http://")
}

impl Stack {
    /// `None` (after a visible SKIP) when nginx or PostgreSQL is missing.
    async fn start(env: &[(&str, &str)]) -> Option<Stack> {
        let Some(nginx_bin) = nginx_binary() else {
            skip("nginx (Debian package nginx)");
            return None;
        };
        let storage = Storage::new(Backend::Postgres)?;
        Some(Stack::start_on(storage, &nginx_bin, env).await)
    }

    pub(crate) async fn start_on(
        storage: Storage,
        nginx_bin: &Path,
        env: &[(&str, &str)],
    ) -> Stack {
        seed_storage(&storage).await;
        let add = |args: Vec<&'static str>, stdin: &'static str| {
            let storage = &storage;
            async move {
                let out = run_cli(storage, &args, stdin).await;
                assert!(out.status.success(), "{args:?}: {}", out.stderr);
                out.stdout
            }
        };
        add(
            vec!["user", "add", "alice", "--password-stdin"],
            "correct horse battery staple\n",
        )
        .await;
        add(
            vec!["user", "add", "root", "--admin", "--password-stdin"],
            "root password for the stack\n",
        )
        .await;
        let adm = add(
            vec![
                "client", "add", "adm", "--grant", "password", "--scope", "admin", "--json",
            ],
            "",
        )
        .await;
        let adm: Value = serde_json::from_str(adm.trim()).expect("client add --json");
        let adm_secret = adm["client_secret"].as_str().expect("secret").to_string();

        // The issuer is the public address: nginx's. Ports are picked before anyone binds.
        let nginx_port = free_port();
        let issuer = format!("http://127.0.0.1:{nginx_port}");
        let mut server_env = vec![
            ("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1"),
            ("GATEHOUSE_LOG_FORMAT", "json"),
            ("GATEHOUSE_LOG", "info"),
        ];
        server_env.extend_from_slice(env);
        let mut a = ServerProcess::spawn_with_env(&storage, &issuer, "a", &server_env);
        let mut b = ServerProcess::spawn_with_env(&storage, &issuer, "b", &server_env);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        assert!(a.ready(&http, 60).await, "A not ready: {}", a.log_text());
        assert!(b.ready(&http, 60).await, "B not ready: {}", b.log_text());
        let nginx = Nginx::start(
            nginx_bin,
            nginx_port,
            host_port(&a.address),
            host_port(&b.address),
        );
        let up = eventually(30, || {
            let http = http.clone();
            let url = nginx.url("/healthz");
            async move { http.get(url).send().await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
        assert!(up, "nginx did not come up: {}", nginx.log_text());
        Stack {
            storage,
            a,
            b,
            nginx,
            http,
            adm_secret,
        }
    }

    pub(crate) async fn login(&self, base: &str) -> (String, String) {
        let resp = self
            .http
            .post(format!("{base}/api/token/"))
            .json(&json!({ "username": "alice", "password": ALICE_PASSWORD }))
            .send()
            .await
            .expect("login");
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 200, "login at {base}: {body}");
        (
            body["access"].as_str().expect("access").to_string(),
            body["refresh"].as_str().expect("refresh").to_string(),
        )
    }

    async fn admin_token(&self) -> String {
        let resp = password_grant(
            &self.http,
            &self.nginx.address,
            "adm",
            &self.adm_secret,
            "root",
            ROOT_PASSWORD,
            "admin",
        )
        .await;
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 200, "admin token: {body}");
        body["access_token"].as_str().expect("token").to_string()
    }

    pub(crate) async fn refresh(
        &self,
        base: &str,
        refresh: &str,
    ) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{base}/api/token/refresh/"))
            .json(&json!({ "refresh": refresh }))
            .send()
            .await
    }

    async fn jwks_body(&self, base: &str) -> Value {
        self.http
            .get(format!("{base}/.well-known/jwks.json"))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("jwks json")
    }
}

fn kid_of(token: &str) -> String {
    peek(token).0["kid"].as_str().expect("kid").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_from_instance_a_refreshes_on_b_and_both_publish_one_jwks() {
    let Some(stack) = Stack::start(&[]).await else {
        return;
    };
    let (access, refresh) = stack.login(&stack.a.address).await;
    let resp = stack
        .refresh(&stack.b.address, &refresh)
        .await
        .expect("refresh");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "refresh on B: {body}");
    // The access token from A is good at B, and the one from B at A.
    for (base, token) in [
        (&stack.b.address, access.as_str()),
        (&stack.a.address, body["access"].as_str().expect("access")),
    ] {
        let resp = stack
            .http
            .get(format!("{base}/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .expect("userinfo");
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(
        stack.jwks_body(&stack.a.address).await,
        stack.jwks_body(&stack.b.address).await
    );
    // And through nginx, with the issuer's URLs and the cache headers intact.
    let resp = stack
        .http
        .get(stack.nginx.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks via nginx");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("etag"));
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("public, max-age="));
    let discovery: Value = stack
        .http
        .get(stack.nginx.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(
        discovery["jwks_uri"],
        stack.nginx.url("/.well-known/jwks.json")
    );
    // Behind nginx, the logs name the real client and nginx's request id. The test client
    // connects from 127.0.0.3 (nginx itself is 127.0.0.1, the only trusted proxy) and
    // forges an X-Forwarded-For hop, which must not be believed.
    let from_elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.3".parse::<IpAddr>().expect("ip"))
        .build()
        .expect("client");
    let resp = from_elsewhere
        .get(stack.nginx.url("/healthz"))
        .header("x-forwarded-for", "198.51.100.66")
        .send()
        .await
        .expect("healthz via nginx");
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(request_id.len() == 32, "nginx's $request_id: {request_id}");
    let logged = eventually(10, || {
        let request_id = request_id.clone();
        let logs = [stack.a.log_text(), stack.b.log_text()];
        async move {
            logs.iter().flat_map(|l| l.lines()).any(|line| {
                line.contains(&request_id)
                    && line.contains(r#""client":"127.0.0.3""#)
                    && serde_json::from_str::<Value>(line).is_ok()
            })
        }
    })
    .await;
    assert!(
        logged,
        "no JSON log line with request id {request_id} and client 127.0.0.3:\n{}\n{}",
        stack.a.log_text(),
        stack.b.log_text()
    );
    // Talking to an instance directly, the same forged header is ignored as well.
    let resp = from_elsewhere
        .get(stack.a.url("/healthz"))
        .header("x-forwarded-for", "198.51.100.66")
        .header("x-request-id", "forged-id")
        .send()
        .await
        .expect("healthz on A");
    assert_ne!(resp.headers()["x-request-id"], "forged-id");
    for log in [stack.a.log_text(), stack.b.log_text()] {
        assert!(!log.contains("198.51.100.66"), "a forged hop was believed");
        assert!(!log.contains(ALICE_PASSWORD) && !log.contains(&refresh));
    }
    // Metrics are for Prometheus on the inside, not for the public side of nginx.
    let resp = stack
        .http
        .get(stack.nginx.url("/metrics"))
        .send()
        .await
        .expect("metrics via nginx");
    assert_eq!(
        resp.status(),
        403,
        "deploy/nginx.conf answers /metrics itself"
    );
    drop(stack.storage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_on_a_is_used_by_b_within_five_seconds() {
    let Some(stack) = Stack::start(&[]).await else {
        return;
    };
    let admin = stack.admin_token().await;
    let (before, _) = stack.login(&stack.b.address).await;
    let resp = stack
        .http
        .post(format!("{}/admin/keys/rotate", stack.a.address))
        .bearer_auth(&admin)
        .json(&json!({}))
        .send()
        .await
        .expect("rotate");
    let (status, outcome) = status_json(resp).await;
    assert_eq!(status, 200, "rotate: {outcome}");
    let new_kid = outcome["current"].as_str().expect("current").to_string();
    assert_ne!(new_kid, kid_of(&before));
    let signs_with_new_key = eventually(5, || {
        let stack = &stack;
        let new_kid = new_kid.clone();
        async move {
            let (access, _) = stack.login(&stack.b.address).await;
            kid_of(&access) == new_kid
        }
    })
    .await;
    assert!(
        signs_with_new_key,
        "B still signs with the old key after 5 s"
    );
    let same_jwks = eventually(5, || async {
        stack.jwks_body(&stack.a.address).await == stack.jwks_body(&stack.b.address).await
    })
    .await;
    assert!(same_jwks, "A and B publish different key sets");
    // The token B signed before the rotation still verifies everywhere.
    for base in [&stack.a.address, &stack.b.address] {
        let resp = stack
            .http
            .post(format!("{base}/api/token/verify/"))
            .json(&json!({ "token": before }))
            .send()
            .await
            .expect("verify");
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_rotations_over_both_instances_leave_one_current_and_one_next() {
    let Some(stack) = Stack::start(&[]).await else {
        return;
    };
    let admin = stack.admin_token().await;
    let calls = (0..20).map(|i| {
        let base = if i % 2 == 0 {
            stack.a.address.clone()
        } else {
            stack.b.address.clone()
        };
        let http = stack.http.clone();
        let admin = admin.clone();
        async move {
            http.post(format!("{base}/admin/keys/rotate"))
                .bearer_auth(admin)
                .json(&json!({}))
                .send()
                .await
                .expect("rotate")
                .status()
        }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert!(
        statuses.iter().all(|s| *s == 200),
        "every rotation is answered: {statuses:?}"
    );
    let rows = cli_keys_list(&stack.storage).await;
    let count = |state: &str| rows.iter().filter(|r| r.state == state).count();
    assert_eq!(count("current"), 1, "{rows:?}");
    assert_eq!(count("next"), 1, "{rows:?}");
    assert_eq!(count("standby"), 1, "{rows:?}");
    assert_eq!(
        count("retired"),
        20,
        "each call was one real rotation: {rows:?}"
    );
    let same_jwks = eventually(5, || async {
        stack.jwks_body(&stack.a.address).await == stack.jwks_body(&stack.b.address).await
    })
    .await;
    assert!(same_jwks, "A and B publish different key sets");
}

/// Sends `refresh` to A and B at the same moment; returns both answers.
async fn refresh_on_both_at_once(stack: &Stack, refresh: &str) -> [(u16, Value); 2] {
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let call = |base: String| {
        let http = stack.http.clone();
        let barrier = barrier.clone();
        let refresh = refresh.to_string();
        async move {
            // Connect first, so both requests leave together.
            let _ = http.get(format!("{base}/healthz")).send().await;
            barrier.wait().await;
            let resp = http
                .post(format!("{base}/api/token/refresh/"))
                .json(&json!({ "refresh": refresh }))
                .send()
                .await
                .expect("refresh");
            let (status, body) = status_json(resp).await;
            (status.as_u16(), body)
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(call(stack.a.address.clone())),
        tokio::spawn(call(stack.b.address.clone()))
    );
    [a.expect("task"), b.expect("task")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refresh_token_at_both_instances_at_once_is_spent_exactly_once() {
    let Some(stack) = Stack::start(&[]).await else {
        return;
    };
    for round in 0..5 {
        let (_, refresh) = stack.login(&stack.nginx.address).await;
        let answers = refresh_on_both_at_once(&stack, &refresh).await;
        let won = answers.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(won, 1, "round {round}: exactly one succeeds: {answers:?}");
        let lost = answers.iter().find(|(s, _)| *s != 200).expect("a loser");
        assert_eq!(lost.0, 401, "round {round}: {answers:?}");
        assert_eq!(lost.1["code"], "token_not_valid");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_grace_window_both_instances_answer_with_the_identical_pair() {
    let Some(stack) = Stack::start(&[("GATEHOUSE_REFRESH_GRACE", "10s")]).await else {
        return;
    };
    for round in 0..5 {
        let (_, refresh) = stack.login(&stack.nginx.address).await;
        let [(sa, a), (sb, b)] = refresh_on_both_at_once(&stack, &refresh).await;
        assert_eq!((sa, sb), (200, 200), "round {round}: {a} / {b}");
        assert_eq!(a, b, "round {round}: both carry the same successor pair");
        // The successor is live: it refreshes once more.
        let next = stack
            .refresh(
                &stack.nginx.address,
                a["refresh"].as_str().expect("refresh"),
            )
            .await
            .expect("refresh");
        assert_eq!(next.status(), 200);
    }
}

/// One client of the load: a chain of refreshes, and every pair it was given.
struct Chain {
    refresh: String,
    acknowledged: Vec<(String, String)>,
    lost_answers: usize,
    retried_same_pair: usize,
}

/// Refreshes `chain` once through nginx. With `retry_lost`, a lost answer (the instance
/// died holding the request) is retried with the same token, as a client with a grace
/// window may; returns false when the chain cannot go on.
async fn step(stack: &Stack, chain: &mut Chain, retry_lost: bool) -> bool {
    let mut retries = 0;
    loop {
        let answer = stack.refresh(&stack.nginx.address, &chain.refresh).await;
        match answer {
            Ok(resp) if resp.status() == 200 => {
                let body: Value = resp.json().await.expect("json");
                let pair = (
                    body["access"].as_str().expect("access").to_string(),
                    body["refresh"].as_str().expect("refresh").to_string(),
                );
                if retries > 0 {
                    // Asking again inside the window must give this very pair again.
                    let again = stack
                        .refresh(&stack.nginx.address, &chain.refresh)
                        .await
                        .expect("retry");
                    let (status, again) = status_json(again).await;
                    assert_eq!(status, 200, "the retry of a retry: {again}");
                    assert_eq!(again["refresh"], body["refresh"]);
                    assert_eq!(again["access"], body["access"]);
                    chain.retried_same_pair += 1;
                }
                chain.refresh = pair.1.clone();
                chain.acknowledged.push(pair);
                return true;
            }
            // The instance died holding the request: nginx answers 502 (it never replays a
            // POST, and a killed process closes its sockets at once, so no 504).
            Ok(resp) if resp.status() == 502 => {}
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                panic!("an acknowledged refusal during the kill: {status} {text}");
            }
            Err(_) => {}
        }
        chain.lost_answers += 1;
        if !retry_lost || retries >= 3 {
            return false;
        }
        retries += 1;
    }
}

async fn sigkill_under_load(grace: &str) {
    let Some(stack) = Stack::start(&[("GATEHOUSE_REFRESH_GRACE", grace)]).await else {
        return;
    };
    let retry_lost = grace != "0s";
    let a_pid = stack.a.child.id().expect("A runs");
    let mut chains = Vec::new();
    for _ in 0..8 {
        let (access, refresh) = stack.login(&stack.nginx.address).await;
        chains.push(Chain {
            refresh: refresh.clone(),
            acknowledged: vec![(access, refresh)],
            lost_answers: 0,
            retried_same_pair: 0,
        });
    }
    let steps = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let kill_now = Arc::new(tokio::sync::Notify::new());
    const KILL_AFTER: usize = 30;
    const STEPS_PER_CHAIN: usize = 12;
    let stack_ref = &stack;
    let runners = chains.into_iter().map(|mut chain| {
        let steps = steps.clone();
        let kill_now = kill_now.clone();
        async move {
            for _ in 0..STEPS_PER_CHAIN {
                if !step(stack_ref, &mut chain, retry_lost).await {
                    break;
                }
                let done = steps.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                if done == KILL_AFTER {
                    kill_now.notify_one();
                }
            }
            chain
        }
    });
    let killer = async {
        kill_now.notified().await;
        let killed = tokio::process::Command::new("kill")
            .args(["-KILL", &a_pid.to_string()])
            .status()
            .await
            .expect("kill");
        assert!(killed.success());
    };
    let (chains, ()) = tokio::join!(futures_util::future::join_all(runners), killer);
    let dead = stack
        .http
        .get(stack.a.url("/healthz"))
        .send()
        .await
        .is_err();
    assert!(dead, "A was killed");
    let total = steps.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        total > KILL_AFTER,
        "nginx failed over to B: {total} refreshes acknowledged"
    );
    let lost: usize = chains.iter().map(|c| c.lost_answers).sum();
    let retried: usize = chains.iter().map(|c| c.retried_same_pair).sum();
    if retry_lost {
        // Every client got through its whole chain, lost answers or not.
        assert_eq!(total, 8 * STEPS_PER_CHAIN, "lost {lost}, retried {retried}");
    }
    for chain in &chains {
        // Every acknowledged access token verifies (its key is still served).
        for (access, _) in &chain.acknowledged {
            let resp = stack
                .http
                .post(stack.nginx.url("/api/token/verify/"))
                .json(&json!({ "token": access }))
                .send()
                .await
                .expect("verify");
            assert_eq!(resp.status(), 200, "an acknowledged access token was lost");
        }
        // The newest acknowledged refresh token is live, unless (strict mode) the client
        // lost the answer to the request that presented it: that one may have been spent.
        let (_, newest) = chain.acknowledged.last().expect("a pair");
        if retry_lost || chain.lost_answers == 0 {
            let resp = stack
                .refresh(&stack.nginx.address, newest)
                .await
                .expect("refresh");
            assert_eq!(resp.status(), 200, "an acknowledged refresh token was lost");
        }
    }
    eprintln!(
        "sigkill (grace {grace}): {total} refreshes acknowledged, {lost} answers lost, \
         {retried} retries answered with the same pair"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_an_instance_under_load_loses_nothing_acknowledged() {
    sigkill_under_load("0s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_with_grace_lets_clients_retry_lost_answers() {
    sigkill_under_load("10s").await;
}

/// The stack on a PostgreSQL cluster of its own, which a test may stop and start; `None`
/// (after a visible SKIP) when nginx or PostgreSQL is missing.
async fn stack_on_private_postgres(env: &[(&str, &str)]) -> Option<(PrivatePostgres, Stack)> {
    stack_on_private_postgres_with(&[], env).await
}

/// As [`stack_on_private_postgres`], the server started with `settings` (`name=value`).
async fn stack_on_private_postgres_with(
    settings: &[&str],
    env: &[(&str, &str)],
) -> Option<(PrivatePostgres, Stack)> {
    let Some(nginx_bin) = nginx_binary() else {
        skip("nginx (Debian package nginx)");
        return None;
    };
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_err() {
        skip("PostgreSQL (GATEHOUSE_TEST_POSTGRES_URL)");
        return None;
    }
    let pg = PrivatePostgres::start_new(settings)?;
    let storage = Storage::on_database(pg.url());
    let stack = Stack::start_on(storage, &nginx_bin, env).await;
    Some((pg, stack))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_gives_prompt_503s_and_service_resumes_when_it_returns() {
    let Some((pg, stack)) = stack_on_private_postgres(&[("GATEHOUSE_DB_TIMEOUT", "1s")]).await
    else {
        return;
    };
    let (_, refresh) = stack.login(&stack.nginx.address).await;

    pg.stop();
    // A deadline, not a measurement: a hung request fails the test instead of passing late.
    let prompt = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    for instance in [&stack.a, &stack.b] {
        let resp = prompt
            .get(instance.url("/readyz"))
            .send()
            .await
            .expect("readyz answers");
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["database"], "unreachable");
    }
    let resp = prompt
        .post(stack.nginx.url("/api/token/"))
        .json(&json!({ "username": "alice", "password": ALICE_PASSWORD }))
        .send()
        .await
        .expect("login answers");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["detail"].is_string(), "{body}");
    let resp = prompt
        .post(stack.nginx.url("/api/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .expect("refresh answers");
    assert_eq!(resp.status(), 503);
    let resp = password_grant(
        &prompt,
        &stack.nginx.address,
        "adm",
        &stack.adm_secret,
        "root",
        ROOT_PASSWORD,
        "admin",
    )
    .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    // Public keys are served from memory: verifiers keep working through the outage.
    let resp = prompt
        .get(stack.nginx.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks");
    assert_eq!(resp.status(), 200);

    pg.start();
    for instance in [&stack.a, &stack.b] {
        let back = eventually(30, || async {
            prompt
                .get(instance.url("/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
        assert!(back, "instance did not recover: {}", instance.log_text());
    }
    // Every pooled connection died with the old server; each instance must recover them all.
    for _ in 0..6 {
        for instance in [&stack.a, &stack.b] {
            stack.login(&instance.address).await;
        }
    }
    let resp = stack
        .refresh(&stack.nginx.address, &refresh)
        .await
        .expect("refresh");
    assert_eq!(
        resp.status(),
        200,
        "the refresh token from before the outage"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_and_exits_cleanly() {
    let storage = Storage::new(Backend::Sqlite).expect("sqlite storage");
    seed_storage(&storage).await;
    let out = run_cli(
        &storage,
        &["user", "add", "alice", "--password-stdin"],
        &format!("{ALICE_PASSWORD}\n"),
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    let mut server = ServerProcess::spawn(&storage, "http://127.0.0.1", "drain");
    let http = reqwest::Client::new();
    assert!(server.ready(&http, 60).await, "{}", server.log_text());
    // One hashing worker: the logins queue behind each other. All of them are written to
    // their connections before the first answer comes back, and the signal goes out then,
    // while the rest are still in flight.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = json!({ "username": "alice", "password": ALICE_PASSWORD }).to_string();
    let request = format!(
        "POST /api/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let address = host_port(&server.address).to_string();
    let mut connections = Vec::new();
    for _ in 0..12 {
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connect");
        stream.write_all(request.as_bytes()).await.expect("send");
        connections.push(stream);
    }
    let mut first = [0u8; 12];
    connections[0]
        .read_exact(&mut first)
        .await
        .expect("a first answer");
    let pid = server.child.id().expect("running");
    let status = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .expect("kill");
    assert!(status.success());
    let mut answers = vec![String::from_utf8_lossy(&first).into_owned()];
    for stream in connections.iter_mut().skip(1) {
        let mut head = Vec::new();
        stream
            .read_to_end(&mut head)
            .await
            .expect("an answer after SIGTERM");
        answers.push(String::from_utf8_lossy(&head).into_owned());
    }
    for answer in &answers {
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "an in-flight login was dropped: {answer:?}"
        );
    }
    let exit = tokio::time::timeout(Duration::from_secs(60), server.child.wait())
        .await
        .expect("the server exits after draining")
        .expect("wait");
    assert!(
        exit.success(),
        "exit status {exit:?}: {}",
        server.log_text()
    );
    // Nothing new is accepted once it has stopped.
    assert!(http.get(server.url("/healthz")).send().await.is_err());
}

/// Opens several pooled connections on `base`: concurrent requests that each read the
/// database.
async fn fill_pool(stack: &Stack, base: &str, refresh: &str) {
    let verifies = (0..16).map(|_| {
        stack
            .http
            .post(format!("{base}/api/token/verify/"))
            .json(&json!({ "token": refresh }))
            .send()
    });
    for resp in futures_util::future::join_all(verifies).await {
        assert_eq!(resp.expect("verify").status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_costs_no_request_once_it_is_back_and_the_outage_is_answered_at_once() {
    // DB_TIMEOUT stays at its default (5 s): an outage must not cost each request that long.
    let Some((pg, stack)) = stack_on_private_postgres(&[("GATEHOUSE_DB_POOL_SIZE", "8")]).await
    else {
        return;
    };
    let (_, refresh) = stack.login(&stack.nginx.address).await;
    for instance in [&stack.a, &stack.b] {
        fill_pool(&stack, &instance.address, &refresh).await;
    }

    pg.stop();
    // Only A is asked during the outage, which lasts about three seconds as a restart does;
    // B sits idle with its pooled connections, now dead.
    let asking = async {
        let mut answers = Vec::new();
        let outage = std::time::Instant::now();
        while outage.elapsed() < Duration::from_secs(3) {
            let started = std::time::Instant::now();
            let resp = stack
                .http
                .post(stack.a.url("/api/token/"))
                .json(&json!({ "username": "alice", "password": ALICE_PASSWORD }))
                .send()
                .await
                .expect("answered");
            let retry_after = resp.headers().contains_key("retry-after");
            answers.push((resp.status(), retry_after, started.elapsed()));
        }
        answers
    };
    let answers = asking.await;
    pg.start();
    for (status, retry_after, took) in &answers {
        assert_eq!(*status, 503);
        assert!(retry_after, "a 503 without Retry-After");
        // A bound, not a benchmark: the default DB_TIMEOUT would be 5 s per request.
        assert!(
            *took < Duration::from_secs(1),
            "a 503 took {took:?} during the outage"
        );
    }
    let answered = answers.len();
    let back = eventually(30, || async {
        stack
            .http
            .get(stack.a.url("/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(back, "A did not recover: {}", stack.a.log_text());
    eprintln!("during the outage, {answered} logins at A were each answered 503 within 1 s");

    // A run over B (idle through the outage), nginx and A: not one request may fail.
    let mut failed = Vec::new();
    for round in 0..12 {
        for base in [&stack.b.address, &stack.nginx.address, &stack.a.address] {
            let resp = stack
                .http
                .post(format!("{base}/api/token/"))
                .json(&json!({ "username": "alice", "password": ALICE_PASSWORD }))
                .send()
                .await
                .expect("answered");
            if resp.status() != 200 {
                failed.push(format!("round {round} at {base}: {}", resp.status()));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "failed after the database was back: {failed:?}\nB: {}",
        stack.b.log_text()
    );
    let resp = stack
        .refresh(&stack.b.address, &refresh)
        .await
        .expect("refresh");
    assert_eq!(
        resp.status(),
        200,
        "the refresh token from before the outage"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_refuses_more_connections_makes_requests_wait_not_fail() {
    // PostgreSQL admits six connections; each instance's pool would open eight. The refused
    // attempts ("too many clients") must not turn into 503s while the pools hold live
    // connections that come back within DB_TIMEOUT.
    let Some((pg, stack)) = stack_on_private_postgres_with(
        &["max_connections=6", "max_wal_senders=0"],
        &[("GATEHOUSE_DB_POOL_SIZE", "8")],
    )
    .await
    else {
        return;
    };
    let mut refresh_tokens = Vec::new();
    for _ in 0..40 {
        refresh_tokens.push(stack.login(&stack.nginx.address).await.1);
    }
    // Forty refreshes at once through nginx: each a read and a write transaction.
    let refreshes = refresh_tokens
        .iter()
        .map(|refresh| stack.refresh(&stack.nginx.address, refresh));
    let mut statuses = std::collections::BTreeMap::new();
    for resp in futures_util::future::join_all(refreshes).await {
        *statuses
            .entry(resp.expect("answered").status().as_u16())
            .or_insert(0) += 1;
    }
    let log = std::fs::read_to_string(pg.dir.path().join("postgres.log")).unwrap_or_default();
    assert!(
        log.contains("too many clients"),
        "the test did not reach the connection limit: {statuses:?}"
    );
    assert_eq!(
        statuses,
        std::collections::BTreeMap::from([(200, 40)]),
        "A: {}\nB: {}",
        stack.a.log_text(),
        stack.b.log_text()
    );
}
