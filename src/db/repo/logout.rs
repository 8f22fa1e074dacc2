//! Single logout: the clients each session signed in to (`session_clients`), where clients
//! want to hear of a session's end (`client_logout`), and the sessions an end concerns.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::schema::client_logout::dsl as l;
use crate::db::schema::clients::dsl as c;
use crate::db::schema::session_clients::dsl as sc;
use crate::db::schema::sessions::dsl as s;
use crate::db::{DbConn, DbError};

/// A client's logout endpoints (OpenID Connect Back-Channel and Front-Channel Logout 1.0).
#[derive(Queryable, Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogoutEndpoints {
    #[serde(skip)]
    pub client_id: String,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub frontchannel_logout_uri: Option<String>,
    pub frontchannel_logout_session_required: bool,
}

/// Remembers that the session `sid` signed in to `client_id` (first and latest time); nothing
/// when the session is gone.
pub fn record_session_client(
    conn: &mut DbConn,
    sid: &str,
    client_id: &str,
    now: i64,
) -> Result<(), DbError> {
    // One statement: two redemptions at the same moment never meet a unique violation.
    let sql = match conn {
        DbConn::Pg(_) => {
            "INSERT INTO session_clients (sid, client_id, first_at, last_at) \
             SELECT sid, $2, $3, $3 FROM sessions WHERE sid = $1 \
             ON CONFLICT (sid, client_id) DO UPDATE SET last_at = excluded.last_at"
        }
        DbConn::Sqlite(_) => {
            "INSERT INTO session_clients (sid, client_id, first_at, last_at) \
             SELECT sid, ?2, ?3, ?3 FROM sessions WHERE sid = ?1 \
             ON CONFLICT (sid, client_id) DO UPDATE SET last_at = excluded.last_at"
        }
    };
    diesel::sql_query(sql)
        .bind::<Text, _>(sid)
        .bind::<Text, _>(client_id)
        .bind::<BigInt, _>(now)
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// The clients a session signed in to, with when it last did, oldest first.
pub fn session_clients(conn: &mut DbConn, sid: &str) -> Result<Vec<(String, i64)>, DbError> {
    sc::session_clients
        .filter(sc::sid.eq(sid))
        .order(sc::first_at.asc())
        .select((sc::client_id, sc::last_at))
        .load(conn)
        .map_err(DbError::from_diesel)
}

/// The enabled clients of session `sid` with their logout endpoints (only those with one).
pub fn logout_targets(conn: &mut DbConn, sid: &str) -> Result<Vec<LogoutEndpoints>, DbError> {
    let clients: Vec<String> = sc::session_clients
        .filter(sc::sid.eq(sid))
        .select(sc::client_id)
        .load(conn)
        .map_err(DbError::from_diesel)?;
    if clients.is_empty() {
        return Ok(vec![]);
    }
    let enabled: Vec<String> = c::clients
        .filter(c::id.eq_any(&clients))
        .filter(c::disabled.eq(false))
        .select(c::id)
        .load(conn)
        .map_err(DbError::from_diesel)?;
    l::client_logout
        .filter(l::client_id.eq_any(&enabled))
        .order(l::client_id.asc())
        .load(conn)
        .map_err(DbError::from_diesel)
}

pub fn endpoints(conn: &mut DbConn, client_id: &str) -> Result<Option<LogoutEndpoints>, DbError> {
    l::client_logout
        .filter(l::client_id.eq(client_id))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// The endpoints of those of `client_ids` that registered any, by client id.
pub fn endpoints_of(
    conn: &mut DbConn,
    client_ids: &[String],
) -> Result<Vec<LogoutEndpoints>, DbError> {
    l::client_logout
        .filter(l::client_id.eq_any(client_ids))
        .order(l::client_id.asc())
        .load(conn)
        .map_err(DbError::from_diesel)
}

/// Every client's registered endpoints (the clients file's plan compares them).
pub fn all_endpoints(conn: &mut DbConn) -> Result<Vec<LogoutEndpoints>, DbError> {
    l::client_logout
        .order(l::client_id.asc())
        .load(conn)
        .map_err(DbError::from_diesel)
}

/// Stores a client's endpoints (none at all removes the row).
pub fn set_endpoints(conn: &mut DbConn, e: &LogoutEndpoints) -> Result<(), DbError> {
    diesel::delete(l::client_logout.filter(l::client_id.eq(&e.client_id)))
        .execute(conn)
        .map_err(DbError::from_diesel)?;
    if e.backchannel_logout_uri.is_none() && e.frontchannel_logout_uri.is_none() {
        return Ok(());
    }
    diesel::insert_into(l::client_logout)
        .values((
            l::client_id.eq(&e.client_id),
            l::backchannel_logout_uri.eq(&e.backchannel_logout_uri),
            l::backchannel_session_required.eq(e.backchannel_logout_session_required),
            l::frontchannel_logout_uri.eq(&e.frontchannel_logout_uri),
            l::frontchannel_session_required.eq(e.frontchannel_logout_session_required),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// A live session as the lists show it.
#[derive(Queryable, Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub sid: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The user's sessions that have not ended or expired, newest first (whole records: the
/// lists show where each signed in from).
pub fn live_sessions_of_user(
    conn: &mut DbConn,
    user_id: &str,
    now: i64,
) -> Result<Vec<crate::db::repo::sessions::Session>, DbError> {
    s::sessions
        .filter(s::user_id.eq(user_id))
        .filter(s::ended_at.is_null())
        .filter(s::expires_at.gt(now))
        .order((s::created_at.desc(), s::sid.asc()))
        .load(conn)
        .map_err(DbError::from_diesel)
}

/// The session behind a cookie digest, if not ended (expired or not).
pub fn open_session_by_hash(
    conn: &mut DbConn,
    id_hash: &str,
) -> Result<Option<LiveSession>, DbError> {
    s::sessions
        .filter(s::id_hash.eq(id_hash))
        .filter(s::ended_at.is_null())
        .select((s::sid, s::user_id, s::created_at, s::expires_at))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// Session `sid`, if not ended.
pub fn open_session_by_sid(conn: &mut DbConn, sid: &str) -> Result<Option<LiveSession>, DbError> {
    s::sessions
        .filter(s::sid.eq(sid))
        .filter(s::ended_at.is_null())
        .select((s::sid, s::user_id, s::created_at, s::expires_at))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// Ends session `sid` if it is open; true for exactly one caller.
pub fn end_by_sid(conn: &mut DbConn, sid: &str, now: i64) -> Result<bool, DbError> {
    diesel::update(
        s::sessions
            .filter(s::sid.eq(sid))
            .filter(s::ended_at.is_null()),
    )
    .set(s::ended_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
    .map_err(DbError::from_diesel)
}

/// The sids of the user's live sessions.
pub fn live_sids_of_user(
    conn: &mut DbConn,
    user_id: &str,
    now: i64,
) -> Result<Vec<String>, DbError> {
    s::sessions
        .filter(s::user_id.eq(user_id))
        .filter(s::ended_at.is_null())
        .filter(s::expires_at.gt(now))
        .select(s::sid)
        .load(conn)
        .map_err(DbError::from_diesel)
}
