//! Second factors: a user's TOTP secret (sealed) with its last accepted step, and their
//! recovery codes (digests).

use diesel::prelude::*;

use crate::db::schema::mfa_challenges::dsl as m;
use crate::db::schema::recovery_codes::dsl as r;
use crate::db::schema::totp_factors::dsl as t;
use crate::db::{DbConn, DbError};

/// No `Debug`: it carries the sealed secret (harmless without the master key, but kept out
/// of logs all the same).
#[derive(Queryable, Clone)]
pub struct TotpRow {
    pub user_id: String,
    pub secret_sealed: Vec<u8>,
    pub master_key_id: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_step: Option<i64>,
}

pub fn find_totp(conn: &mut DbConn, user_id: &str) -> Result<Option<TotpRow>, DbError> {
    t::totp_factors
        .filter(t::user_id.eq(user_id))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// Whether the user has a confirmed second factor.
pub fn has_second_factor(conn: &mut DbConn, user_id: &str) -> Result<bool, DbError> {
    Ok(find_totp(conn, user_id)?.is_some_and(|row| row.confirmed_at.is_some()))
}

/// Stores a new, unconfirmed secret in place of an unconfirmed one; `false` when the user
/// has a confirmed factor (which only removal replaces).
pub fn start_totp(
    conn: &mut DbConn,
    user_id: &str,
    sealed: &[u8],
    master_key_id: &str,
    now: i64,
) -> Result<bool, DbError> {
    diesel::delete(
        t::totp_factors
            .filter(t::user_id.eq(user_id))
            .filter(t::confirmed_at.is_null()),
    )
    .execute(conn)
    .map_err(DbError::from_diesel)?;
    let inserted = diesel::insert_into(t::totp_factors)
        .values((
            t::user_id.eq(user_id),
            t::secret_sealed.eq(sealed),
            t::master_key_id.eq(master_key_id),
            t::created_at.eq(now),
        ))
        .execute(conn);
    match inserted.map_err(DbError::from_diesel) {
        Ok(_) => Ok(true),
        Err(DbError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Accepts `step` for the user: one conditional `UPDATE`, so a step at or before the last
/// accepted one (a replay, or the same code raced) changes nothing and answers `false`.
/// Confirms an unconfirmed factor on the way.
pub fn accept_step(conn: &mut DbConn, user_id: &str, step: i64, now: i64) -> Result<bool, DbError> {
    let n = diesel::update(
        t::totp_factors
            .filter(t::user_id.eq(user_id))
            .filter(t::last_step.is_null().or(t::last_step.lt(step))),
    )
    .set(t::last_step.eq(step))
    .execute(conn)
    .map_err(DbError::from_diesel)?;
    if n != 1 {
        return Ok(false);
    }
    diesel::update(
        t::totp_factors
            .filter(t::user_id.eq(user_id))
            .filter(t::confirmed_at.is_null()),
    )
    .set(t::confirmed_at.eq(now))
    .execute(conn)
    .map_err(DbError::from_diesel)?;
    Ok(true)
}

/// Removes the user's TOTP factor and recovery codes; whether there was a factor.
pub fn remove_all(conn: &mut DbConn, user_id: &str) -> Result<bool, DbError> {
    let n = diesel::delete(t::totp_factors.filter(t::user_id.eq(user_id)))
        .execute(conn)
        .map_err(DbError::from_diesel)?;
    diesel::delete(r::recovery_codes.filter(r::user_id.eq(user_id)))
        .execute(conn)
        .map_err(DbError::from_diesel)?;
    Ok(n > 0)
}

/// Every sealed secret, for `master-key rotate`: (user id, sealed, master key id).
pub fn all_sealed_totp(conn: &mut DbConn) -> Result<Vec<(String, Vec<u8>, String)>, DbError> {
    t::totp_factors
        .select((t::user_id, t::secret_sealed, t::master_key_id))
        .load(conn)
        .map_err(DbError::from_diesel)
}

pub fn reseal_totp(
    conn: &mut DbConn,
    user_id: &str,
    sealed: &[u8],
    master_key_id: &str,
) -> Result<(), DbError> {
    diesel::update(t::totp_factors.filter(t::user_id.eq(user_id)))
        .set((
            t::secret_sealed.eq(sealed),
            t::master_key_id.eq(master_key_id),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// Replaces the user's recovery codes with these digests.
pub fn replace_recovery_codes(
    conn: &mut DbConn,
    user_id: &str,
    digests: &[String],
    now: i64,
) -> Result<(), DbError> {
    diesel::delete(r::recovery_codes.filter(r::user_id.eq(user_id)))
        .execute(conn)
        .map_err(DbError::from_diesel)?;
    for digest in digests {
        diesel::insert_into(r::recovery_codes)
            .values((
                r::code_hash.eq(digest),
                r::user_id.eq(user_id),
                r::created_at.eq(now),
            ))
            .execute(conn)
            .map_err(DbError::from_diesel)?;
    }
    Ok(())
}

/// Spends one of the user's unused codes: one conditional `UPDATE`, exactly one caller wins.
pub fn spend_recovery_code(
    conn: &mut DbConn,
    user_id: &str,
    digest: &str,
    now: i64,
) -> Result<bool, DbError> {
    diesel::update(
        r::recovery_codes
            .filter(r::code_hash.eq(digest))
            .filter(r::user_id.eq(user_id))
            .filter(r::used_at.is_null()),
    )
    .set(r::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(DbError::from_diesel)
}

/// How many of the user's recovery codes are left.
pub fn unused_recovery_codes(conn: &mut DbConn, user_id: &str) -> Result<i64, DbError> {
    r::recovery_codes
        .filter(r::user_id.eq(user_id))
        .filter(r::used_at.is_null())
        .count()
        .get_result(conn)
        .map_err(DbError::from_diesel)
}

/// Housekeeping: enrolments never confirmed, started before `before`.
pub fn purge_unconfirmed(conn: &mut DbConn, before: i64, batch: i64) -> Result<usize, DbError> {
    let condition = format!("confirmed_at IS NULL AND created_at < {before}");
    super::delete_batch(conn, "totp_factors", "user_id", &condition, batch)
}

/// A pending second step: the user a live challenge (not used, not expired) of `surface`
/// names.
pub fn live_challenge_user(
    conn: &mut DbConn,
    token_hash: &str,
    surface: &str,
    now: i64,
) -> Result<Option<String>, DbError> {
    m::mfa_challenges
        .filter(m::token_hash.eq(token_hash))
        .filter(m::surface.eq(surface))
        .filter(m::used_at.is_null())
        .filter(m::expires_at.gt(now))
        .select(m::user_id)
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

pub fn insert_challenge(
    conn: &mut DbConn,
    token_hash: &str,
    user_id: &str,
    surface: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    diesel::insert_into(m::mfa_challenges)
        .values((
            m::token_hash.eq(token_hash),
            m::user_id.eq(user_id),
            m::surface.eq(surface),
            m::created_at.eq(now),
            m::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// Spends a live challenge: one conditional `UPDATE`, exactly one caller wins.
pub fn spend_challenge(conn: &mut DbConn, token_hash: &str, now: i64) -> Result<bool, DbError> {
    diesel::update(
        m::mfa_challenges
            .filter(m::token_hash.eq(token_hash))
            .filter(m::used_at.is_null())
            .filter(m::expires_at.gt(now)),
    )
    .set(m::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(DbError::from_diesel)
}

/// Housekeeping: challenges that expired before `before` (refused from their expiry on).
pub fn purge_challenges(conn: &mut DbConn, before: i64, batch: i64) -> Result<usize, DbError> {
    let condition = format!("expires_at < {before}");
    super::delete_batch(conn, "mfa_challenges", "token_hash", &condition, batch)
}
