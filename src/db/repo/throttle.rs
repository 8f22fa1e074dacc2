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
    Ok(window_of(row, now, window))
}

/// The current windows of two buckets (each with its window length), read in one query:
/// one round trip to PostgreSQL for the two windows an authentication is counted in.
pub fn current_pair(
    conn: &mut DbConn,
    buckets: [(&str, i64); 2],
    now: i64,
) -> Result<[Window; 2], DbError> {
    let [(first, first_window), (second, second_window)] = buckets;
    let rows: Vec<(String, i64, i32, i32)> = t::login_throttle
        .filter(t::bucket.eq(first).or(t::bucket.eq(second)))
        .select((t::bucket, t::window_start, t::failures, t::pending))
        .load(conn)
        .map_err(DbError::from_diesel)?;
    let row_of = |bucket: &str| {
        rows.iter()
            .find(|row| row.0 == bucket)
            .map(|&(_, start, failures, pending)| (start, failures, pending))
    };
    Ok([
        window_of(row_of(first), now, first_window),
        window_of(row_of(second), now, second_window),
    ])
}

/// A stored row as the window at `now`: an empty one when there is none or it is over.
fn window_of(row: Option<(i64, i32, i32)>, now: i64, window: i64) -> Window {
    match row {
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
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::db::{migrate, DatabaseUrl, Db};

    fn failed_once(conn: &mut DbConn, bucket: &str, now: i64) {
        assert!(reserve(conn, bucket, now, 60, 5).unwrap());
        resolve(conn, bucket, Outcome::Failed).unwrap();
    }

    #[test]
    fn the_pair_read_answers_each_bucket_like_a_read_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("throttle.db").display().to_string();
        let db = Db::new(&DatabaseUrl::Sqlite(path), 1, Duration::from_secs(5)).unwrap();
        db.with_conn(|conn| {
            migrate::run_pending(conn)?;
            failed_once(conn, "addr:192.0.2.1", 1_000);
            failed_once(conn, "addr:192.0.2.1", 1_000);
            failed_once(conn, "client:old", 100); // its 60 s window is over at 1,000
            failed_once(conn, "client:other", 1_000);
            for pair in [
                ["client:old", "addr:192.0.2.1"],
                ["addr:192.0.2.1", "client:none"],
                ["client:none", "client:other"],
            ] {
                let [a, b] = current_pair(conn, [(pair[0], 60), (pair[1], 30)], 1_000)?;
                assert_eq!(a, current(conn, pair[0], 1_000, 60)?, "{pair:?}");
                assert_eq!(b, current(conn, pair[1], 1_000, 30)?, "{pair:?}");
            }
            let [old, addr] =
                current_pair(conn, [("client:old", 60), ("addr:192.0.2.1", 60)], 1_000)?;
            assert_eq!((old.failures, old.ends_at), (0, 1_060));
            assert_eq!((addr.failures, addr.ends_at), (2, 1_060));
            Ok::<_, DbError>(())
        })
        .unwrap();
    }
}
