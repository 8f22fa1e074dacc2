//! A database failover under load: the production stack (two instances behind nginx) on a
//! PostgreSQL primary with a synchronous streaming standby, reached through libpq's
//! multi-host URL with `target_session_attrs=read-write` (README, "Operating"). The primary
//! is stopped at once, as a crash would; two seconds later the standby is promoted.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::{Connection, RunQueryDsl};
use serde_json::{json, Value};

use crate::helpers::{eventually, skip, Storage};
use crate::private_postgres::PrivatePostgres;
use crate::stack::{nginx_binary, Stack};

/// One client of the load: its newest refresh token and the access tokens it was given.
#[derive(Default)]
struct Client {
    refresh: String,
    access: Vec<String>,
    refusals_503: usize,
}

/// The standby confirms every commit before the primary acknowledges it.
fn wait_for_a_synchronous_standby(primary: &PrivatePostgres) {
    #[derive(diesel::QueryableByName)]
    struct State {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sync_state: String,
    }
    let mut conn = diesel::PgConnection::establish(&primary.url()).expect("primary");
    for _ in 0..300 {
        let states: Vec<State> =
            diesel::sql_query("SELECT sync_state::text AS sync_state FROM pg_stat_replication")
                .load(&mut conn)
                .expect("pg_stat_replication");
        if states.iter().any(|s| s.sync_state == "sync") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the standby never became synchronous");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_stopped_under_load_and_its_standby_promoted_loses_nothing_acknowledged() {
    let Some(nginx_bin) = nginx_binary() else {
        skip("nginx (Debian package nginx)");
        return;
    };
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_err() {
        skip("PostgreSQL (GATEHOUSE_TEST_POSTGRES_URL)");
        return;
    }
    let Some(primary) = PrivatePostgres::start_new(&["synchronous_standby_names='standby'"]) else {
        return;
    };
    let standby = PrivatePostgres::standby_of(&primary);
    wait_for_a_synchronous_standby(&primary);
    let url = format!(
        "postgres://postgres@/postgres?host={},{}&target_session_attrs=read-write",
        primary.socket_dir(),
        standby.socket_dir()
    );
    // A grace window lets a client retry a refresh whose answer it lost (the commit may have
    // reached the standby when the primary died before acknowledging it).
    let stack = Stack::start_on(
        Storage::on_database(url),
        &nginx_bin,
        &[
            ("GATEHOUSE_DB_TIMEOUT", "1s"),
            ("GATEHOUSE_REFRESH_GRACE", "60s"),
        ],
    )
    .await;

    let mut clients = Vec::new();
    for _ in 0..4 {
        let (access, refresh) = stack.login(&stack.nginx.address).await;
        clients.push(Client {
            refresh,
            access: vec![access],
            ..Default::default()
        });
    }
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let promoted = Arc::new(AtomicBool::new(false));
    let acknowledged_after_promotion = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let stack_ref = &stack;
    let runners = clients.into_iter().map(|mut client| {
        let (acknowledged, promoted, after, stop) = (
            acknowledged.clone(),
            promoted.clone(),
            acknowledged_after_promotion.clone(),
            stop.clone(),
        );
        async move {
            while !stop.load(Ordering::SeqCst) {
                // The stack's client gives up after 20 s: a hung request fails the test.
                let resp = stack_ref
                    .refresh(&stack_ref.nginx.address, &client.refresh)
                    .await
                    .expect("every request is answered");
                let status = resp.status();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                match status.as_u16() {
                    200 => {
                        client.refresh = body["refresh"].as_str().expect("refresh").into();
                        client
                            .access
                            .push(body["access"].as_str().expect("access").into());
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                        if promoted.load(Ordering::SeqCst) {
                            after.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    // No writable primary: refused at once; the client retries its token.
                    503 => {
                        client.refusals_503 += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => panic!("during the failover: {other} {body}"),
                }
            }
            client
        }
    });
    let failover = async {
        assert!(
            eventually(60, || {
                let n = acknowledged.load(Ordering::SeqCst);
                async move { n >= 40 }
            })
            .await,
            "the load runs before the failover"
        );
        primary.stop_immediately();
        tokio::time::sleep(Duration::from_secs(2)).await;
        standby.promote();
        promoted.store(true, Ordering::SeqCst);
        let served = eventually(30, || {
            let n = acknowledged_after_promotion.load(Ordering::SeqCst);
            async move { n >= 40 }
        })
        .await;
        stop.store(true, Ordering::SeqCst);
        served
    };
    let (clients, served) = tokio::join!(futures_util::future::join_all(runners), failover);
    assert!(
        served,
        "service within seconds of the promotion\nA: {}\nB: {}",
        stack.a.log_text(),
        stack.b.log_text()
    );
    let refused: usize = clients.iter().map(|c| c.refusals_503).sum();
    assert!(refused > 0, "the clients met the outage (503s)");

    // Nothing acknowledged is lost: every access token verifies, every newest refresh
    // token refreshes, on the promoted standby.
    for client in &clients {
        for access in &client.access {
            let resp = stack
                .http
                .post(stack.nginx.url("/api/token/verify/"))
                .json(&json!({ "token": access }))
                .send()
                .await
                .expect("verify");
            assert_eq!(resp.status(), 200, "an acknowledged access token was lost");
        }
        let resp = stack
            .refresh(&stack.nginx.address, &client.refresh)
            .await
            .expect("refresh");
        assert_eq!(resp.status(), 200, "an acknowledged refresh token was lost");
    }
    eprintln!(
        "failover: {} refreshes acknowledged, {refused} prompt 503s while no primary was writable",
        acknowledged.load(Ordering::SeqCst)
    );
}
