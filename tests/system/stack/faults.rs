//! The faults the stack survives: a killed instance under load, a stopped or restarted
//! database, one that refuses more connections, SIGTERM.

use super::*;

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
