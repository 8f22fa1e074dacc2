//! The in-memory key set every request reads: the signer (current key), the verifiers
//! (published keys) and the pre-built JWKS body. It is rebuilt only when the stored key set
//! changes, which every instance notices by polling a cheap fingerprint.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, ParsedPublicKey, RsaKeyPair, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};

use super::encryption::MasterKeys;
use super::jwks;
use super::lifecycle::{self, KeyRecord, KeyState};
use super::Alg;
use crate::db::{repo, Db, DbError};
use crate::error::Internal;

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
    #[error("signing failed")]
    Crypto,
}

/// A private key parsed once, when its key is loaded. (Signing through
/// `jsonwebtoken::crypto::sign` parsed and checked an RSA private key on every token, which
/// with aws-lc costs twice the signature itself.)
enum PrivateKey {
    Rsa(RsaKeyPair),
    /// Signs `r || s`, 64 bytes, as JWS wants (RFC 7518 §3.4), not DER.
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// The current key of one algorithm, ready to sign.
pub struct Signer {
    pub kid: String,
    pub alg: Alg,
    key: PrivateKey,
    rng: SystemRandom,
    /// base64url JOSE headers, encoded once per key rather than once per token.
    headers: [String; 4],
}

impl Signer {
    fn new(kid: String, alg: Alg, der: &[u8]) -> Result<Signer, aws_lc_rs::error::KeyRejected> {
        let header = |typ: &str| {
            let json = serde_json::json!({ "alg": alg.as_str(), "typ": typ, "kid": kid });
            URL_SAFE_NO_PAD.encode(json.to_string())
        };
        let headers = [
            header("at+jwt"),
            header("rt+jwt"),
            header("JWT"),
            header("logout+jwt"),
        ];
        let key = match alg {
            Alg::Rs256 => PrivateKey::Rsa(RsaKeyPair::from_der(der)?),
            Alg::Es256 => PrivateKey::P256(EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                der,
            )?),
            Alg::EdDsa => PrivateKey::Ed25519(Ed25519KeyPair::from_pkcs8(der)?),
        };
        Ok(Signer {
            key,
            rng: SystemRandom::new(),
            kid,
            alg,
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
        let signature = match &self.key {
            PrivateKey::Rsa(key) => {
                let mut signature = vec![0u8; key.public_modulus_len()];
                key.sign(
                    &RSA_PKCS1_SHA256,
                    &self.rng,
                    message.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| SignError::Crypto)?;
                signature
            }
            PrivateKey::P256(key) => key
                .sign(&self.rng, message.as_bytes())
                .map_err(|_| SignError::Crypto)?
                .as_ref()
                .to_vec(),
            PrivateKey::Ed25519(key) => key.sign(message.as_bytes()).as_ref().to_vec(),
        };
        message.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut message);
        Ok(message)
    }
}

/// A published key, ready to check signatures with its own algorithm and no other.
pub struct PublicKey {
    pub alg: Alg,
    key: Checker,
}

enum Checker {
    Rsa(DecodingKey),
    /// Parsed once: a P-256 point is checked to be on the curve here, at load.
    Curve(ParsedPublicKey),
}

impl PublicKey {
    fn new(record: &KeyRecord) -> Option<PublicKey> {
        let decode = |v: &Option<String>| URL_SAFE_NO_PAD.decode(v.as_deref()?).ok();
        let key = match record.alg {
            Alg::Rs256 => {
                Checker::Rsa(DecodingKey::from_rsa_components(&record.n, &record.e).ok()?)
            }
            Alg::Es256 => {
                let (x, y) = (decode(&record.x)?, decode(&record.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let point = [&[4u8][..], &x, &y].concat();
                Checker::Curve(ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).ok()?)
            }
            Alg::EdDsa => Checker::Curve(ParsedPublicKey::new(&ED25519, decode(&record.x)?).ok()?),
        };
        Some(PublicKey {
            alg: record.alg,
            key,
        })
    }

    /// Whether `signature_b64` (base64url, as in the token) signs `message` under this key.
    /// ES256 and EdDSA signatures are exactly 64 bytes; Ed25519 refuses an `S` that is not
    /// reduced (RFC 8032 §5.1.7), so a signature cannot be altered into another valid one.
    pub fn verifies(&self, message: &[u8], signature_b64: &str) -> bool {
        match &self.key {
            Checker::Rsa(key) => {
                jsonwebtoken::crypto::verify(signature_b64, message, key, Algorithm::RS256)
                    .unwrap_or(false)
            }
            Checker::Curve(key) => {
                let Ok(signature) = URL_SAFE_NO_PAD.decode(signature_b64) else {
                    return false;
                };
                signature.len() == 64 && key.verify_sig(message, &signature).is_ok()
            }
        }
    }
}

/// One consistent view of the keys.
pub struct KeySet {
    pub records: Vec<KeyRecord>,
    /// The current key of each algorithm, by [`Alg::index`].
    signers: [Option<Arc<Signer>>; 3],
    verifiers: HashMap<String, PublicKey>,
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
            signers: [None, None, None],
            verifiers: HashMap::new(),
            jwks_body: body.into(),
            jwks_etag: etag.into(),
            fingerprint: String::new(),
        }
    }

