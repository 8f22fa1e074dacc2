//! Authorization codes: issued after login, single use, bound to client, redirect URI and
//! PKCE challenge, short-lived (RFC 6749 §4.1.2, §10.5; RFC 7636).

use crate::db::repo::sessions::AuthCode;
use crate::db::{repo, Db, DbError};
use crate::keys::encryption::digest_hex;

use super::authorize::AuthRequest;
use super::session::random_token;

pub async fn issue(
    db: &Db,
    req: &AuthRequest,
    user_id: &str,
    sid: &str,
    auth_time: i64,
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
        auth_time,
        expires_at: now + ttl_secs,
        used_at: None,
        family_id: None,
        access_jti_hash: None,
        access_expires_at: None,
    };
    db.write(move |conn| repo::sessions::insert_code(conn, &record))
        .await?;
    Ok(code)
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

/// Checks and spends a code. On a second use, revokes what its first use issued.
pub async fn redeem(
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
    let lookup = hash.clone();
    let record = db
        .run(move |conn| repo::sessions::find_code(conn, &lookup))
        .await?
        .ok_or(CodeError::Invalid)?;
    if record.client_id != client_id {
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
        return Err(CodeError::RedirectMismatch);
    }
    match (&record.code_challenge, verifier) {
        (Some(challenge), Some(v)) if super::pkce::verify_s256(v, challenge) => {}
        (None, None) => {}
        // A verifier without a challenge is a downgrade attempt (Security BCP §2.1.1).
        _ => return Err(CodeError::Pkce),
    }
    let spend = hash.clone();
    if !db
        .write(move |conn| repo::sessions::try_use_code(conn, &spend, now))
        .await?
    {
        // Lost a race with another redemption of the same code.
        let again = db
            .run(move |conn| repo::sessions::find_code(conn, &hash))
            .await?;
        if let Some(r) = again {
            revoke_issued(db, &r, now).await?;
        }
        return Err(CodeError::Replayed);
    }
    Ok(record)
}

/// Records what the first use issued, so that a replay can revoke it.
pub async fn record_issued(
    db: &Db,
    code: &AuthCode,
    family_id: Option<String>,
    access_jti: &str,
    access_exp: i64,
) -> Result<(), DbError> {
    let (hash, jti_hash) = (code.code_hash.clone(), digest_hex(access_jti));
    db.write(move |conn| {
        repo::sessions::record_issued(conn, &hash, family_id.as_deref(), &jti_hash, access_exp)
    })
    .await
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
