//! The figures of BENCHMARKS.md's outbox section, not a check: ignored by default, run with
//! `cargo test --test api outbox_figures -- --ignored --nocapture --test-threads 1`.
//! Latency: from the start of a `/logout` (with id_token_hint) to the receiver's validated
//! receipt, on loopback. Throughput: notifications written straight to the outbox (as a
//! burst of session ends would) until the receiver has validated all of them: claim, sign,
//! POST, record, one instance.

use std::time::{Duration, Instant};

use gatehouse::outbox::{enqueue, NewMessage};
use gatehouse::sso::backchannel::endpoints::LogoutEndpoints;
use gatehouse::sso::backchannel::{Notice, KIND};

use crate::helpers::receiver::Receiver;
use crate::helpers::{eventually, peek, spawn_app, Backend};
use crate::sso::{authorize_url, browser, query_param, setup, sign_in, VERIFIER};

const REDIRECT: &str = "http://127.0.0.2:9998/cb";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand"]
async fn outbox_figures() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        figures(backend).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn figures(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let receiver = Receiver::start(&app.settings.issuer, app.jwks().await).await;
    setup(&app, false).await;
    app.add_client(&["other", "--public", "--redirect-uri", REDIRECT])
        .await;
    app.state
        .sso
        .set_logout_endpoints(LogoutEndpoints {
            client_id: "other".into(),
            backchannel_logout_uri: Some(receiver.uri("other")),
            ..LogoutEndpoints::default()
        })
        .await
        .expect("registered");

    // Latency, one logout at a time.
    const LOGOUTS: usize = 100;
    let mut latencies = vec![];
    for n in 0..LOGOUTS {
        let b = browser();
        let url = authorize_url(
            &app,
            &[
                ("client_id", "other"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
            ],
        );
        let cb = sign_in(&app, &b, &url, "alice-password-1").await;
        let code = query_param(&cb, "code").unwrap();
        let tokens: serde_json::Value = app
            .http
            .post(app.url("/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "other"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id_token = tokens["id_token"].as_str().unwrap();
        let sid = peek(id_token).1["sid"].as_str().unwrap().to_string();
        let url = format!(
            "{}/logout?{}",
            app.address,
            serde_urlencoded::to_string([("id_token_hint", id_token)]).unwrap()
        );
        let started = Instant::now();
        let resp = b.get(&url).send().await.unwrap();
        assert!(resp.status().is_success());
        assert!(eventually(10, || async { receiver.valid().len() == n + 1 }).await);
        let arrived = receiver
            .arrivals()
            .into_iter()
            .find(|(s, _)| *s == sid)
            .expect("arrived")
            .1;
        latencies.push(arrived - started);
    }
    latencies.sort();

    // Throughput: a burst written at once.
    const BURST: usize = 1000;
    let now = app.clock.now();
    let uri = receiver.uri("other");
    app.state
        .db
        .write(move |conn| {
            for n in 0..BURST {
                let notice = Notice {
                    client_id: "other".into(),
                    sub: "burst".into(),
                    sid: format!("burst-{n}"),
                    jti: uuid::Uuid::new_v4().to_string(),
                };
                let payload = serde_json::to_string(&notice).unwrap();
                let key = format!("other burst-{n}");
                enqueue(
                    conn,
                    &NewMessage {
                        kind: KIND,
                        destination: &uri,
                        payload: &payload,
                        ordering_key: &key,
                    },
                    now,
                )?;
            }
            Ok::<_, gatehouse::db::DbError>(())
        })
        .await
        .unwrap();
    let started = Instant::now();
    app.state.outbox.waker().wake();
    assert!(eventually(300, || async { receiver.valid().len() == LOGOUTS + BURST }).await);
    let took = started.elapsed();
    assert!(receiver.invalid().is_empty());
    eprintln!(
        "{backend:?}: logout → receipt over {LOGOUTS} logouts: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         burst of {BURST}: {:.2} s, {:.0} notifications/s",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0,
        took.as_secs_f64(),
        BURST as f64 / took.as_secs_f64(),
    );
}
