//! The delivery task every instance runs: claim one due message, hand it to its kind's
//! deliverer, record what came of it; again until nothing is due; then wait for an enqueue
//! on this instance, a move of a manual clock, the poll interval or shutdown.
//!
//! A claim is a lease (`LEASE`): an instance that dies mid-delivery leaves a claim that
//! expires, and another instance sends the message again (at-least-once; the message id is
//! stable for receivers to deduplicate). A claimer whose lease ran out cannot record an
//! outcome over the new claim: every update names the claimer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{backoff, Deliverer, Delivery, Message, Waker};
use crate::audit::{self, Event, Kind, Outcome};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::repo::outbox::OutboxRow;
use crate::db::{repo, write_transaction, Db, DbError};
use crate::metrics::Metrics;

/// How long a claim holds. A delivery is cut off well before it ends ([`ATTEMPT_LIMIT`]).
pub const LEASE_SECS: i64 = 60;
/// The longest one attempt may take, whatever its deliverer does.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(30);
/// How often an idle instance looks for messages other instances wrote (or whose backoff
/// ended) on the system clock.
const POLL: Duration = Duration::from_secs(1);
/// Deliveries in flight at once per instance, so one slow receiver does not hold the rest.
const IN_FLIGHT: usize = 4;
/// The stored error text is cut to this many characters.
const ERROR_CHARS: usize = 300;

/// The settings delivery needs.
#[derive(Debug, Clone, Copy)]
pub struct OutboxPolicy {
    /// After this long since a message was written, a failed attempt is its last.
    pub give_up_after_secs: i64,
}

impl OutboxPolicy {
    pub fn from_settings(settings: &Settings) -> OutboxPolicy {
        OutboxPolicy {
            give_up_after_secs: settings.outbox_give_up_after.as_secs() as i64,
        }
    }
}

/// The outbox of one instance: its deliverers and its delivery task. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: Clock,
    policy: OutboxPolicy,
    metrics: Arc<Metrics>,
    deliverers: BTreeMap<&'static str, Arc<dyn Deliverer>>,
    waker: Waker,
    /// Names this instance's claims (with a counter per claim).
    instance: String,
    stop: watch::Sender<bool>,
}

impl Outbox {
    pub fn new(db: Db, clock: Clock, policy: OutboxPolicy, metrics: Arc<Metrics>) -> Outbox {
        Outbox {
            inner: Arc::new(Inner {
                db,
                clock,
                policy,
                metrics,
                deliverers: BTreeMap::new(),
                waker: Waker::default(),
                instance: uuid::Uuid::new_v4().simple().to_string(),
                stop: watch::channel(false).0,
            }),
        }
    }

    /// Registers the deliverer of `kind`, before [`Outbox::start`] (a task already started
    /// keeps the deliverers it started with). An instance claims only the kinds it has a
    /// deliverer for.
    pub fn register(self, kind: &'static str, deliverer: Arc<dyn Deliverer>) -> Outbox {
        let i = &self.inner;
        let mut deliverers = i.deliverers.clone();
        deliverers.insert(kind, deliverer);
        i.metrics.outbox_kind(kind);
        Outbox {
            inner: Arc::new(Inner {
                db: i.db.clone(),
                clock: i.clock.clone(),
                policy: i.policy,
                metrics: i.metrics.clone(),
                deliverers,
                waker: i.waker.clone(),
                instance: i.instance.clone(),
                stop: watch::channel(false).0,
            }),
        }
    }

    pub(super) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(super) fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// Wakes this instance's delivery after an enqueue commits.
    pub fn waker(&self) -> Waker {
        self.inner.waker.clone()
    }

