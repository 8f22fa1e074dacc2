//! The SSO session: a server-side record referenced by an opaque cookie value, stored as
//! its SHA-256 digest so a database reader cannot replay sessions.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

pub use crate::db::repo::sessions::Session;
use crate::db::repo::users::User;
use crate::db::{repo, Db, DbError};
use crate::keys::encryption::digest_hex;

/// 256 random bits, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Creates a session for `user_id`; returns the cookie value and the record.
pub async fn create(
    db: &Db,
    user_id: &str,
    ttl_secs: i64,
    now: i64,
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
    };
    let stored = session.clone();
    db.write(move |conn| repo::sessions::create_session(conn, &stored))
        .await?;
    Ok((token, session))
}

/// The live session behind a cookie value, with its (enabled) user.
pub async fn find(db: &Db, cookie: &str, now: i64) -> Result<Option<(Session, User)>, DbError> {
    if cookie.is_empty() || cookie.len() > 100 {
        return Ok(None);
    }
    let hash = digest_hex(cookie);
    db.run(move |conn| {
        let Some(session) = repo::sessions::find_live_session(conn, &hash, now)? else {
            return Ok(None);
        };
        let user = repo::users::find_by_id(conn, &session.user_id)?;
        Ok(user.filter(|u| !u.disabled).map(|u| (session, u)))
    })
    .await
}

pub async fn end(db: &Db, cookie: &str, now: i64) -> Result<bool, DbError> {
    let hash = digest_hex(cookie);
    db.write(move |conn| repo::sessions::end_session(conn, &hash, now))
        .await
}
