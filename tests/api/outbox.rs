//! The outbox core (`gatehouse::outbox`) on both backends: a message written in a transaction
//! exists exactly when the transaction commits; one claim at a time under a lease that
//! expires; retries with backoff on the manual clock; giving up after OUTBOX_GIVE_UP_AFTER
//! (failed, counted, audited); order per ordering key; two instances never deliver one
//! message twice; and the console page lists pending and failed messages without payloads.
//!
//! The deliverer here is a real one of a test kind, recording what it was handed; the
//! database, the clock and the delivery task are the server's own.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use gatehouse::db::repo::outbox::{self as rows, OutboxRow};
use gatehouse::db::{write_transaction, DbError};
use gatehouse::metrics::Metrics;
use gatehouse::outbox::{enqueue, Deliverer, Delivery, Message, NewMessage, Outbox, OutboxPolicy};
use reqwest::StatusCode;

use crate::both_backends;
use crate::console::signed_in;
use crate::helpers::{eventually, spawn_app, Backend, TestApp, ADMIN_PASSWORD};

both_backends!(
    a_message_exists_only_if_its_transaction_commits,
    a_claim_is_held_by_one_claimer_until_its_lease_ends,
    a_failed_delivery_is_retried_after_a_backoff_and_given_up_after_the_limit,
    a_rejected_message_fails_at_once,
    messages_of_one_key_are_delivered_in_order,
    two_instances_never_deliver_one_message_twice,
    the_console_lists_pending_and_failed_messages_without_payloads,
);

const KIND: &str = "test_note";
const DAY: i64 = 24 * 3600;

/// What the test deliverer answers.
const DELIVER: u8 = 0;
const RETRY: u8 = 1;
const REJECT: u8 = 2;

/// Records each message it is handed (its id and payload), and answers as switched.
#[derive(Default)]
struct Recorder {
    mode: AtomicU8,
    seen: Mutex<Vec<(i64, String)>>,
}

impl Recorder {
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
    fn payloads(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, p)| p.clone())
            .collect()
    }
}

impl Deliverer for Recorder {
    fn deliver<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            self.seen
                .lock()
                .unwrap()
                .push((message.id, message.payload.clone()));
            match self.mode.load(Ordering::SeqCst) {
                DELIVER => Delivery::Delivered,
                RETRY => Delivery::Retry("receiver answered 503".into()),
                _ => Delivery::Reject("receiver answered 400".into()),
            }
        })
    }
}

/// An outbox on the test server's database and clock, with the recorder for [`KIND`] (the
/// server's own outbox has no deliverer for it, so it never claims these messages).
fn outbox(app: &TestApp, recorder: &Arc<Recorder>, metrics: &Arc<Metrics>) -> Outbox {
    Outbox::new(
        app.state.db.clone(),
        app.clock.clone(),
        OutboxPolicy {
            give_up_after_secs: DAY,
        },
        metrics.clone(),
    )
    .register(KIND, recorder.clone())
}

async fn write(app: &TestApp, key: &str, payload: &str) {
    let (key, payload, now) = (key.to_string(), payload.to_string(), app.clock.now());
    app.state
        .db
        .write(move |conn| {
            enqueue(
                conn,
                &NewMessage {
                    kind: KIND,
                    destination: "https://rp.example/logout",
                    payload: &payload,
                    ordering_key: &key,
                },
                now,
            )
        })
        .await
        .expect("enqueued");
}

async fn row(app: &TestApp, id: i64) -> OutboxRow {
    app.state
        .db
        .run(move |conn| rows::get(conn, id))
        .await
        .expect("read")
        .expect("row exists")
}

async fn all_rows(app: &TestApp) -> Vec<OutboxRow> {
    app.state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            // One read: a row moving from pending to delivered is seen once.
            gatehouse::db::schema::outbox::table
                .order(gatehouse::db::schema::outbox::id.asc())
                .load::<rows::OutboxRow>(conn)
                .map_err(DbError::from_diesel)
        })
        .await
        .expect("rows")
}

