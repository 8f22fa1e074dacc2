//! The logout token (Back-Channel Logout 1.0 §2.4): a JWT of `typ` `logout+jwt`, signed like
//! id_tokens, naming the session (`sid`) and the user (`sub`), never carrying a `nonce`.

use std::collections::BTreeMap;

use super::Notice;
use crate::keys::store::{SignError, Signer, TokenType};

/// The event a logout token carries.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid after it is signed (it is signed at each attempt).
pub const LIFETIME_SECS: i64 = 120;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LogoutClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sub: String,
    pub sid: String,
    pub events: BTreeMap<String, serde_json::Value>,
}

impl LogoutClaims {
    pub fn new(issuer: &str, notice: &Notice, now: i64) -> LogoutClaims {
        LogoutClaims {
            iss: issuer.to_string(),
            aud: notice.client_id.clone(),
            iat: now,
            exp: now + LIFETIME_SECS,
            jti: notice.jti.clone(),
            sub: notice.sub.clone(),
            sid: notice.sid.clone(),
            events: BTreeMap::from([(EVENT.to_string(), serde_json::json!({}))]),
        }
    }
}

pub fn sign(signer: &Signer, claims: &LogoutClaims) -> Result<String, SignError> {
    signer.sign(TokenType::Logout, claims)
}
