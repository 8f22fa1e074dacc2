//! argon2id password hashing (OWASP baseline m=19456 KiB, t=2, p=1). The functions here are
//! blocking; requests reach them through [`workers::Hasher`], a fixed set of threads that
//! each reuse one argon2 memory block. An unknown user is checked against a dummy hash, so it
//! costs the same as a wrong password.

pub mod workers;

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::Internal;

pub use workers::Hasher;

pub const M_COST: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
/// Bytes of argon2 output in Gatehouse's hashes (argon2's default).
const OUTPUT_LEN: usize = 32;
/// The PHC prefix of a hash made with the current parameters.
const CURRENT_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

/// The argon2 working memory of one hash with the current parameters (M_COST KiB).
pub fn new_memory() -> Vec<Block> {
    vec![Block::default(); M_COST as usize]
}

fn argon2() -> Argon2<'static> {
    // Constant, valid parameters; argon2's default is the same OWASP baseline.
    let params = Params::new(M_COST, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A password held only as long as needed; never printed.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    pub fn new(s: String) -> Password {
        Password(Zeroizing::new(s))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed")]
    Failed,
}

impl From<HashError> for Internal {
    fn from(e: HashError) -> Self {
        Internal::Broken(Box::new(e))
    }
}

/// Result of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash uses other parameters: rehash it now that we know the password.
    pub needs_rehash: bool,
}

/// Blocking: hash with the current parameters.
pub fn hash_blocking(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| HashError::Failed)
}

/// Blocking: hash with the current parameters in `memory` (from [`new_memory`]) instead of
/// allocating 19 MiB for this one hash.
pub fn hash_in(password: &str, memory: &mut [Block]) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_buf = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_buf)
        .map_err(|_| HashError::Failed)?;
    let mut out = [0u8; OUTPUT_LEN];
    argon2()
        .hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, memory)
        .map_err(|_| HashError::Failed)?;
    let out = Output::new(&out).map_err(|_| HashError::Failed)?;
    Ok(format!("{CURRENT_PREFIX}{}${out}", salt.as_str()))
}

/// A well-formed hash with the current parameters that no password matches (its "output" is
/// random bytes, not an argon2 result): checking a password against it costs one full hash,
/// the same as against a real user's, without spending a hash at start-up to make it.
pub fn dummy_hash() -> String {
    use rand::RngCore;
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut out = [0u8; OUTPUT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut out);
    match Output::new(&out) {
        Ok(out) => format!("{CURRENT_PREFIX}{}${out}", salt.as_str()),
        // Unreachable (32 bytes is a valid length); an unparsable dummy would still cost
        // nothing to check, so fall back to a real hash.
        Err(_) => hash_blocking("gatehouse dummy password for unknown users").unwrap_or_default(),
    }
}

/// Blocking: like [`verify_blocking`], but a hash with the current parameters (every hash
/// Gatehouse made, and the dummy) is computed in `memory`. Anything else (older parameters,
/// Django's formats) takes the ordinary path, which allocates its own memory.
pub fn verify_in(password: &str, phc: &str, memory: &mut [Block]) -> Verified {
    let Some(parsed) = current_hash(phc) else {
        return verify_blocking(password, phc);
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return verify_blocking(password, phc);
    };
    let mut salt_buf = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_buf) else {
        return verify_blocking(password, phc);
    };
    let mut out = [0u8; OUTPUT_LEN];
    let hashed =
        argon2().hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, memory);
    // Constant time: how much of the output matched must not leak.
    let ok = hashed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()));
    Verified {
        ok,
        needs_rehash: false,
    }
}

/// `phc` parsed, when it is exactly what [`hash_in`] makes: argon2id v19 with the current
/// m, t, p (and nothing else: no key id or associated data) and a 32-byte output.
fn current_hash(phc: &str) -> Option<PasswordHash<'_>> {
    if !phc.starts_with(CURRENT_PREFIX) {
        return None;
    }
    let parsed = PasswordHash::new(phc).ok()?;
    let current = parsed.algorithm.as_str() == "argon2id"
        && parsed.version == Some(0x13)
        && parsed.params.iter().count() == 3
        && parsed.params.get_decimal("m") == Some(M_COST)
        && parsed.params.get_decimal("t") == Some(T_COST)
        && parsed.params.get_decimal("p") == Some(P_COST)
        && parsed.hash.is_some_and(|h| h.len() == OUTPUT_LEN);
    current.then_some(parsed)
}

/// Blocking: check a password against a PHC string (any argon2 variant or parameters),
/// or against a hash imported from Django, which is always rehashed once it matched.
pub fn verify_blocking(password: &str, phc: &str) -> Verified {
    if let Some(ok) = crate::django_passwords::verify(password, phc) {
        return Verified {
            ok,
            needs_rehash: ok,
        };
    }
    // Beyond the ceilings of imported hashes, not computed at all: no stored hash may cost
    // a login more than those.
    let Some(parsed) = PasswordHash::new(phc)
        .ok()
        .filter(|p| crate::django_passwords::argon2_within_limits(p).is_ok())
    else {
        return Verified {
            ok: false,
            needs_rehash: false,
        };
    };
    let ok = argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    let current = parsed.algorithm.as_str() == "argon2id"
        && parsed.params.get_decimal("m") == Some(M_COST)
        && parsed.params.get_decimal("t") == Some(T_COST)
        && parsed.params.get_decimal("p") == Some(P_COST);
    Verified {
        ok,
        needs_rehash: ok && !current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_uses_owasp_argon2id_parameters_and_verifies() {
        let phc = hash_blocking("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(
            verify_blocking("correct horse", &phc),
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(!verify_blocking("wrong", &phc).ok);
        assert!(!verify_blocking("x", "not a hash").ok);
    }

    #[test]
    fn the_dummy_hash_costs_a_full_hash_with_the_current_parameters_and_never_matches() {
        let dummy = dummy_hash();
        // Parsed as one of ours: checked in the workers' memory like a real user's hash.
        assert!(current_hash(&dummy).is_some(), "{dummy}");
        assert!(current_hash(&hash_blocking("pw").unwrap()).is_some());
        let mut memory = new_memory();
        assert!(!verify_in("", &dummy, &mut memory).ok);
        assert!(
            !verify_in(
                "gatehouse dummy password for unknown users",
                &dummy,
                &mut memory
            )
            .ok
        );
        assert_ne!(dummy, dummy_hash(), "a fresh salt and output each time");
    }

    #[test]
    fn older_parameters_ask_for_a_rehash() {
        let params = Params::new(4096, 3, 1, None).unwrap();
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let phc = weak.hash_password(b"pw", &salt).unwrap().to_string();
        assert_eq!(
            verify_blocking("pw", &phc),
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        assert_eq!(
            verify_blocking("bad", &phc),
            Verified {
                ok: false,
                needs_rehash: false
            }
        );
    }
}
