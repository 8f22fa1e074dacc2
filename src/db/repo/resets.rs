//! Password reset links, stored as the SHA-256 digest of their token.

use diesel::prelude::*;

use crate::db::schema::password_resets::dsl as r;
use crate::db::{DbConn, DbError};

#[derive(Queryable, Debug, Clone)]
pub struct ResetRow {
    pub token_hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub voided_at: Option<i64>,
}

/// Voids every open link of the user (a newer one replaces them, or the password changed).
pub fn void_user_resets(conn: &mut DbConn, user_id: &str, now: i64) -> Result<usize, DbError> {
    diesel::update(
        r::password_resets
            .filter(r::user_id.eq(user_id))
            .filter(r::used_at.is_null())
            .filter(r::voided_at.is_null()),
    )
    .set(r::voided_at.eq(now))
    .execute(conn)
    .map_err(DbError::from_diesel)
}

pub fn insert(
    conn: &mut DbConn,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    diesel::insert_into(r::password_resets)
        .values((
            r::token_hash.eq(token_hash),
            r::user_id.eq(user_id),
            r::created_at.eq(now),
            r::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn find(conn: &mut DbConn, token_hash: &str) -> Result<Option<ResetRow>, DbError> {
    r::password_resets
        .filter(r::token_hash.eq(token_hash))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// Deletes one link (one that was never handed over).
pub fn delete(conn: &mut DbConn, token_hash: &str) -> Result<bool, DbError> {
    diesel::delete(r::password_resets.filter(r::token_hash.eq(token_hash)))
        .execute(conn)
        .map(|n| n == 1)
        .map_err(DbError::from_diesel)
}

/// Marks the link used if it is still open and unexpired: one conditional `UPDATE`, so of two
/// concurrent redemptions exactly one sees `true`, on both backends.
pub fn spend(conn: &mut DbConn, token_hash: &str, now: i64) -> Result<bool, DbError> {
    diesel::update(
        r::password_resets
            .filter(r::token_hash.eq(token_hash))
            .filter(r::used_at.is_null())
            .filter(r::voided_at.is_null())
            .filter(r::expires_at.gt(now)),
    )
    .set(r::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(DbError::from_diesel)
}

/// Housekeeping: links that expired before `before` (used and voided ones included: each
/// expires like any other).
pub fn purge(conn: &mut DbConn, before: i64, batch: i64) -> Result<usize, DbError> {
    let condition = format!("expires_at < {before}");
    super::delete_batch(conn, "password_resets", "token_hash", &condition, batch)
}