    /// Starts the delivery task; it runs until [`Outbox::shutdown`].
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.clone().run())
    }

    /// Stops claiming; deliveries in flight finish (each bounded by its time limit).
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }

    async fn run(self) {
        let mut stop = self.inner.stop.subscribe();
        let mut moves = self.inner.clock.moves();
        let mut in_flight = JoinSet::new();
        let mut last_gauge = None::<tokio::time::Instant>;
        // A delivery finished since the gauge was last read.
        let mut finished = false;
        loop {
            if *stop.borrow() {
                break;
            }
            let waker = self.inner.waker.clone();
            let woken = waker.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            // Claim while there is room; each claim is its own short transaction.
            let mut claimed_any = false;
            while in_flight.len() < IN_FLIGHT {
                match self.claim().await {
                    Ok(Some(message)) => {
                        claimed_any = true;
                        let this = self.clone();
                        in_flight.spawn(async move { this.attempt(message).await });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox: cannot claim a message; will retry");
                        break;
                    }
                }
            }
            if claimed_any
                || finished
                || last_gauge
                    .is_none_or(|t: tokio::time::Instant| t.elapsed() > Duration::from_secs(15))
            {
                self.refresh_pending_gauge().await;
                last_gauge = Some(tokio::time::Instant::now());
                finished = false;
            }
            tokio::select! {
                _ = &mut woken => {}
                _ = moves.next() => {}
                _ = tokio::time::sleep(POLL) => {}
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => finished = true,
                _ = stop.changed() => {}
            }
        }
        while in_flight.join_next().await.is_some() {}
    }

    /// Claims the next due message of a registered kind, if any. Public for tests of the
    /// claim itself; the delivery task is its only other caller.
    pub async fn claim(&self) -> Result<Option<Message>, DbError> {
        let inner = &self.inner;
        let kinds: Vec<&'static str> = inner.deliverers.keys().copied().collect();
        let claimer = format!("{}-{}", inner.instance, uuid::Uuid::new_v4().simple());
        let now = inner.clock.now();
        let row = inner
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    repo::outbox::claim_next(conn, &kinds, &claimer, now, now + LEASE_SECS)
                })
            })
            .await?;
        Ok(row.map(Message::from))
    }

    /// One attempt at a claimed message, and its outcome recorded.
    async fn attempt(&self, message: Message) {
        let inner = &self.inner;
        let outcome = match inner.deliverers.get(message.kind.as_str()) {
            Some(deliverer) => {
                match tokio::time::timeout(ATTEMPT_LIMIT, deliverer.deliver(&message)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Delivery::Retry("timed out".into()),
                }
            }
            None => Delivery::Retry("no deliverer for this kind".into()),
        };
        if let Err(e) = self.record(&message, outcome).await {
            // The claim lapses and the message is tried again: at least once.
            tracing::warn!(error = %e, id = message.id, "outbox: cannot record a delivery");
        }
    }

    /// Records what an attempt came to. Public for tests; the delivery task calls it.
    pub async fn record(&self, message: &Message, outcome: Delivery) -> Result<(), DbError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let id = message.id;
        let claimer = message.claimer.clone();
        let kind = message.kind.clone();
        match outcome {
            Delivery::Delivered => {
                let recorded = inner
                    .db
                    .write(move |conn| repo::outbox::mark_delivered(conn, id, &claimer, now))
                    .await?;
                if recorded {
                    let latency = (now - message.created_at).max(0) as f64;
                    inner.metrics.outbox_delivered(&kind, latency);
                }
                Ok(())
            }
            Delivery::Retry(error)
                if now - message.created_at < inner.policy.give_up_after_secs =>
            {
                let error = shorten(&error);
                tracing::info!(
                    id,
                    kind,
                    attempt = message.attempt,
                    error,
                    "outbox: delivery failed; will retry"
                );
                let next = now + backoff::delay_after(message.attempt);
                inner
                    .db
                    .write(move |conn| repo::outbox::mark_retry(conn, id, &claimer, next, &error))
                    .await
                    .map(drop)
            }
            Delivery::Retry(error) | Delivery::Reject(error) => {
                let error = shorten(&error);
                tracing::warn!(
                    id,
                    kind,
                    attempt = message.attempt,
                    error,
                    "outbox: message given up"
                );
                let stored = error.clone();
                let recorded = inner
                    .db
                    .write(move |conn| repo::outbox::mark_failed(conn, id, &claimer, now, &stored))
                    .await?;
                if recorded {
                    inner.metrics.outbox_failed(&kind);
                    let event = Event {
                        kind: Kind::OutboxFailed,
                        outcome: Outcome::Failure,
                        subject: Some(format!("{kind} #{id}")),
                        detail: Some(format!("after {} attempts: {error}", message.attempt)),
                    };
                    audit::record(&inner.db, &inner.clock, event).await;
                }
                Ok(())
            }
        }
    }

    async fn refresh_pending_gauge(&self) {
        match self.inner.db.run(repo::outbox::pending_by_kind).await {
            Ok(counts) => {
                for kind in self.inner.deliverers.keys() {
                    let n = counts
                        .iter()
                        .find(|(k, _)| k == kind)
                        .map_or(0, |(_, n)| *n);
                    self.inner.metrics.outbox_pending(kind, n);
                }
            }
            Err(e) => tracing::debug!(error = %e, "outbox: cannot count pending messages"),
        }
    }
}

fn shorten(error: &str) -> String {
    error.chars().take(ERROR_CHARS).collect()
}

impl From<OutboxRow> for Message {
    fn from(row: OutboxRow) -> Message {
        Message {
            id: row.id,
            kind: row.kind,
            destination: row.destination,
            payload: row.payload,
            ordering_key: row.ordering_key,
            created_at: row.created_at,
            attempt: row.attempts,
            claimer: row.claimed_by.unwrap_or_default(),
        }
    }
}
