//! The in-memory key set every request reads: the signer (current key), the verifiers
//! (published keys) and the pre-built JWKS body. It is rebuilt only when the stored key set
//! changes, which every instance notices by polling a cheap fingerprint.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::DecodingKey;

use super::encryption::MasterKeys;
use super::jwks;
use super::lifecycle::{self, KeyRecord, KeyState};
use crate::db::{repo, Db, DbError};

/// The three JOSE `typ` values Gatehouse signs; each has its own pre-encoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// RFC 9068 access token.
    Access,
    /// Refresh token: a distinct `typ`, so it is never taken for an access token.
    Refresh,
    /// OpenID Connect id_token.
    Id,
    /// OpenID Connect Back-Channel Logout 1.0 logout token.
    Logout,
}

impl TokenType {
    pub fn typ(self) -> &'static str {
        match self {
            TokenType::Access => "at+jwt",
            TokenType::Refresh => "rt+jwt",
            TokenType::Id => "JWT",
            TokenType::Logout => "logout+jwt",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("claims cannot be serialised: {0}")]
    Json(#[from] serde_json::Error),
    #[error("RSA signing failed")]
    Crypto,
}

/// The current key, ready to sign: parsed and checked once, when it is loaded. (Signing
/// through `jsonwebtoken::crypto::sign` parsed and checked the private key on every token,
/// which with aws-lc costs twice the signature itself.)
pub struct Signer {
    pub kid: String,
    key: RsaKeyPair,
    rng: SystemRandom,
    /// base64url JOSE headers, encoded once per key rather than once per token.
    headers: [String; 4],
}

impl Signer {
    fn new(kid: String, pkcs1_der: &[u8]) -> Result<Signer, aws_lc_rs::error::KeyRejected> {
        let header = |typ: &str| {
            let json = serde_json::json!({ "alg": "RS256", "typ": typ, "kid": kid });
            URL_SAFE_NO_PAD.encode(json.to_string())
        };
        let headers = [
            header("at+jwt"),
            header("rt+jwt"),
            header("JWT"),
            header("logout+jwt"),
        ];
        Ok(Signer {
            key: RsaKeyPair::from_der(pkcs1_der)?,
            rng: SystemRandom::new(),
            kid,
            headers,
        })
    }

    /// Signs `claims` as a compact JWS with this key.
    pub fn sign<C: serde::Serialize>(
        &self,
        typ: TokenType,
        claims: &C,
    ) -> Result<String, SignError> {
        let header = match typ {
            TokenType::Access => &self.headers[0],
            TokenType::Refresh => &self.headers[1],
            TokenType::Id => &self.headers[2],
            TokenType::Logout => &self.headers[3],
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let mut message = String::with_capacity(header.len() + payload.len() + 350);
        message.push_str(header);
        message.push('.');
        message.push_str(&payload);
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|_| SignError::Crypto)?;
        message.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut message);
        Ok(message)
    }
}

/// One consistent view of the keys.
pub struct KeySet {
    pub records: Vec<KeyRecord>,
    pub signer: Option<Arc<Signer>>,
    verifiers: HashMap<String, DecodingKey>,
    pub jwks_body: bytes::Bytes,
    /// The strong ETag, quotes included, as shared bytes: a response header is made of it
    /// without copying.
    pub jwks_etag: bytes::Bytes,
    fingerprint: String,
}

impl KeySet {
    fn empty() -> KeySet {
        let (body, etag) = jwks::build_body(&[]);
        KeySet {
            records: Vec::new(),
            signer: None,
            verifiers: HashMap::new(),
            jwks_body: body.into(),
            jwks_etag: etag.into(),
            fingerprint: String::new(),
        }
    }

    /// The verification key for a published `kid`; revoked and removed keys have none.
    pub fn verifier(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifiers.get(kid)
    }

    pub fn current(&self) -> Option<&KeyRecord> {
        self.records.iter().find(|k| k.state == KeyState::Current)
    }
}

/// What changes the JWKS or the signer; retired keys drop out when `now` passes their end.
fn fingerprint(records: &[KeyRecord], now: i64) -> String {
    lifecycle::published(records, now)
        .iter()
        .map(|k| format!("{}:{};", k.kid, k.state.as_str()))
        .collect()
}

pub struct KeyStore {
    master: MasterKeys,
    /// Read by every request without a lock; replaced whole by a reload.
    set: ArcSwap<KeySet>,
    /// One reload at a time, so a slow reload cannot replace a newer set with an older one.
    reloading: tokio::sync::Mutex<()>,
    /// Changes of the current key seen by reloads (for `/metrics`).
    rotations_seen: std::sync::atomic::AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("signing key {0} cannot be opened with the configured master key")]
    Unseal(String),
    #[error("signing key {0} is not a valid RSA private key")]
    Invalid(String),
}

