//! Minting signed tokens with the current key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use super::claims::{refresh_audience, AccessClaims, RefreshClaims, Subject};
use crate::error::Internal;
use crate::keys::store::{SignError, Signer, TokenType};

/// 128 random bits, base64url: a token id.
pub fn new_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no signing key is loaded")]
    NoKey,
    #[error("signing failed: {0}")]
    Sign(#[from] SignError),
}

impl From<IssueError> for Internal {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::NoKey => Internal::Unavailable(Box::new(e)),
            other => Internal::Broken(Box::new(other)),
        }
    }
}

pub fn access_token(
    signer: &Signer,
    issuer: &str,
    subject: &Subject,
    now: i64,
    ttl_secs: i64,
) -> Result<(String, AccessClaims), IssueError> {
    let claims = AccessClaims {
        iss: issuer.to_string(),
        sub: subject.sub.clone(),
        aud: subject.audience.clone(),
        client_id: subject.client_id.clone(),
        exp: now + ttl_secs,
        iat: now,
        jti: new_jti(),
        scope: subject.scope.clone(),
        token_type: "access".into(),
        user_id: subject.user_id.clone(),
        auth_time: subject.auth.map(|a| a.auth_time),
        amr: subject.auth.map(|a| a.amr()),
        acr: subject.auth.map(|a| a.acr()),
    };
    Ok((signer.sign(TokenType::Access, &claims)?, claims))
}

pub fn refresh_token(
    signer: &Signer,
    issuer: &str,
    subject: &Subject,
    now: i64,
    exp: i64,
) -> Result<(String, RefreshClaims), IssueError> {
    let claims = RefreshClaims {
        iss: issuer.to_string(),
        sub: subject.sub.clone(),
        aud: refresh_audience(issuer),
        client_id: subject.client_id.clone(),
        exp,
        iat: now,
        jti: new_jti(),
        scope: subject.scope.clone(),
        token_type: "refresh".into(),
        user_id: subject.user_id.clone(),
    };
    Ok((signer.sign(TokenType::Refresh, &claims)?, claims))
}
