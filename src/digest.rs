//! SHA-256 digests, hex: how client secrets, refresh-token ids, session ids, codes and reset
//! links are stored and looked up. A leaf, shared by accounts, sso, tokens and keys.

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