fn metrics() -> Arc<Metrics> {
    Arc::new(Metrics::new().expect("metrics"))
}

fn series(metrics: &Metrics, name: &str) -> f64 {
    let text = String::from_utf8(metrics.render(gauges())).expect("utf-8");
    let line = format!("{name}{{kind=\"{KIND}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .unwrap_or_else(|| panic!("{line} in {text}"))
        .trim()
        .parse()
        .expect("number")
}

fn gauges() -> gatehouse::metrics::Gauges {
    gatehouse::metrics::Gauges {
        key_rotations: 0,
        current_key_age_secs: 0,
        pool_max: 0,
        pool_open: 0,
        pool_idle: 0,
        log_lines_dropped: 0,
    }
}

async fn a_message_exists_only_if_its_transaction_commits(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let now = app.clock.now();
    let rolled_back: Result<(), DbError> = app
        .state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let message = NewMessage {
                    kind: KIND,
                    destination: "https://rp.example/logout",
                    payload: "{}",
                    ordering_key: "s1",
                };
                enqueue(conn, &message, now)?;
                // The change that caused it fails after the write: both go.
                Err(DbError::Conflict)
            })
        })
        .await;
    assert!(matches!(rolled_back, Err(DbError::Conflict)));
    assert_eq!(all_rows(&app).await, vec![]);

    write(&app, "s1", "{\"n\":1}").await;
    let stored = all_rows(&app).await;
    assert_eq!(stored.len(), 1);
    let m = &stored[0];
    assert_eq!((m.kind.as_str(), m.status.as_str()), (KIND, "pending"));
    assert_eq!((m.created_at, m.next_attempt_at, m.attempts), (now, now, 0));
    assert_eq!(m.payload, "{\"n\":1}");
}

async fn a_claim_is_held_by_one_claimer_until_its_lease_ends(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let recorder = Arc::new(Recorder::default());
    let (one, other) = (
        outbox(&app, &recorder, &metrics()),
        outbox(&app, &recorder, &metrics()),
    );
    write(&app, "s1", "p").await;
    let first = one.claim().await.expect("claim").expect("due");
    assert_eq!(first.attempt, 1);
    assert!(one.claim().await.expect("claim").is_none(), "claimed once");
    assert!(
        other.claim().await.expect("claim").is_none(),
        "by one claimer"
    );

    // The claimer dies; its lease runs out and another instance takes the message.
    app.advance(gatehouse::outbox::delivery::LEASE_SECS as u64 + 1);
    let second = other.claim().await.expect("claim").expect("lease over");
    assert_eq!((second.id, second.attempt), (first.id, 2));
    assert_ne!(second.claimer, first.claimer);
    // The first claimer's late outcome does not overwrite the second claim.
    one.record(&first, Delivery::Delivered)
        .await
        .expect("record");
    let stored = row(&app, first.id).await;
    assert_eq!(stored.status, "pending");
    assert_eq!(stored.claimed_by.as_deref(), Some(second.claimer.as_str()));
    other
        .record(&second, Delivery::Delivered)
        .await
        .expect("record");
    let stored = row(&app, first.id).await;
    assert_eq!(stored.status, "delivered");
    assert_eq!(stored.delivered_at, Some(app.clock.now()));
    assert_eq!((stored.claimed_by, stored.claimed_until), (None, None));
    assert!(
        other.claim().await.expect("claim").is_none(),
        "delivered once"
    );
}

