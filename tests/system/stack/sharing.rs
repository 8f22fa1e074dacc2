//! Two instances, one database: pairs, refreshes and rotations seen by both.

use super::*;

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
