//! What the console shows of the outbox: pending and failed messages, without payloads.

use super::Outbox;
use crate::db::repo::outbox::{OutboxRow, FAILED, PENDING};
use crate::db::{repo, DbError};

/// The most messages of each status one listing shows.
pub const LISTED: i64 = 200;

/// One message as an operator sees it: never its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub kind: String,
    pub destination: String,
    pub status: String,
    pub attempts: i32,
    pub created_at: i64,
    pub next_attempt_at: i64,
    /// Whether an instance holds a claim on it now (a delivery under way).
    pub in_delivery: bool,
    pub last_error: Option<String>,
    pub failed_at: Option<i64>,
}

/// Pending messages (oldest first) and failed ones (oldest first), each at most [`LISTED`].
#[derive(Debug, Clone, Default)]
pub struct OutboxListing {
    pub pending: Vec<OutboxEntry>,
    pub failed: Vec<OutboxEntry>,
}

impl Outbox {
    pub async fn listing(&self) -> Result<OutboxListing, DbError> {
        let now = self.now();
        self.db()
            .run(move |conn| {
                let entry = |row: OutboxRow| OutboxEntry {
                    in_delivery: row.claimed_until.is_some_and(|until| until > now),
                    id: row.id,
                    kind: row.kind,
                    destination: row.destination,
                    status: row.status,
                    attempts: row.attempts,
                    created_at: row.created_at,
                    next_attempt_at: row.next_attempt_at,
                    last_error: row.last_error,
                    failed_at: row.failed_at,
                };
                Ok(OutboxListing {
                    pending: repo::outbox::list(conn, PENDING, LISTED)?
                        .into_iter()
                        .map(entry)
                        .collect(),
                    failed: repo::outbox::list(conn, FAILED, LISTED)?
                        .into_iter()
                        .map(entry)
                        .collect(),
                })
            })
            .await
    }
}