async fn a_failed_delivery_is_retried_after_a_backoff_and_given_up_after_the_limit(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let recorder = Arc::new(Recorder::default());
    let metrics = metrics();
    let outbox = outbox(&app, &recorder, &metrics);
    write(&app, "s1", "p").await;
    let written = app.clock.now();

    let mut waits = vec![];
    let mut attempt = 0;
    // Each failure puts the next attempt off by 2^(n-1) * 5 s (upper half, jittered), never
    // more than 15 min.
    while app.clock.now() - written < DAY {
        let m = outbox.claim().await.expect("claim").expect("due");
        attempt += 1;
        assert_eq!(m.attempt, attempt);
        outbox
            .record(&m, Delivery::Retry("receiver answered 503".into()))
            .await
            .expect("record");
        let stored = row(&app, m.id).await;
        assert_eq!(stored.status, "pending");
        assert_eq!(stored.last_error.as_deref(), Some("receiver answered 503"));
        let wait = stored.next_attempt_at - app.clock.now();
        let full = (5_i64 << (attempt - 1).min(20)).min(900);
        assert!(
            (full / 2..=full).contains(&wait),
            "attempt {attempt}: {wait}"
        );
        assert!(
            outbox.claim().await.expect("claim").is_none(),
            "not due yet"
        );
        waits.push(wait);
        app.advance(wait as u64);
    }
    assert!(attempt > 90, "a day of attempts: {attempt}");
    // Past the limit the next failure is the last.
    let m = outbox.claim().await.expect("claim").expect("due");
    outbox
        .record(&m, Delivery::Retry("receiver answered 503".into()))
        .await
        .expect("record");
    let stored = row(&app, m.id).await;
    assert_eq!(stored.status, "failed");
    assert_eq!(stored.failed_at, Some(app.clock.now()));
    assert!(outbox.claim().await.expect("claim").is_none());
    assert_eq!(series(&metrics, "gatehouse_outbox_failed_total"), 1.0);
    assert_eq!(series(&metrics, "gatehouse_outbox_delivered_total"), 0.0);
    let audit = app
        .state
        .db
        .run(|conn| {
            gatehouse::db::repo::audit::list(
                conn,
                &gatehouse::db::repo::audit::AuditQuery {
                    kind: Some("outbox.failed".into()),
                    actor: None,
                    since: None,
                    until: None,
                    before: None,
                    limit: 10,
                },
            )
        })
        .await
        .expect("audit");
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(
        audit[0].subject.as_deref(),
        Some(&*format!("{KIND} #{}", m.id))
    );
    assert!(
        audit[0].detail.as_deref().unwrap().contains("503"),
        "{audit:?}"
    );
}

async fn a_rejected_message_fails_at_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let recorder = Arc::new(Recorder::default());
    let metrics = metrics();
    let outbox = outbox(&app, &recorder, &metrics);
    recorder.set(REJECT);
    write(&app, "s1", "p").await;
    let task = outbox.start();
    outbox.waker().wake();
    assert!(
        eventually(10, || async { all_rows(&app).await[0].status == "failed" }).await,
        "failed"
    );
    assert_eq!(recorder.payloads(), ["p"], "one attempt");
    // The background task counts the failure just after recording it.
    assert!(
        eventually(10, || async {
            series(&metrics, "gatehouse_outbox_failed_total") == 1.0
        })
        .await,
        "counted: {}",
        series(&metrics, "gatehouse_outbox_failed_total")
    );
    outbox.shutdown();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops on shutdown")
        .expect("no panic");
}

