//! Single sign-on sessions, authorization codes and consents. Session ids and codes are
//! stored as SHA-256 digests.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::schema::auth_codes::dsl as a;
use crate::db::schema::consents::dsl as c;
use crate::db::schema::sessions::dsl as s;
use crate::db::{DbConn, DbError};

#[derive(Queryable, Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub sid: String,
    pub user_id: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    /// When it was last used (at most a minute behind); `None`: not since it started.
    pub last_used_at: Option<i64>,
    /// The client address it signed in from.
    pub address: Option<String>,
    /// A short description of the browser it signed in from (never the raw User-Agent).
    pub browser: Option<String>,
    /// RFC 8176 methods of the sign-in, space-separated (`crate::assurance` reads them).
    pub amr: String,
}

pub fn create_session(conn: &mut DbConn, session: &Session) -> Result<(), DbError> {
    diesel::insert_into(s::sessions)
        .values((
            s::id_hash.eq(&session.id_hash),
            s::sid.eq(&session.sid),
            s::user_id.eq(&session.user_id),
            s::auth_time.eq(session.auth_time),
            s::created_at.eq(session.created_at),
            s::expires_at.eq(session.expires_at),
            s::last_used_at.eq(session.last_used_at),
            s::address.eq(&session.address),
            s::browser.eq(&session.browser),
            s::amr.eq(&session.amr),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// Records that the session was used at `now`, unless that was already recorded at or after
/// `since` (so a session costs a write at most once a minute, and two instances touching it
/// at once write once).
pub fn touch_session(
    conn: &mut DbConn,
    id_hash: &str,
    now: i64,
    since: i64,
) -> Result<(), DbError> {
    diesel::update(
        s::sessions
            .filter(s::id_hash.eq(id_hash))
            .filter(s::ended_at.is_null())
            .filter(s::last_used_at.is_null().or(s::last_used_at.lt(since))),
    )
    .set(s::last_used_at.eq(now))
    .execute(conn)
    .map(drop)
    .map_err(DbError::from_diesel)
}

/// A live session: not ended, not expired.
pub fn find_live_session(
    conn: &mut DbConn,
    id_hash: &str,
    now: i64,
) -> Result<Option<Session>, DbError> {
    s::sessions
        .filter(s::id_hash.eq(id_hash))
        .filter(s::ended_at.is_null())
        .filter(s::expires_at.gt(now))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// A step-up in place: the session behind `old_hash` (of `user_id`, not ended) gets a new
/// cookie digest (a raised session never keeps its old value), its new methods and sign-in
/// time; its `sid`, and so its applications, stay. True when it was there.
pub fn raise_session(
    conn: &mut DbConn,
    old_hash: &str,
    user_id: &str,
    new_hash: &str,
    amr: &str,
    now: i64,
) -> Result<bool, DbError> {
    diesel::update(
        s::sessions
            .filter(s::id_hash.eq(old_hash))
            .filter(s::user_id.eq(user_id))
            .filter(s::ended_at.is_null())
            .filter(s::expires_at.gt(now)),
    )
    .set((
        s::id_hash.eq(new_hash),
        s::amr.eq(amr),
        s::auth_time.eq(now),
    ))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(DbError::from_diesel)
}

pub fn end_session(conn: &mut DbConn, id_hash: &str, now: i64) -> Result<bool, DbError> {
    diesel::update(
        s::sessions
            .filter(s::id_hash.eq(id_hash))
            .filter(s::ended_at.is_null()),
    )
    .set(s::ended_at.eq(now))
    .execute(conn)
    .map(|n| n > 0)
    .map_err(DbError::from_diesel)
}

pub fn end_session_by_sid(conn: &mut DbConn, sid: &str, now: i64) -> Result<bool, DbError> {
    diesel::update(
        s::sessions
            .filter(s::sid.eq(sid))
            .filter(s::ended_at.is_null()),
    )
    .set(s::ended_at.eq(now))
    .execute(conn)
    .map(|n| n > 0)
    .map_err(DbError::from_diesel)
}

/// Ends every session of a user (disable, password change).
pub fn end_user_sessions(conn: &mut DbConn, user_id: &str, now: i64) -> Result<usize, DbError> {
    diesel::update(
        s::sessions
            .filter(s::user_id.eq(user_id))
            .filter(s::ended_at.is_null()),
    )
    .set(s::ended_at.eq(now))
    .execute(conn)
    .map_err(DbError::from_diesel)
}

/// Ends every session of a user but one (the user's own password change keeps the session
/// that made it).
pub fn end_user_sessions_but(
    conn: &mut DbConn,
    user_id: &str,
    keep_id_hash: &str,
    now: i64,
) -> Result<usize, DbError> {
    diesel::update(
        s::sessions
            .filter(s::user_id.eq(user_id))
            .filter(s::id_hash.ne(keep_id_hash))
            .filter(s::ended_at.is_null()),
    )
    .set(s::ended_at.eq(now))
    .execute(conn)
    .map_err(DbError::from_diesel)
}

/// No `Debug`: it names a live code.
#[derive(Queryable, Clone)]
pub struct AuthCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub family_id: Option<String>,
    pub access_jti_hash: Option<String>,
    pub access_expires_at: Option<i64>,
    /// The session's methods when the code was issued.
    pub amr: Option<String>,
}

pub fn insert_code(conn: &mut DbConn, code: &AuthCode) -> Result<(), DbError> {
    diesel::insert_into(a::auth_codes)
        .values((
            a::code_hash.eq(&code.code_hash),
            a::client_id.eq(&code.client_id),
            a::user_id.eq(&code.user_id),
            a::sid.eq(&code.sid),
            a::redirect_uri.eq(&code.redirect_uri),
            a::scope.eq(&code.scope),
            a::nonce.eq(&code.nonce),
            a::code_challenge.eq(&code.code_challenge),
            a::auth_time.eq(code.auth_time),
            a::expires_at.eq(code.expires_at),
            a::amr.eq(&code.amr),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn find_code(conn: &mut DbConn, code_hash: &str) -> Result<Option<AuthCode>, DbError> {
    a::auth_codes
        .filter(a::code_hash.eq(code_hash))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// Marks the code used; true for exactly one caller (RFC 6749 §4.1.2: single use).
pub fn try_use_code(conn: &mut DbConn, code_hash: &str, now: i64) -> Result<bool, DbError> {
    diesel::update(
        a::auth_codes
            .filter(a::code_hash.eq(code_hash))
            .filter(a::used_at.is_null()),
    )
    .set(a::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(DbError::from_diesel)
}

/// Remembers what the code's first use issued, so a replay can revoke it.
pub fn record_issued(
    conn: &mut DbConn,
    code_hash: &str,
    family_id: Option<&str>,
    access_jti_hash: &str,
    access_exp: i64,
) -> Result<(), DbError> {
    diesel::update(a::auth_codes.filter(a::code_hash.eq(code_hash)))
        .set((
            a::family_id.eq(family_id),
            a::access_jti_hash.eq(access_jti_hash),
            a::access_expires_at.eq(access_exp),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn find_consent(
    conn: &mut DbConn,
    user_id: &str,
    client_id: &str,
) -> Result<Option<String>, DbError> {
    c::consents
        .filter(c::user_id.eq(user_id))
        .filter(c::client_id.eq(client_id))
        .select(c::scope)
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

pub fn store_consent(
    conn: &mut DbConn,
    user_id: &str,
    client_id: &str,
    scope: &str,
    now: i64,
) -> Result<(), DbError> {
    // One statement: two consents at the same moment never meet a unique violation.
    let sql = match conn {
        DbConn::Pg(_) => {
            "INSERT INTO consents (user_id, client_id, scope, granted_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client_id) \
             DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at"
        }
        DbConn::Sqlite(_) => {
            "INSERT INTO consents (user_id, client_id, scope, granted_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id, client_id) \
             DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at"
        }
    };
    diesel::sql_query(sql)
        .bind::<Text, _>(user_id)
        .bind::<Text, _>(client_id)
        .bind::<Text, _>(scope)
        .bind::<BigInt, _>(now)
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// Housekeeping: codes never used that expired before `unused_before`, and used ones that
/// expired before `used_before` (a used code is kept while what it issued may live, so that
/// a replay still revokes it). At most `batch` rows.
pub fn purge_codes(
    conn: &mut DbConn,
    unused_before: i64,
    used_before: i64,
    batch: i64,
) -> Result<usize, DbError> {
    let condition =
        format!("expires_at < {used_before} OR (used_at IS NULL AND expires_at < {unused_before})");
    super::delete_batch(conn, "auth_codes", "code_hash", &condition, batch)
}

/// Housekeeping: sessions that expired before `before` (ended ones included), at most
/// `batch` rows.
pub fn purge_sessions(conn: &mut DbConn, before: i64, batch: i64) -> Result<usize, DbError> {
    let condition = format!("expires_at < {before}");
    super::delete_batch(conn, "sessions", "id_hash", &condition, batch)
}
