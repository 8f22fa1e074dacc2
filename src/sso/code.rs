//! Authorization codes: issued after login, single use, bound to client, redirect URI and
//! PKCE challenge, short-lived (RFC 6749 §4.1.2, §10.5; RFC 7636).

use crate::assurance::Authentication;
use crate::db::repo::sessions::AuthCode;
use crate::db::{repo, Db, DbConn, DbError};
use crate::digest::{digest_hex, random_token};
use crate::tokens::refresh::Minted;

use super::authorize::AuthRequest;

pub async fn issue(
    db: &Db,
    req: &AuthRequest,
    user_id: &str,
    sid: &str,
    auth: Authentication,
    ttl_secs: i64,
    now: i64,
) -> Result<String, DbError> {
    let code = random_token();
    let record = AuthCode {
        code_hash: digest_hex(&code),
        client_id: req.client.client_id.clone(),
        user_id: user_id.to_string(),
        sid: sid.to_string(),
        redirect_uri: req.redirect_uri.clone(),
        scope: req.scopes.join(" "),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        auth_time: auth.auth_time,
        expires_at: now + ttl_secs,
        used_at: None,
        family_id: None,
        access_jti_hash: None,
        access_expires_at: None,
        amr: Some(auth.level.stored_amr()),
    };
    db.write(move |conn| repo::sessions::insert_code(conn, &record))
        .await?;
    Ok(code)
}

/// How the user of a code signed in.
pub fn authentication(code: &AuthCode) -> Authentication {
    Authentication::new(
        code.auth_time,
        crate::assurance::Level::of_stored_amr(code.amr.as_deref()),
    )
}

/// Why an exchange failed; all are `invalid_grant` to the client.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("the authorization code is invalid or expired")]
    Invalid,
    #[error("the authorization code was issued to another client")]
    WrongClient,
    #[error("redirect_uri does not match the authorization request")]
    RedirectMismatch,
    #[error("the PKCE code_verifier is missing or wrong")]
    Pkce,
    #[error("the authorization code was already used; the tokens issued for it are revoked")]
    Replayed,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Checks a code for this client, redirect URI and PKCE verifier, without spending it (see
/// [`spend`]). A code that was already used revokes what its first use issued.
pub async fn check(
    db: &Db,
    code: &str,
    client_id: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    now: i64,
) -> Result<AuthCode, CodeError> {
    if code.is_empty() || code.len() > 100 {
        return Err(CodeError::Invalid);
    }
    let hash = digest_hex(code);
    let record = db
        .run(move |conn| repo::sessions::find_code(conn, &hash))
        .await?
        .ok_or(CodeError::Invalid)?;
    if record.client_id != client_id {
        burn(db, &record, now).await?;
        return Err(CodeError::WrongClient);
    }
    if record.used_at.is_some() {
        revoke_issued(db, &record, now).await?;
        return Err(CodeError::Replayed);
    }
    if record.expires_at <= now {
        return Err(CodeError::Invalid);
    }
    if redirect_uri != Some(record.redirect_uri.as_str()) {
        burn(db, &record, now).await?;
        return Err(CodeError::RedirectMismatch);
    }
    match (&record.code_challenge, verifier) {
        (Some(challenge), Some(v)) if super::pkce::verify_s256(v, challenge) => {}
        (None, None) => {}
        // A verifier without a challenge is a downgrade attempt (Security BCP §2.1.1).
        _ => {
            burn(db, &record, now).await?;
            return Err(CodeError::Pkce);
        }
    }
    Ok(record)
}

/// A code presented by another client, with another redirect URI or another PKCE verifier
/// is in the wrong hands (code injection, RFC 9700 §4.5): it is spent on the spot, so that
/// no one redeems it afterwards, neither the attacker with a second guess nor the client it
/// was issued to (whose sign-in then fails visibly instead of silently racing an attacker).
async fn burn(db: &Db, record: &AuthCode, now: i64) -> Result<(), DbError> {
    let hash = record.code_hash.clone();
    db.write(move |conn| repo::sessions::try_use_code(conn, &hash, now))
        .await
        .map(drop)
}

/// Spends the code and records what it issued, in the caller's write transaction, so that a
/// replay arriving at any moment finds the tokens to revoke. False when another redemption
/// spent it first (nothing is recorded then).
pub fn spend(
    conn: &mut DbConn,
    code: &AuthCode,
    minted: &Minted,
    now: i64,
) -> Result<bool, DbError> {
    if !repo::sessions::try_use_code(conn, &code.code_hash, now)? {
        return Ok(false);
    }
    minted.record(conn)?;
    // The session now has this client signed in: its end will notify it (single logout).
    repo::logout::record_session_client(conn, &code.sid, &code.client_id, now)?;
    let pair = &minted.pair;
    repo::sessions::record_issued(
        conn,
        &code.code_hash,
        pair.family_id.as_deref(),
        &digest_hex(&pair.jti),
        now + pair.expires_in,
    )?;
    Ok(true)
}

/// After losing the race to spend a code: revoke what the winner issued with it.
pub async fn revoke_after_replay(db: &Db, code: &AuthCode, now: i64) -> Result<(), DbError> {
    let hash = code.code_hash.clone();
    let again = db
        .run(move |conn| repo::sessions::find_code(conn, &hash))
        .await?;
    if let Some(r) = again {
        revoke_issued(db, &r, now).await?;
    }
    Ok(())
}

async fn revoke_issued(db: &Db, code: &AuthCode, now: i64) -> Result<(), DbError> {
    let (family, access, exp) = (
        code.family_id.clone(),
        code.access_jti_hash.clone(),
        code.access_expires_at,
    );
    db.write(move |conn| {
        if let Some(f) = &family {
            repo::refresh::revoke_family(conn, f, "authorization code replayed", now)?;
        }
        if let (Some(a), Some(e)) = (&access, exp) {
            repo::refresh::revoke_access(conn, a, e)?;
        }
        Ok::<_, DbError>(())
    })
    .await?;
    tracing::warn!(client_id = %code.client_id, "authorization code replayed; its tokens are revoked");
    Ok(())
}
