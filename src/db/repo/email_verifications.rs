//! Email verification links, stored as the SHA-256 digest of their token and bound to the
//! address they were sent to.

use diesel::prelude::*;

use crate::db::schema::email_verifications::dsl as v;
use crate::db::{DbConn, DbError};

#[derive(Queryable, Debug, Clone)]
pub struct VerificationRow {
    pub token_hash: String,
    pub user_id: String,
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub voided_at: Option<i64>,
}

/// Voids every open link of the user (a newer one replaces them, or the address changed).
pub fn void_user_links(conn: &mut DbConn, user_id: &str, now: i64) -> Result<usize, DbError> {
    diesel::update(
        v::email_verifications
            .filter(v::user_id.eq(user_id))
            .filter(v::used_at.is_null())
            .filter(v::voided_at.is_null()),
    )
    .set(v::voided_at.eq(now))
    .execute(conn)
    .map_err(DbError::from_diesel)
}

pub fn insert(
    conn: &mut DbConn,
    token_hash: &str,
    user_id: &str,
    email: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    diesel::insert_into(v::email_verifications)
        .values((
            v::token_hash.eq(token_hash),
            v::user_id.eq(user_id),
            v::email.eq(email),
            v::created_at.eq(now),
            v::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn find(conn: &mut DbConn, token_hash: &str) -> Result<Option<VerificationRow>, DbError> {
    v::email_verifications
        .filter(v::token_hash.eq(token_hash))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// Deletes one link (one that was never handed over).
pub fn delete(conn: &mut DbConn, token_hash: &str) -> Result<bool, DbError> {
    diesel::delete(v::email_verifications.filter(v::token_hash.eq(token_hash)))
        .execute(conn)
        .map(|n| n == 1)
        .map_err(DbError::from_diesel)
}

/// Marks the link used if it is still open and unexpired: one conditional `UPDATE`, so of
/// two concurrent uses exactly one sees `true`.
pub fn spend(conn: &mut DbConn, token_hash: &str, now: i64) -> Result<bool, DbError> {
    diesel::update(
        v::email_verifications
            .filter(v::token_hash.eq(token_hash))
            .filter(v::used_at.is_null())
            .filter(v::voided_at.is_null())
            .filter(v::expires_at.gt(now)),
    )
    .set(v::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(DbError::from_diesel)
}

/// Housekeeping: links that expired before `before`.
pub fn purge(conn: &mut DbConn, before: i64, batch: i64) -> Result<usize, DbError> {
    let condition = format!("expires_at < {before}");
    super::delete_batch(conn, "email_verifications", "token_hash", &condition, batch)
}