    /// The verification key for a published `kid`; revoked and removed keys have none.
    pub fn verifier(&self, kid: &str) -> Option<&PublicKey> {
        self.verifiers.get(kid)
    }

    /// The key that signs with `alg` now, if that algorithm has a current key.
    pub fn signer(&self, alg: Alg) -> Option<&Arc<Signer>> {
        self.signers[alg.index()].as_ref()
    }

    /// Every algorithm's current key.
    pub fn signers(&self) -> impl Iterator<Item = &Arc<Signer>> {
        self.signers.iter().flatten()
    }

    pub fn current(&self, alg: Alg) -> Option<&KeyRecord> {
        self.records
            .iter()
            .find(|k| k.alg == alg && k.state == KeyState::Current)
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
    #[error("signing key {0} is not a valid private key of its algorithm")]
    Invalid(String),
}

impl From<KeyStoreError> for Internal {
    fn from(e: KeyStoreError) -> Self {
        match e {
            KeyStoreError::Db(db) => db.into(),
            other => Internal::Broken(Box::new(other)),
        }
    }
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
                let mut signers: [Option<Arc<Signer>>; 3] = [None, None, None];
                for current in records.iter().filter(|k| k.state == KeyState::Current) {
                    let kept = old.signer(current.alg).filter(|s| s.kid == current.kid);
                    signers[current.alg.index()] = match kept {
                        Some(signer) => Some(signer.clone()),
                        None => match repo::keys::sealed_private(conn, &current.kid)? {
                            Some((sealed, master_id)) => {
                                Some(Arc::new(store.unseal_signer(current, &sealed, &master_id)?))
                            }
                            None => None,
                        },
                    };
                }
                Ok::<_, KeyStoreError>(Some((records, signers)))
            })
            .await?;
        let Some((records, signers)) = rebuilt else {
            return Ok(false);
        };
        let published = lifecycle::published(&records, now);
        let verifiers = published
            .iter()
            .filter_map(|k| PublicKey::new(k).map(|key| (k.kid.clone(), key)))
            .collect();
        let (body, etag) = jwks::build_body(&published);
        let before = self.snapshot();
        for alg in Alg::ALL {
            let old_kid = before.signer(alg).map(|s| s.kid.as_str());
            let new_kid = signers[alg.index()].as_ref().map(|s| s.kid.as_str());
            if old_kid.is_some() && new_kid.is_some() && old_kid != new_kid {
                self.rotations_seen
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let set = KeySet {
            fingerprint: fingerprint(&records, now),
            records,
            signers,
            verifiers,
            jwks_body: body.into(),
            jwks_etag: etag.into(),
        };
        self.set.store(Arc::new(set));
        Ok(true)
    }

    fn unseal_signer(
        &self,
        key: &KeyRecord,
        sealed: &[u8],
        master_id: &str,
    ) -> Result<Signer, KeyStoreError> {
        let kid = &key.kid;
        let der = self
            .master
            .open(master_id, sealed, kid.as_bytes())
            .map_err(|_| KeyStoreError::Unseal(kid.to_string()))?;
        Signer::new(kid.to_string(), key.alg, &der)
            .map_err(|_| KeyStoreError::Invalid(kid.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::rotation;

    #[test]
    fn a_signed_token_verifies_with_jsonwebtoken_and_fails_once_tampered() {
        let key = rotation::generate(Alg::Rs256, 2048).expect("key");
        let signer = Signer::new(key.kid.clone(), Alg::Rs256, key.private_der()).expect("signer");
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
        assert!(Signer::new("kid".into(), Alg::Rs256, b"not a key").is_err());
        let key = rotation::generate(Alg::Rs256, 2048).expect("key");
        let mut damaged = key.private_der().to_vec();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0x55;
        assert!(Signer::new(key.kid.clone(), Alg::Rs256, &damaged).is_err());
        // A key of one algorithm is no key of another.
        let ec = rotation::generate(Alg::Es256, 0).expect("key");
        assert!(Signer::new(ec.kid.clone(), Alg::EdDsa, ec.private_der()).is_err());
        assert!(Signer::new(ec.kid.clone(), Alg::Rs256, ec.private_der()).is_err());
    }

    fn record(key: &rotation::GeneratedKey) -> KeyRecord {
        KeyRecord {
            kid: key.kid.clone(),
            alg: key.alg,
            state: KeyState::Current,
            bits: key.bits as i32,
            n: key.n.clone(),
            e: key.e.clone(),
            x: key.x.clone(),
            y: key.y.clone(),
            created_at: 0,
            activated_at: Some(0),
            retired_at: None,
            remove_after: None,
            revoked_at: None,
        }
    }

    /// The signing input and the decoded signature of a compact JWS.
    fn split(token: &str) -> (&str, Vec<u8>) {
        let dot = token.rfind('.').unwrap();
        (
            &token[..dot],
            URL_SAFE_NO_PAD.decode(&token[dot + 1..]).unwrap(),
        )
    }

    #[test]
    fn curve_signatures_are_64_bytes_verify_and_fail_once_altered() {
        for alg in [Alg::Es256, Alg::EdDsa] {
            let key = rotation::generate(alg, 0).expect("key");
            let signer = Signer::new(key.kid.clone(), alg, key.private_der()).expect("signer");
            let public = PublicKey::new(&record(&key)).expect("public key");
            let token = signer
                .sign(TokenType::Id, &serde_json::json!({ "sub": "alice" }))
                .expect("token");
            let (message, signature) = split(&token);
            assert_eq!(signature.len(), 64, "{alg}");
            let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
            assert!(
                public.verifies(message.as_bytes(), &b64(&signature)),
                "{alg}"
            );
            assert!(
                !public.verifies(b"other message", &b64(&signature)),
                "{alg}"
            );
            let mut flipped = signature.clone();
            flipped[10] ^= 1;
            assert!(
                !public.verifies(message.as_bytes(), &b64(&flipped)),
                "{alg}"
            );
            // Wrong lengths: truncated, padded, and ES256's DER form is never accepted.
            assert!(!public.verifies(message.as_bytes(), &b64(&signature[..63])));
            assert!(!public.verifies(message.as_bytes(), &b64(&[&signature[..], &[0]].concat())));
            assert!(!public.verifies(message.as_bytes(), ""));
            assert!(!public.verifies(message.as_bytes(), "not base64!"));
            let header: serde_json::Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(token.split('.').next().unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], key.kid.as_str());
        }
    }

    #[test]
    fn an_ed25519_signature_with_an_unreduced_s_is_refused() {
        let key = rotation::generate(Alg::EdDsa, 0).expect("key");
        let signer = Signer::new(key.kid.clone(), Alg::EdDsa, key.private_der()).expect("signer");
        let public = PublicKey::new(&record(&key)).expect("public key");
        let token = signer
            .sign(TokenType::Access, &serde_json::json!({ "sub": "alice" }))
            .expect("token");
        let (message, signature) = split(&token);
        // S + L, little-endian: the same point equation holds, but RFC 8032 §5.1.7 requires
        // S < L, so the malleated signature must be refused.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut malleated = signature.clone();
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = malleated[32 + i] as u16 + L[i] as u16 + carry;
            malleated[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0, "S + L fits in 32 bytes (S < L < 2^253)");
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        assert!(public.verifies(message.as_bytes(), &b64(&signature)));
        assert!(!public.verifies(message.as_bytes(), &b64(&malleated)));
    }

    #[test]
    fn a_p256_point_off_the_curve_is_no_key() {
        let key = rotation::generate(Alg::Es256, 0).expect("key");
        let mut off = record(&key);
        let mut y = URL_SAFE_NO_PAD.decode(off.y.as_deref().unwrap()).unwrap();
        y[31] ^= 1;
        off.y = Some(URL_SAFE_NO_PAD.encode(y));
        assert!(PublicKey::new(&off).is_none());
        assert!(PublicKey::new(&record(&key)).is_some());
    }
}
