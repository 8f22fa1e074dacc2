//! Failed-login windows, in the database so every instance shares them. An attempt is
//! reserved (`pending`) before its password is hashed, by one conditional upsert that counts
//! failures and pending attempts together, so parallel attempts cannot overshoot the limit on
//! any backend or instance; when the password has been checked the reservation resolves into
//! a failure or goes away.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::db::schema::login_throttle::dsl as t;
use crate::db::{DbConn, DbError};

/// One window as stored: failures and pending attempts, and when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub failures: i32,
    pub pending: i32,
    pub ends_at: i64,
}

/// The bucket's current window (an empty one when there is none or it is over).
pub fn current(conn: &mut DbConn, bucket: &str, now: i64, window: i64) -> Result<Window, DbError> {
    let row: Option<(i64, i32, i32)> = t::login_throttle
        .filter(t::bucket.eq(bucket))
        .select((t::window_start, t::failures, t::pending))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)?;
    Ok(match row {
        Some((start, failures, pending)) if start + window > now => Window {
            failures,
            pending,
            ends_at: start + window,
        },
        _ => Window {
            failures: 0,
            pending: 0,
            ends_at: now + window,
        },
    })
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = Integer)]
    pending: i32,
}

// A new window when the old one is over; otherwise one more pending attempt, but only while
// failures and pending attempts together stay below `max`. No row comes back when full.
const RESERVE_PG: &str = "INSERT INTO login_throttle (bucket, window_start, failures, pending) \
     VALUES ($1, $2, 0, 1) ON CONFLICT (bucket) DO UPDATE SET \
     window_start = CASE WHEN login_throttle.window_start + $3 <= $2 THEN $2 ELSE login_throttle.window_start END, \
     failures = CASE WHEN login_throttle.window_start + $3 <= $2 THEN 0 ELSE login_throttle.failures END, \
     pending = CASE WHEN login_throttle.window_start + $3 <= $2 THEN 1 ELSE login_throttle.pending + 1 END \
     WHERE login_throttle.window_start + $3 <= $2 \
        OR login_throttle.failures + login_throttle.pending < $4 \
     RETURNING pending";
const RESERVE_SQLITE: &str = "INSERT INTO login_throttle (bucket, window_start, failures, pending) \
     VALUES (?1, ?2, 0, 1) ON CONFLICT (bucket) DO UPDATE SET \
     window_start = CASE WHEN login_throttle.window_start + ?3 <= ?2 THEN ?2 ELSE login_throttle.window_start END, \
     failures = CASE WHEN login_throttle.window_start + ?3 <= ?2 THEN 0 ELSE login_throttle.failures END, \
     pending = CASE WHEN login_throttle.window_start + ?3 <= ?2 THEN 1 ELSE login_throttle.pending + 1 END \
     WHERE login_throttle.window_start + ?3 <= ?2 \
        OR login_throttle.failures + login_throttle.pending < ?4 \
     RETURNING pending";

/// Reserves one attempt in the bucket's window; false when failures and pending attempts
/// already reach `max` (nothing is changed then).
pub fn reserve(
    conn: &mut DbConn,
    bucket: &str,
    now: i64,
    window: i64,
    max: i32,
) -> Result<bool, DbError> {
    let sql = match conn {
        DbConn::Pg(_) => RESERVE_PG,
        DbConn::Sqlite(_) => RESERVE_SQLITE,
    };
    let query = diesel::sql_query(sql)
        .bind::<Text, _>(bucket)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(window)
        .bind::<Integer, _>(max);
    let counted: Option<Counted> = match conn {
        DbConn::Pg(c) => query.get_result(c).optional(),
        DbConn::Sqlite(c) => query.get_result(c).optional(),
    }
    .map_err(DbError::from_diesel)?;
    Ok(counted.is_some_and(|c| c.pending > 0))
}

/// What a checked password does to its reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A wrong password: the reservation becomes a failure.
    Failed,
    /// Not a failure (a right password, or our own error): the reservation goes away.
    Released,
    /// A right password for the username: the window is forgotten.
    Cleared,
}

/// Resolves one reservation of the bucket.
pub fn resolve(conn: &mut DbConn, bucket: &str, outcome: Outcome) -> Result<(), DbError> {
    let row = t::login_throttle.filter(t::bucket.eq(bucket));
    let pending_down =
        diesel::update(row.filter(t::pending.gt(0))).set(t::pending.eq(t::pending - 1));
    pending_down.execute(conn).map_err(DbError::from_diesel)?;
    match outcome {
        Outcome::Failed => diesel::update(row)
            .set(t::failures.eq(t::failures + 1))
            .execute(conn),
        Outcome::Cleared => diesel::update(row).set(t::failures.eq(0)).execute(conn),
        Outcome::Released => Ok(0),
    }
    .map(drop)
    .map_err(DbError::from_diesel)
}

/// Housekeeping: windows that started before `older_than` are over; at most `batch` rows.
pub fn purge(conn: &mut DbConn, older_than: i64, batch: i64) -> Result<usize, DbError> {
    let condition = format!("window_start < {older_than}");
    super::delete_batch(conn, "login_throttle", "bucket", &condition, batch)
}
