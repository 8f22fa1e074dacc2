//! The SSO session: a server-side record referenced by an opaque cookie value, stored as
//! its SHA-256 digest so a database reader cannot replay sessions. It remembers where it
//! signed in from (address, a short description of the browser) and when it was last used,
//! moved at most once a minute ([`TOUCH_EVERY`]) so that using a session rarely writes.

use crate::assurance::{Authentication, Level};
pub use crate::db::repo::sessions::Session;
use crate::db::repo::users::User;
use crate::db::{repo, Db, DbError};
use crate::digest::{digest_hex, random_token};

/// How stale a session's `last_used_at` may get before a use records it again (seconds).
pub const TOUCH_EVERY: i64 = 60;

/// Where a sign-in came from, as the sessions lists show it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The client address (after trusted proxies).
    pub address: String,
    /// The `User-Agent` header, described by [`super::user_agent::describe`] before storing.
    pub user_agent: String,
}

/// How the session's user signed in.
pub fn authentication(session: &Session) -> Authentication {
    Authentication::new(session.auth_time, Level::of_stored_amr(Some(&session.amr)))
}

/// Creates a session for `user_id`, signed in at `level`; returns the cookie value and the
/// record.
pub async fn create(
    db: &Db,
    user_id: &str,
    level: Level,
    ttl_secs: i64,
    now: i64,
    origin: &Origin,
) -> Result<(String, Session), DbError> {
    let token = random_token();
    let session = Session {
        id_hash: digest_hex(&token),
        sid: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.to_string(),
        auth_time: now,
        created_at: now,
        expires_at: now + ttl_secs,
        ended_at: None,
        last_used_at: Some(now),
        // An address is at most 45 characters (IPv6); anything else is cut, not trusted.
        address: Some(origin.address.chars().take(45).collect()),
        browser: Some(super::user_agent::describe(&origin.user_agent)),
        amr: level.stored_amr(),
    };
    let stored = session.clone();
    db.write(move |conn| repo::sessions::create_session(conn, &stored))
        .await?;
    Ok((token, session))
}

/// The live session behind a cookie value, with its (enabled) user; a use of the session
/// (`/authorize`, the account page, the console), recorded when the last record is older
/// than [`TOUCH_EVERY`].
pub async fn find(db: &Db, cookie: &str, now: i64) -> Result<Option<(Session, User)>, DbError> {
    if cookie.is_empty() || cookie.len() > 100 {
        return Ok(None);
    }
    let hash = digest_hex(cookie);
    let found = db
        .run(move |conn| -> Result<_, DbError> {
            let Some(session) = repo::sessions::find_live_session(conn, &hash, now)? else {
                return Ok(None);
            };
            let user = repo::users::find_by_id(conn, &session.user_id)?;
            Ok(user.filter(|u| !u.disabled).map(|u| (session, u)))
        })
        .await?;
    if let Some((session, _)) = &found {
        let since = now - TOUCH_EVERY;
        if session.last_used_at.unwrap_or(session.created_at) < since {
            let hash = session.id_hash.clone();
            let touched: Result<(), DbError> = db
                .write(move |conn| repo::sessions::touch_session(conn, &hash, now, since))
                .await;
            // Bookkeeping for the sessions lists: a failed write (a busy SQLite file, say) is
            // logged, and the session is used all the same.
            if let Err(e) = touched {
                tracing::warn!(error = %e, "could not record the use of a session");
            }
        }
    }
    Ok(found)
}

/// Raises the live session behind a cookie value (of `user_id`) to `level` after a second
/// factor, in place: a new cookie value, the same `sid`. The new value, or `None` when the
/// session is not there.
pub async fn raise(
    db: &Db,
    cookie: &str,
    user_id: &str,
    level: Level,
    now: i64,
) -> Result<Option<String>, DbError> {
    if cookie.is_empty() || cookie.len() > 100 {
        return Ok(None);
    }
    let token = random_token();
    let (old, new, uid, amr) = (
        digest_hex(cookie),
        digest_hex(&token),
        user_id.to_string(),
        level.stored_amr(),
    );
    let raised = db
        .write(move |conn| repo::sessions::raise_session(conn, &old, &uid, &new, &amr, now))
        .await?;
    Ok(raised.then_some(token))
}

/// Ends the session behind a cookie value, notifying its clients (see `backchannel`).
pub async fn end(db: &Db, cookie: &str, now: i64) -> Result<bool, DbError> {
    let hash = digest_hex(cookie);
    db.write(move |conn| super::backchannel::end_session_by_hash(conn, &hash, now))
        .await
}
