//! OpenID Connect id_tokens (Core §2, §3.1.3.6 for `at_hash`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

pub use crate::tokens::claims::IdClaims;

/// The left half of SHA-256 of the access token, base64url (RS256 → SHA-256).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}
