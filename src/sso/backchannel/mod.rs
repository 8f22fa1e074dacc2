//! Single logout (OpenID Connect Back-Channel Logout 1.0): whenever a session ends, each
//! client it signed in to that registered a `backchannel_logout_uri` gets a logout token,
//! through the outbox. [`end_sessions`] is the one way a session ends: it runs in the
//! transaction of whatever ends it (a logout, a password change or reset, a user disabled or
//! deleted, an admin's end) and writes the notifications there, so none is lost and none is
//! sent for a session that did not end.

pub mod deliver;
pub mod endpoints;
pub mod token;

use crate::db::{repo, DbConn, DbError};
use crate::outbox::{self, NewMessage};

/// The outbox kind of back-channel logout notifications.
pub const KIND: &str = "backchannel_logout";

/// What a notification's deliverer needs: no secret (the token is signed at delivery).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Notice {
    pub client_id: String,
    pub sub: String,
    pub sid: String,
    /// The token's `jti`: the same at every attempt, so a receiver can drop a repeat.
    pub jti: String,
}

/// Ends the sessions `sids` that are still open and writes a notification for each client
/// of each that registered a back-channel URI. Returns the sids this call ended (a session
/// already ended by someone else is neither ended again nor notified).
pub fn end_sessions(conn: &mut DbConn, sids: &[String], now: i64) -> Result<Vec<String>, DbError> {
    let mut ended = Vec::with_capacity(sids.len());
    for sid in sids {
        let Some(session) = repo::logout::open_session_by_sid(conn, sid)? else {
            continue;
        };
        if !repo::logout::end_by_sid(conn, sid, now)? {
            continue;
        }
        for target in repo::logout::logout_targets(conn, sid)? {
            let Some(uri) = target.backchannel_logout_uri.as_deref() else {
                continue;
            };
            let notice = Notice {
                client_id: target.client_id.clone(),
                sub: session.user_id.clone(),
                sid: sid.clone(),
                jti: uuid::Uuid::new_v4().to_string(),
            };
            // Strings only: it always serialises.
            let payload = serde_json::to_string(&notice).unwrap_or_default();
            let key = format!("{} {sid}", target.client_id);
            outbox::enqueue(
                conn,
                &NewMessage {
                    kind: KIND,
                    destination: uri,
                    payload: &payload,
                    ordering_key: &key,
                },
                now,
            )?;
        }
        ended.push(sid.clone());
    }
    Ok(ended)
}

/// Ends every live session of a user (password change or reset, disabled, deleted).
pub fn end_user_sessions(conn: &mut DbConn, user_id: &str, now: i64) -> Result<usize, DbError> {
    let sids = repo::logout::live_sids_of_user(conn, user_id, now)?;
    Ok(end_sessions(conn, &sids, now)?.len())
}

/// Ends every live session of a user but the one behind `keep_id_hash` (the user's own
/// password change keeps the session that made it).
pub fn end_user_sessions_but(
    conn: &mut DbConn,
    user_id: &str,
    keep_id_hash: &str,
    now: i64,
) -> Result<usize, DbError> {
    let keep = repo::logout::open_session_by_hash(conn, keep_id_hash)?.map(|s| s.sid);
    let sids: Vec<String> = repo::logout::live_sids_of_user(conn, user_id, now)?
        .into_iter()
        .filter(|sid| Some(sid) != keep.as_ref())
        .collect();
    Ok(end_sessions(conn, &sids, now)?.len())
}

/// The front-channel logout URIs (Front-Channel Logout 1.0 §2) of the clients of session
/// `sid`, with `iss` and `sid` added for those that ask for them: the logout page loads each in
/// a hidden iframe. Read before the session ends.
pub fn frontchannel_uris(
    conn: &mut DbConn,
    sid: &str,
    issuer: &str,
) -> Result<Vec<String>, DbError> {
    let mut out = vec![];
    for target in repo::logout::logout_targets(conn, sid)? {
        let Some(uri) = target.frontchannel_logout_uri else {
            continue;
        };
        if target.frontchannel_logout_session_required {
            let query =
                serde_urlencoded::to_string([("iss", issuer), ("sid", sid)]).unwrap_or_default();
            let joint = if uri.contains('?') { '&' } else { '?' };
            out.push(format!("{uri}{joint}{query}"));
        } else {
            out.push(uri);
        }
    }
    Ok(out)
}

/// Ends the session behind a cookie digest, if open.
pub fn end_session_by_hash(conn: &mut DbConn, id_hash: &str, now: i64) -> Result<bool, DbError> {
    let Some(session) = repo::logout::open_session_by_hash(conn, id_hash)? else {
        return Ok(false);
    };
    Ok(!end_sessions(conn, &[session.sid], now)?.is_empty())
}
