//! JWT claim sets. Access tokens follow RFC 9068 and also carry simplejwt's `token_type`
//! and `user_id` so Django verifiers accept them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A refresh token. Its `aud` is [`refresh_audience`], which is never an access token's, so
/// a downstream verifier that checks `aud` but not `typ` refuses it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefreshClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// Whom a token is for: shared by both halves of a pair.
#[derive(Debug, Clone)]
pub struct Subject {
    pub sub: String,
    /// simplejwt's `user_id`; `None` for client_credentials tokens.
    pub user_id: Option<String>,
    pub client_id: String,
    pub scope: String,
    pub audience: String,
}

/// The `aud` of every refresh token: the token endpoint, `{issuer}/token`.
pub fn refresh_audience(issuer: &str) -> String {
    format!("{issuer}/token")
}
