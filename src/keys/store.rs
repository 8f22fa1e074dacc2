//! The in-memory key set every request reads: the signer (current key), the verifiers
//! (published keys) and the pre-built JWKS body. It is rebuilt only when the stored key set
//! changes, which every instance notices by polling a cheap fingerprint.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

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
}

impl TokenType {
    pub fn typ(self) -> &'static str {
        match self {
            TokenType::Access => "at+jwt",
            TokenType::Refresh => "rt+jwt",
            TokenType::Id => "JWT",
        }
    }
}

/// The current key, ready to sign.
pub struct Signer {
    pub kid: String,
    key: EncodingKey,
    /// base64url JOSE headers, encoded once per key rather than once per token.
    headers: [String; 3],
}

impl Signer {
    fn new(kid: String, pkcs1_der: &[u8]) -> Signer {
        let header = |typ: &str| {
            let json = serde_json::json!({ "alg": "RS256", "typ": typ, "kid": kid });
            URL_SAFE_NO_PAD.encode(json.to_string())
        };
        let headers = [header("at+jwt"), header("rt+jwt"), header("JWT")];
        Signer {
            key: EncodingKey::from_rsa_der(pkcs1_der),
            kid,
            headers,
        }
    }

    /// Signs `claims` as a compact JWS with this key.
    pub fn sign<C: serde::Serialize>(
        &self,
        typ: TokenType,
        claims: &C,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let header = match typ {
            TokenType::Access => &self.headers[0],
            TokenType::Refresh => &self.headers[1],
            TokenType::Id => &self.headers[2],
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let mut message = String::with_capacity(header.len() + payload.len() + 350);
        message.push_str(header);
        message.push('.');
        message.push_str(&payload);
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.key, Algorithm::RS256)?;
        message.push('.');
        message.push_str(&signature);
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

    pub fn next(&self) -> Option<&KeyRecord> {
        self.records.iter().find(|k| k.state == KeyState::Next)
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
        Ok(Signer::new(kid.to_string(), &der))
    }
}