async fn messages_of_one_key_are_delivered_in_order(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let recorder = Arc::new(Recorder::default());
    let metrics = metrics();
    let outbox = outbox(&app, &recorder, &metrics);
    write(&app, "s1", "s1-first").await;
    write(&app, "s1", "s1-second").await;
    write(&app, "s2", "s2-first").await;

    let first = outbox.claim().await.expect("claim").expect("due");
    assert_eq!(first.payload, "s1-first");
    // s1's second waits for its first; s2 does not.
    let other = outbox.claim().await.expect("claim").expect("due");
    assert_eq!(other.payload, "s2-first");
    assert!(outbox.claim().await.expect("claim").is_none());
    outbox
        .record(&first, Delivery::Retry("unreachable".into()))
        .await
        .expect("record");
    // While s1's first waits for its retry, its second still waits.
    assert!(outbox.claim().await.expect("claim").is_none());

    // The receiver comes back: the background task sends everything, in order.
    let task = outbox.start();
    outbox
        .record(&other, Delivery::Delivered)
        .await
        .expect("record");
    app.advance(3600);
    assert!(
        eventually(10, || async {
            all_rows(&app).await.iter().all(|m| m.status == "delivered")
        })
        .await,
        "all delivered: {:?}",
        all_rows(&app).await
    );
    let seen = recorder.payloads();
    let s1: Vec<&String> = seen.iter().filter(|p| p.starts_with("s1")).collect();
    assert_eq!(s1, ["s1-first", "s1-second"], "{seen:?}");
    // The background task counts each delivery just after recording it.
    assert!(
        eventually(10, || async {
            series(&metrics, "gatehouse_outbox_delivered_total") == 3.0
        })
        .await,
        "counted: {}",
        series(&metrics, "gatehouse_outbox_delivered_total")
    );
    assert!(
        eventually(10, || async {
            series(&metrics, "gatehouse_outbox_pending") == 0.0
        })
        .await
    );
    outbox.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
}

async fn two_instances_never_deliver_one_message_twice(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    const MESSAGES: usize = 60;
    for n in 0..MESSAGES {
        write(&app, &format!("s{n}"), &n.to_string()).await;
    }
    let recorders = [Arc::new(Recorder::default()), Arc::new(Recorder::default())];
    // Each instance with its own pool, as two processes would have.
    let instances: Vec<Outbox> = recorders
        .iter()
        .map(|r| {
            let db = gatehouse::db::Db::new(&app.settings.database_url, 4, Duration::from_secs(5))
                .expect("pool");
            Outbox::new(
                db,
                app.clock.clone(),
                OutboxPolicy {
                    give_up_after_secs: DAY,
                },
                metrics(),
            )
            .register(KIND, r.clone())
        })
        .collect();
    let tasks: Vec<_> = instances.iter().map(Outbox::start).collect();
    for i in &instances {
        i.waker().wake();
    }
    assert!(
        eventually(60, || async {
            all_rows(&app).await.iter().all(|m| m.status == "delivered")
        })
        .await,
        "all delivered"
    );
    let mut times: BTreeMap<String, usize> = BTreeMap::new();
    for r in &recorders {
        for p in r.payloads() {
            *times.entry(p).or_default() += 1;
        }
    }
    assert_eq!(times.len(), MESSAGES);
    assert!(times.values().all(|&n| n == 1), "{times:?}");
    let counts: Vec<usize> = recorders.iter().map(|r| r.payloads().len()).collect();
    eprintln!("deliveries per instance: {counts:?}");
    for (i, task) in instances.iter().zip(tasks) {
        i.shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
}

async fn the_console_lists_pending_and_failed_messages_without_payloads(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let recorder = Arc::new(Recorder::default());
    let outbox = outbox(&app, &recorder, &metrics());
    write(&app, "s1", "secret-payload-one").await;
    write(&app, "s2", "secret-payload-two").await;
    let m = outbox.claim().await.expect("claim").expect("due");
    outbox
        .record(&m, Delivery::Reject("receiver answered 400".into()))
        .await
        .expect("record");

    let _ = app.admin_token().await; // creates the admin user root
    let admin = signed_in(&app, "root", ADMIN_PASSWORD, "/console/outbox").await;
    let page = admin
        .get(app.url("/console/outbox"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    let pending = &html[html.find("<h2>Pending").unwrap()..html.find("<h2>Failed").unwrap()];
    let failed = &html[html.find("<h2>Failed").unwrap()..];
    assert!(pending.contains("https://rp.example/logout"), "{html}");
    assert!(pending.contains(KIND), "{html}");
    assert!(failed.contains("receiver answered 400"), "{html}");
    assert!(!html.contains("secret-payload"), "{html}");

    // Not for strangers.
    let stranger = app
        .http
        .get(app.url("/console/outbox"))
        .send()
        .await
        .expect("page");
    assert_eq!(stranger.status(), StatusCode::FOUND);
}
