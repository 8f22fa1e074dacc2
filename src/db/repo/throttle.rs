//! Failed-login counters in fixed windows, in the database so every instance shares them.

use diesel::prelude::*;

use crate::db::schema::login_throttle::dsl as t;
use crate::db::{DbConn, DbError};

/// Failures counted in the bucket's current window, and when that window ends.
pub fn current(
    conn: &mut DbConn,
    bucket: &str,
    now: i64,
    window: i64,
) -> Result<(i32, i64), DbError> {
    let row: Option<(i64, i32)> = t::login_throttle
        .filter(t::bucket.eq(bucket))
        .select((t::window_start, t::failures))
        .first(conn)
        .optional()
        .map_err(DbError::from_diesel)?;
    Ok(match row {
        Some((start, failures)) if start + window > now => (failures, start + window),
        _ => (0, now + window),
    })
}

/// Counts one failure (inside a write transaction).
pub fn record_failure(
    conn: &mut DbConn,
    bucket: &str,
    now: i64,
    window: i64,
) -> Result<(), DbError> {
    let (failures, _) = current(conn, bucket, now, window)?;
    if failures == 0 {
        diesel::delete(t::login_throttle.filter(t::bucket.eq(bucket)))
            .execute(conn)
            .map_err(DbError::from_diesel)?;
        diesel::insert_into(t::login_throttle)
            .values((
                t::bucket.eq(bucket),
                t::window_start.eq(now),
                t::failures.eq(1),
            ))
            .execute(conn)
            .map_err(DbError::from_diesel)?;
    } else {
        diesel::update(t::login_throttle.filter(t::bucket.eq(bucket)))
            .set(t::failures.eq(t::failures + 1))
            .execute(conn)
            .map_err(DbError::from_diesel)?;
    }
    Ok(())
}

pub fn clear(conn: &mut DbConn, bucket: &str) -> Result<(), DbError> {
    diesel::delete(t::login_throttle.filter(t::bucket.eq(bucket)))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn purge(conn: &mut DbConn, older_than: i64) -> Result<(), DbError> {
    diesel::delete(t::login_throttle.filter(t::window_start.lt(older_than)))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}
