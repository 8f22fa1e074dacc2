//! Failed-login counters in fixed windows, in the database so every instance shares them.
//! An attempt is reserved before its password is hashed, by one conditional upsert, so
//! parallel attempts cannot overshoot the limit on any backend or instance.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

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

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = Integer)]
    failures: i32,
}

// Starts a new window when the old one is over; otherwise counts one more, but only while
// the window holds fewer than `max`. No row comes back when it is full.
const RESERVE_PG: &str = "INSERT INTO login_throttle (bucket, window_start, failures) \
     VALUES ($1, $2, 1) ON CONFLICT (bucket) DO UPDATE SET \
     window_start = CASE WHEN login_throttle.window_start + $3 <= $2 THEN $2 ELSE login_throttle.window_start END, \
     failures = CASE WHEN login_throttle.window_start + $3 <= $2 THEN 1 ELSE login_throttle.failures + 1 END \
     WHERE login_throttle.window_start + $3 <= $2 OR login_throttle.failures < $4 \
     RETURNING failures";
const RESERVE_SQLITE: &str = "INSERT INTO login_throttle (bucket, window_start, failures) \
     VALUES (?1, ?2, 1) ON CONFLICT (bucket) DO UPDATE SET \
     window_start = CASE WHEN login_throttle.window_start + ?3 <= ?2 THEN ?2 ELSE login_throttle.window_start END, \
     failures = CASE WHEN login_throttle.window_start + ?3 <= ?2 THEN 1 ELSE login_throttle.failures + 1 END \
     WHERE login_throttle.window_start + ?3 <= ?2 OR login_throttle.failures < ?4 \
     RETURNING failures";

/// Reserves one attempt in the bucket's window: the new count, or `None` when the window
/// already holds `max` attempts (nothing is changed then).
pub fn reserve(
    conn: &mut DbConn,
    bucket: &str,
    now: i64,
    window: i64,
    max: i32,
) -> Result<Option<i32>, DbError> {
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
    Ok(counted.map(|c| c.failures))
}

/// Gives back one reserved attempt that turned out not to be a failure.
pub fn release(conn: &mut DbConn, bucket: &str) -> Result<(), DbError> {
    diesel::update(
        t::login_throttle
            .filter(t::bucket.eq(bucket))
            .filter(t::failures.gt(0)),
    )
    .set(t::failures.eq(t::failures - 1))
    .execute(conn)
    .map(drop)
    .map_err(DbError::from_diesel)
}

pub fn clear(conn: &mut DbConn, bucket: &str) -> Result<(), DbError> {
    diesel::delete(t::login_throttle.filter(t::bucket.eq(bucket)))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// Housekeeping: windows that started before `older_than` are over.
pub fn purge(conn: &mut DbConn, older_than: i64) -> Result<(), DbError> {
    diesel::delete(t::login_throttle.filter(t::window_start.lt(older_than)))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}
