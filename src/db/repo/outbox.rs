//! The outbox table (`crate::outbox`): messages written in the transaction that causes them,
//! claimed one at a time by a delivery task of any instance.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::schema::outbox::dsl as o;
use crate::db::{DbConn, DbError};

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

#[derive(Queryable, Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub destination: String,
    pub payload: String,
    pub ordering_key: String,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub attempts: i32,
    pub status: String,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub failed_at: Option<i64>,
}

/// Appends a pending message, due at once.
pub fn insert(
    conn: &mut DbConn,
    kind: &str,
    destination: &str,
    payload: &str,
    ordering_key: &str,
    now: i64,
) -> Result<(), DbError> {
    diesel::insert_into(o::outbox)
        .values((
            o::kind.eq(kind),
            o::destination.eq(destination),
            o::payload.eq(payload),
            o::ordering_key.eq(ordering_key),
            o::created_at.eq(now),
            o::next_attempt_at.eq(now),
            o::attempts.eq(0),
            o::status.eq(PENDING),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Claims the next due message of one of `kinds` for `claimer` until `claimed_until`, and
/// returns it; `None` when nothing is due. Call it inside `write_transaction`.
///
/// A message is due when it is pending, its next attempt has come, nobody holds an unexpired
/// claim on it, and no earlier message of its ordering key is still pending (so a key's
/// messages go in order, and only its first can be claimed). On PostgreSQL the row is taken
/// with `FOR UPDATE SKIP LOCKED`, so claimers never wait for each other and never take one
/// row twice; on SQLite the caller's `BEGIN IMMEDIATE` serialises them.
///
/// `kinds` are constant names from the code (checked here), never input: they are written
/// into the SQL text.
pub fn claim_next(
    conn: &mut DbConn,
    kinds: &[&str],
    claimer: &str,
    now: i64,
    claimed_until: i64,
) -> Result<Option<OutboxRow>, DbError> {
    if kinds.is_empty() {
        return Ok(None);
    }
    assert!(
        kinds
            .iter()
            .all(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')),
        "outbox kinds are lower-case constant names"
    );
    let kinds = kinds
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let (placeholder, lock) = match conn {
        DbConn::Pg(_) => ("$1", " FOR UPDATE SKIP LOCKED"),
        DbConn::Sqlite(_) => ("?1", ""),
    };
    let sql = format!(
        "SELECT m.id FROM outbox m \
         WHERE m.status = 'pending' AND m.kind IN ({kinds}) \
           AND m.next_attempt_at <= {placeholder} \
           AND (m.claimed_until IS NULL OR m.claimed_until <= {placeholder}) \
           AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.ordering_key = m.ordering_key \
                           AND e.status = 'pending' AND e.id < m.id) \
         ORDER BY m.next_attempt_at, m.id LIMIT 1{lock}"
    );
    let found: Option<Id> = diesel::sql_query(sql)
        .bind::<BigInt, _>(now)
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)?;
    let Some(Id { id }) = found else {
        return Ok(None);
    };
    diesel::update(o::outbox.filter(o::id.eq(id)))
        .set((
            o::claimed_by.eq(claimer),
            o::claimed_until.eq(claimed_until),
            o::attempts.eq(o::attempts + 1),
        ))
        .execute(conn)
        .map_err(DbError::from_diesel)?;
    o::outbox
        .filter(o::id.eq(id))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// The claim `claimer` holds on message `id`, still pending.
macro_rules! claimed {
    ($id:expr, $claimer:expr) => {
        o::outbox
            .filter(o::id.eq($id))
            .filter(o::claimed_by.eq($claimer))
            .filter(o::status.eq(PENDING))
    };
}

/// Marks a claimed message delivered; false when the claim was lost meanwhile (its lease
/// expired and another claimer took it).
pub fn mark_delivered(
    conn: &mut DbConn,
    id: i64,
    claimer: &str,
    now: i64,
) -> Result<bool, DbError> {
    diesel::update(claimed!(id, claimer))
        .set((
            o::status.eq(DELIVERED),
            o::delivered_at.eq(now),
            o::claimed_by.eq(None::<String>),
            o::claimed_until.eq(None::<i64>),
            o::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .map(|n| n == 1)
        .map_err(DbError::from_diesel)
}

/// Releases a claimed message for another attempt at `next_attempt_at`.
pub fn mark_retry(
    conn: &mut DbConn,
    id: i64,
    claimer: &str,
    next_attempt_at: i64,
    error: &str,
) -> Result<bool, DbError> {
    diesel::update(claimed!(id, claimer))
        .set((
            o::next_attempt_at.eq(next_attempt_at),
            o::claimed_by.eq(None::<String>),
            o::claimed_until.eq(None::<i64>),
            o::last_error.eq(error),
        ))
        .execute(conn)
        .map(|n| n == 1)
        .map_err(DbError::from_diesel)
}

/// Gives a claimed message up: it stays, failed, for the console and the audit trail.
pub fn mark_failed(
    conn: &mut DbConn,
    id: i64,
    claimer: &str,
    now: i64,
    error: &str,
) -> Result<bool, DbError> {
    diesel::update(claimed!(id, claimer))
        .set((
            o::status.eq(FAILED),
            o::failed_at.eq(now),
            o::claimed_by.eq(None::<String>),
            o::claimed_until.eq(None::<i64>),
            o::last_error.eq(error),
        ))
        .execute(conn)
        .map(|n| n == 1)
        .map_err(DbError::from_diesel)
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Option<OutboxRow>, DbError> {
    o::outbox
        .filter(o::id.eq(id))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// Messages in `status`, oldest first, at most `limit` (the console; tests).
pub fn list(conn: &mut DbConn, status: &str, limit: i64) -> Result<Vec<OutboxRow>, DbError> {
    o::outbox
        .filter(o::status.eq(status))
        .order(o::id.asc())
        .limit(limit)
        .load(conn)
        .map_err(DbError::from_diesel)
}

#[derive(QueryableByName)]
struct KindCount {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Pending messages per kind (the `gatehouse_outbox_pending` gauge).
pub fn pending_by_kind(conn: &mut DbConn) -> Result<Vec<(String, i64)>, DbError> {
    let rows: Vec<KindCount> = diesel::sql_query(
        "SELECT kind, COUNT(*) AS n FROM outbox WHERE status = 'pending' GROUP BY kind",
    )
    .load(conn)
    .map_err(DbError::from_diesel)?;
    Ok(rows.into_iter().map(|r| (r.kind, r.n)).collect())
}

/// Housekeeping: messages delivered before `delivered_before` and messages that failed before
/// `failed_before`. At most `batch` rows.
pub fn purge(
    conn: &mut DbConn,
    delivered_before: i64,
    failed_before: i64,
    batch: i64,
) -> Result<usize, DbError> {
    let condition = format!(
        "(status = 'delivered' AND delivered_at < {delivered_before}) \
         OR (status = 'failed' AND failed_at < {failed_before})"
    );
    super::delete_batch(conn, "outbox", "id", &condition, batch)
}
