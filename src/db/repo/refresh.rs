//! Refresh-token families and records, and the access-token revocation list. Token ids are
//! stored as SHA-256 digests.

use diesel::prelude::*;

use crate::db::repo::InJsonList;
use crate::db::schema::refresh_families::dsl as f;
use crate::db::schema::refresh_tokens::dsl as t;
use crate::db::schema::revoked_access_tokens::dsl as r;
use crate::db::{DbConn, DbError};

#[derive(Queryable, Debug, Clone)]
pub struct Family {
    pub id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_why: Option<String>,
    /// The sign-in that started the family (none for client_credentials).
    pub auth_time: Option<i64>,
    pub amr: Option<String>,
}

/// No `Debug`: it may hold a sealed token pair.
#[derive(Queryable, Clone)]
pub struct TokenRecord {
    pub jti_hash: String,
    pub family_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub spent_at: Option<i64>,
    pub successor_hash: Option<String>,
    pub successor_sealed: Option<Vec<u8>>,
    /// The access token issued together with this refresh token.
    pub access_jti_hash: Option<String>,
    /// The signing key's; none on records stored before it was kept.
    pub kid: Option<String>,
}

pub fn create_family(conn: &mut DbConn, fam: &Family) -> Result<(), DbError> {
    diesel::insert_into(f::refresh_families)
        .values((
            f::id.eq(&fam.id),
            f::client_id.eq(&fam.client_id),
            f::user_id.eq(&fam.user_id),
            f::created_at.eq(fam.created_at),
            f::expires_at.eq(fam.expires_at),
            f::auth_time.eq(fam.auth_time),
            f::amr.eq(&fam.amr),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// A refresh token's record, with the access token issued beside it.
pub struct NewToken<'a> {
    pub jti_hash: &'a str,
    pub family_id: &'a str,
    pub issued_at: i64,
    pub expires_at: i64,
    pub access_jti_hash: &'a str,
    /// The key that signed the refresh token.
    pub kid: &'a str,
}

pub fn insert_token(conn: &mut DbConn, token: &NewToken<'_>) -> Result<(), DbError> {
    diesel::insert_into(t::refresh_tokens)
        .values((
            t::jti_hash.eq(token.jti_hash),
            t::family_id.eq(token.family_id),
            t::issued_at.eq(token.issued_at),
            t::expires_at.eq(token.expires_at),
            t::access_jti_hash.eq(token.access_jti_hash),
            t::kid.eq(token.kid),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn find_token(conn: &mut DbConn, jti_hash: &str) -> Result<Option<TokenRecord>, DbError> {
    t::refresh_tokens
        .filter(t::jti_hash.eq(jti_hash))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

pub fn find_family(conn: &mut DbConn, id: &str) -> Result<Option<Family>, DbError> {
    f::refresh_families
        .filter(f::id.eq(id))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// Marks the token spent if it was not; true for exactly one caller. The UPDATE takes the
/// row lock, so on PostgreSQL a concurrent spender waits and then sees it spent.
pub fn try_spend(conn: &mut DbConn, jti_hash: &str, now: i64) -> Result<bool, DbError> {
    diesel::update(
        t::refresh_tokens
            .filter(t::jti_hash.eq(jti_hash))
            .filter(t::spent_at.is_null()),
    )
    .set(t::spent_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(DbError::from_diesel)
}

pub fn set_successor(
    conn: &mut DbConn,
    jti_hash: &str,
    successor_hash: &str,
    sealed: Option<&[u8]>,
) -> Result<(), DbError> {
    diesel::update(t::refresh_tokens.filter(t::jti_hash.eq(jti_hash)))
        .set((
            t::successor_hash.eq(successor_hash),
            t::successor_sealed.eq(sealed),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn revoke_family(conn: &mut DbConn, id: &str, why: &str, now: i64) -> Result<(), DbError> {
    diesel::update(
        f::refresh_families
            .filter(f::id.eq(id))
            .filter(f::revoked_at.is_null()),
    )
    .set((f::revoked_at.eq(now), f::revoked_why.eq(why)))
    .execute(conn)
    .map(drop)
    .map_err(DbError::from_diesel)
}

/// The user's refresh families that are neither revoked nor over (an application's offline
/// access, which outlives a logout), newest first.
pub fn live_families_of_user(
    conn: &mut DbConn,
    user_id: &str,
    now: i64,
) -> Result<Vec<Family>, DbError> {
    f::refresh_families
        .filter(f::user_id.eq(user_id))
        .filter(f::revoked_at.is_null())
        .filter(f::expires_at.gt(now))
        .order((f::created_at.desc(), f::id.asc()))
        .load(conn)
        .map_err(DbError::from_diesel)
}

/// Revokes family `id` if it is a live family of `user_id`; true when it did.
pub fn revoke_family_of_user(
    conn: &mut DbConn,
    id: &str,
    user_id: &str,
    why: &str,
    now: i64,
) -> Result<bool, DbError> {
    diesel::update(
        f::refresh_families
            .filter(f::id.eq(id))
            .filter(f::user_id.eq(user_id))
            .filter(f::revoked_at.is_null())
            .filter(f::expires_at.gt(now)),
    )
    .set((f::revoked_at.eq(now), f::revoked_why.eq(why)))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(DbError::from_diesel)
}

/// Ends every refresh family of a user (password change, disable).
pub fn revoke_user_families(
    conn: &mut DbConn,
    user_id: &str,
    why: &str,
    now: i64,
) -> Result<usize, DbError> {
    diesel::update(
        f::refresh_families
            .filter(f::user_id.eq(user_id))
            .filter(f::revoked_at.is_null()),
    )
    .set((f::revoked_at.eq(now), f::revoked_why.eq(why)))
    .execute(conn)
    .map_err(DbError::from_diesel)
}

pub fn revoke_client_families(
    conn: &mut DbConn,
    client_id: &str,
    why: &str,
    now: i64,
) -> Result<usize, DbError> {
    diesel::update(
        f::refresh_families
            .filter(f::client_id.eq(client_id))
            .filter(f::revoked_at.is_null()),
    )
    .set((f::revoked_at.eq(now), f::revoked_why.eq(why)))
    .execute(conn)
    .map_err(DbError::from_diesel)
}

/// Ends the families whose live refresh token was signed by `kid` (a revoked signing key):
/// their holders sign in again. No index on `kid`: a revocation is rare, and reads the
/// table once, where an index would cost every refresh a write.
pub fn revoke_families_signed_by(
    conn: &mut DbConn,
    kid: &str,
    why: &str,
    now: i64,
) -> Result<usize, DbError> {
    let signed = t::refresh_tokens
        .filter(t::kid.eq(kid))
        .filter(t::spent_at.is_null())
        .select(t::family_id);
    diesel::update(
        f::refresh_families
            .filter(f::id.eq_any(signed))
            .filter(f::revoked_at.is_null()),
    )
    .set((f::revoked_at.eq(now), f::revoked_why.eq(why)))
    .execute(conn)
    .map_err(DbError::from_diesel)
}

pub fn revoke_access(conn: &mut DbConn, jti_hash: &str, expires_at: i64) -> Result<(), DbError> {
    match diesel::insert_into(r::revoked_access_tokens)
        .values((r::jti_hash.eq(jti_hash), r::expires_at.eq(expires_at)))
        .execute(conn)
    {
        Ok(_) => Ok(()),
        Err(e) => match DbError::from_diesel(e) {
            DbError::Conflict => Ok(()), // revoking twice is fine (RFC 7009 §2.2)
            other => Err(other),
        },
    }
}

/// Of these access tokens (by their jti digests), the ones revoked with the refresh family
/// they were issued with (reuse detection, logout, a password change). Part of the batched
/// liveness read (see [`super::liveness::liveness_among`], which reads the ones revoked by
/// themselves); one statement, prepared once per connection whatever the number of digests
/// (see [`InJsonList`]).
pub fn access_revoked_with_family_among(
    conn: &mut DbConn,
    jti_hashes: &[String],
) -> Result<std::collections::HashSet<String>, DbError> {
    let with_family = InJsonList::new(conn, "refresh_tokens.access_jti_hash", jti_hashes);
    Ok(t::refresh_tokens
        .inner_join(f::refresh_families)
        .filter(with_family)
        .filter(f::revoked_at.is_not_null())
        .select(t::access_jti_hash.assume_not_null())
        .load::<String>(conn)
        .map_err(DbError::from_diesel)?
        .into_iter()
        .collect())
}

// Housekeeping (see `crate::housekeeping`): each delete takes at most `batch` rows, so a
// large backlog is removed in short write transactions that other writers can interleave.

/// Refresh-token records that expired before `before`.
pub fn purge_tokens(conn: &mut DbConn, before: i64, batch: i64) -> Result<usize, DbError> {
    let condition = format!("expires_at < {before}");
    super::delete_batch(conn, "refresh_tokens", "jti_hash", &condition, batch)
}

/// Families whose absolute end is before `before` (with their records, by cascade).
pub fn purge_families(conn: &mut DbConn, before: i64, batch: i64) -> Result<usize, DbError> {
    let condition = format!("expires_at < {before}");
    super::delete_batch(conn, "refresh_families", "id", &condition, batch)
}

/// Revocation entries of access tokens that expired before `before`.
pub fn purge_revoked_access(conn: &mut DbConn, before: i64, batch: i64) -> Result<usize, DbError> {
    let condition = format!("expires_at < {before}");
    super::delete_batch(conn, "revoked_access_tokens", "jti_hash", &condition, batch)
}

/// Forgets the sealed successor pairs of tokens spent before `before` (their grace window
/// is over): the pair is held only as long as it may be handed out again.
pub fn drop_sealed_successors(conn: &mut DbConn, before: i64) -> Result<usize, DbError> {
    diesel::update(
        t::refresh_tokens
            .filter(t::successor_sealed.is_not_null())
            .filter(t::spent_at.lt(before)),
    )
    .set(t::successor_sealed.eq(None::<Vec<u8>>))
    .execute(conn)
    .map_err(DbError::from_diesel)
}

/// Every sealed successor of the grace window, by the digest of the spent token that binds
/// it (its sealing context): what `master-key rotate` re-seals.
pub fn sealed_successors(conn: &mut DbConn) -> Result<Vec<(String, Vec<u8>)>, DbError> {
    let rows: Vec<(String, Option<Vec<u8>>)> = t::refresh_tokens
        .filter(t::successor_sealed.is_not_null())
        .select((t::jti_hash, t::successor_sealed))
        .load(conn)
        .map_err(DbError::from_diesel)?;
    Ok(rows
        .into_iter()
        .filter_map(|(hash, sealed)| sealed.map(|s| (hash, s)))
        .collect())
}

/// Replaces (or with `None` drops) the sealed successor of a spent token.
pub fn reseal_successor(
    conn: &mut DbConn,
    jti_hash: &str,
    sealed: Option<&[u8]>,
) -> Result<(), DbError> {
    diesel::update(t::refresh_tokens.filter(t::jti_hash.eq(jti_hash)))
        .set(t::successor_sealed.eq(sealed))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}
