//! OpenID Connect id_tokens (Core §2, §3.1.3.6 for `at_hash`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256, Sha512};

use crate::keys::Alg;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub sid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// The left half of the hash of the access token, base64url (OpenID Connect Core §3.1.3.6):
/// the hash of the id_token's `alg`, SHA-256 for RS256 and ES256, SHA-512 for EdDSA with
/// Ed25519 (as the Core errata and openid-client have it).
pub fn at_hash(access_token: &str, id_token_alg: Alg) -> String {
    match id_token_alg {
        Alg::Rs256 | Alg::Es256 => {
            let digest = Sha256::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..16])
        }
        Alg::EdDsa => {
            let digest = Sha512::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..32])
        }
    }
}
