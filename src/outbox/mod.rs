//! The outbox: everything Gatehouse sends out (back-channel logout notifications, mail) is
//! written to the `outbox` table in the transaction that causes it ([`enqueue`]), and
//! delivered from there by a background task of any instance ([`delivery`]).
//!
//! One module for every kind of message: a kind is a constant name (`backchannel_logout`,
//! `mail`), and a [`Deliverer`] registered for it at start does the sending. The core claims
//! one message at a time under a lease, retries with capped exponential backoff and jitter
//! while the deliverer says the failure may pass, and gives up after `OUTBOX_GIVE_UP_AFTER`
//! (the message stays, failed, in the console, the metrics and the audit trail). Messages of
//! one ordering key (a session, a mailbox) are delivered in the order they were written.

pub mod backoff;
pub mod delivery;
pub mod listing;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::Notify;

use crate::db::{repo, DbConn, DbError};

pub use delivery::{Outbox, OutboxPolicy};

/// A message to write, in the caller's transaction.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    /// The constant name of its kind, which picks its deliverer (lower case and `_`).
    pub kind: &'static str,
    /// Where it goes (a registered URI, an address): shown in the console, so no secret.
    pub destination: &'a str,
    /// What the deliverer needs, in its own format (JSON as a rule). Not shown in the
    /// console; anything secret in it must be sealed by the kind that writes it.
    pub payload: &'a str,
    /// Messages with the same key are delivered in the order they were written.
    pub ordering_key: &'a str,
}

/// Writes `message` to the outbox on `conn`, which should be the transaction of the change
/// that causes it (`db::write_transaction`), so that the message exists exactly when the
/// change does. Call [`Waker::wake`] after the transaction commits, so this instance sends
/// it at once rather than at its next poll.
pub fn enqueue(conn: &mut DbConn, message: &NewMessage<'_>, now: i64) -> Result<(), DbError> {
    repo::outbox::insert(
        conn,
        message.kind,
        message.destination,
        message.payload,
        message.ordering_key,
        now,
    )
}

/// A claimed message, handed to its deliverer.
#[derive(Clone)]
pub struct Message {
    /// Unique and stable across attempts (a receiver may deduplicate by it).
    pub id: i64,
    pub kind: String,
    pub destination: String,
    pub payload: String,
    pub ordering_key: String,
    pub created_at: i64,
    /// This attempt's number, from 1.
    pub attempt: i32,
    /// The claim it was handed out under: its outcome is recorded against that claim only.
    pub claimer: String,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// A failure that may pass (unreachable, timeout, 5xx): tried again after a backoff,
    /// until `OUTBOX_GIVE_UP_AFTER`. The text is stored and shown: never a secret.
    Retry(String),
    /// A failure that will not pass by trying again: failed at once. Never a secret.
    Reject(String),
}

/// Sends the messages of one kind. Registered with [`Outbox::register`] at start; the core
/// never needs to change for a new kind.
pub trait Deliverer: Send + Sync + 'static {
    /// One attempt. It should bound its own time (the core also cuts it off at the claim
    /// lease) and never panic.
    fn deliver<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Delivery>;
}

/// Wakes this instance's delivery task after an enqueue has committed. Cheap to clone.
#[derive(Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    pub(crate) fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.0.notified()
    }
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("outbox::Waker")
    }
}

impl std::fmt::Debug for Message {
    // The payload may hold what only its receiver should see: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("destination", &self.destination)
            .field("ordering_key", &self.ordering_key)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}
