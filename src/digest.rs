//! The secrets handed out once and kept only as SHA-256 digests, hex (client secrets,
//! refresh-token ids, session ids, codes, reset links): how they are made and how they are
//! stored and looked up. A leaf, shared by accounts, sso, tokens, keys and the pages.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// SHA-256 of a secret, hex: how client secrets, refresh-token ids and session ids are stored.
pub fn digest_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// The stored digest of a token presented back (a reset or verification link's): `None`
/// when it is not a [`random_token`]'s shape (43 base64url characters), which is then no
/// token of ours and is not looked up.
pub fn presented_token_digest(token: &str) -> Option<String> {
    let shaped = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    shaped.then(|| digest_hex(token))
}

/// 256 random bits, base64url: a session cookie, a code, a reset link, a CSRF token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_token_shaped_value_has_a_digest_to_look_up() {
        let token = random_token();
        assert_eq!(presented_token_digest(&token), Some(digest_hex(&token)));
        for bad in [
            "",
            &token[..42],
            &format!("{token}A"),
            &format!("+{}", &token[1..]),
            &format!("{}=", &token[..42]),
        ] {
            assert_eq!(presented_token_digest(bad), None, "{bad}");
        }
    }
}