impl KeyStore {
    pub fn new(master: MasterKeys) -> KeyStore {
        KeyStore {
            master,
            set: ArcSwap::from_pointee(KeySet::empty()),
            reloading: tokio::sync::Mutex::new(()),
            rotations_seen: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How often this instance has seen the current key change to another one.
    pub fn rotations_seen(&self) -> u64 {
        self.rotations_seen
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn master(&self) -> &MasterKeys {
        &self.master
    }

    /// The key set as of the last reload.
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.set.load_full()
    }

    /// Re-reads the stored keys; rebuilds the set when they changed. Returns whether it did.
    pub async fn reload(self: &Arc<Self>, db: &Db, now: i64) -> Result<bool, KeyStoreError> {
        let _one_at_a_time = self.reloading.lock().await;
        let store = Arc::clone(self);
        let old = self.snapshot();
        let rebuilt = db
            .run(move |conn| {
                let records = repo::keys::list(conn)?;
                if fingerprint(&records, now) == old.fingerprint {
                    return Ok(None);
                }
                let current_kid = records
                    .iter()
                    .find(|k| k.state == KeyState::Current)
                    .map(|k| k.kid.clone());
                let signer = match (&current_kid, &old.signer) {
                    (Some(kid), Some(signer)) if &signer.kid == kid => Some(signer.clone()),
                    (Some(kid), _) => match repo::keys::sealed_private(conn, kid)? {
                        Some((sealed, master_id)) => {
                            Some(Arc::new(store.unseal_signer(kid, &sealed, &master_id)?))
                        }
                        None => None,
                    },
                    (None, _) => None,
                };
                Ok::<_, KeyStoreError>(Some((records, signer)))
            })
            .await?;
        let Some((records, signer)) = rebuilt else {
            return Ok(false);
        };
        let published = lifecycle::published(&records, now);
        let verifiers = published
            .iter()
            .filter_map(|k| {
                DecodingKey::from_rsa_components(&k.n, &k.e)
                    .ok()
                    .map(|d| (k.kid.clone(), d))
            })
            .collect();
        let (body, etag) = jwks::build_body(&published);
        let old_kid = self.snapshot().signer.as_ref().map(|s| s.kid.clone());
        let new_kid = signer.as_ref().map(|s| s.kid.clone());
        if old_kid.is_some() && new_kid.is_some() && old_kid != new_kid {
            self.rotations_seen
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let set = KeySet {
            fingerprint: fingerprint(&records, now),
            records,
            signer,
            verifiers,
            jwks_body: body.into(),
            jwks_etag: etag.into(),
        };
        self.set.store(Arc::new(set));
        Ok(true)
    }

    fn unseal_signer(
        &self,
        kid: &str,
        sealed: &[u8],
        master_id: &str,
    ) -> Result<Signer, KeyStoreError> {
        let der = self
            .master
            .open(master_id, sealed, kid.as_bytes())
            .map_err(|_| KeyStoreError::Unseal(kid.to_string()))?;
        Signer::new(kid.to_string(), &der).map_err(|_| KeyStoreError::Invalid(kid.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::rotation;

    #[test]
    fn a_signed_token_verifies_with_jsonwebtoken_and_fails_once_tampered() {
        let key = rotation::generate(2048).expect("key");
        let signer = Signer::new(key.kid.clone(), key.pkcs1_der()).expect("signer");
        let claims = serde_json::json!({ "sub": "alice", "exp": 4_000_000_000i64 });
        let token = signer.sign(TokenType::Access, &claims).expect("token");

        let decoding = DecodingKey::from_rsa_components(&key.n, &key.e).expect("public key");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.required_spec_claims.clear();
        let decoded = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)
            .expect("jsonwebtoken accepts the signature");
        assert_eq!(decoded.claims, claims);
        assert_eq!(decoded.header.kid.as_deref(), Some(key.kid.as_str()));
        assert_eq!(decoded.header.typ.as_deref(), Some("at+jwt"));

        // One character inside the signature (not its last, whose low bits are padding).
        let at = token.len() - 100;
        let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
        let tampered = format!("{}{}{}", &token[..at], swapped, &token[at + 1..]);
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(&tampered, &decoding, &validation).is_err()
        );
    }

    #[test]
    fn a_stored_key_that_is_not_an_rsa_private_key_is_refused_at_load() {
        assert!(Signer::new("kid".into(), b"not a key").is_err());
        let key = rotation::generate(2048).expect("key");
        let mut damaged = key.pkcs1_der().to_vec();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0x55;
        assert!(Signer::new(key.kid.clone(), &damaged).is_err());
    }
}
