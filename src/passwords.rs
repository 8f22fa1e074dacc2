//! argon2id password hashing (OWASP baseline m=19456 KiB, t=2, p=1) on a bounded pool off
//! the request workers. An unknown user is checked against a dummy hash, so it costs the
//! same as a wrong password.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

pub const M_COST: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

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

/// Blocking: check a password against a PHC string (any argon2 variant or parameters),
/// or against a hash imported from Django, which is always rehashed once it matched.
pub fn verify_blocking(password: &str, phc: &str) -> Verified {
    if let Some(ok) = crate::django_passwords::verify(password, phc) {
        return Verified {
            ok,
            needs_rehash: ok,
        };
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
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

/// The bounded hashing pool shared by every request.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    dummy: Arc<String>,
}

impl Hasher {
    pub fn new(workers: usize) -> Hasher {
        let dummy = hash_blocking("gatehouse dummy password for unknown users").unwrap_or_default();
        Hasher {
            permits: Arc::new(Semaphore::new(workers.max(1))),
            dummy: Arc::new(dummy),
        }
    }

    async fn on_pool<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Failed)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|_| HashError::Failed)
    }

    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.on_pool(move || hash_blocking(password.expose()))
            .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no user,
    /// so that both cost the same; the latter never succeeds.
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let exists = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy.as_str().to_string());
        let verified = self
            .on_pool(move || verify_blocking(password.expose(), &phc))
            .await?;
        Ok(if exists {
            verified
        } else {
            Verified {
                ok: false,
                needs_rehash: false,
            }
        })
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
