//! Tokens: their claims, minting, verification, refresh-token families, revocation,
//! introspection and bearer authentication. [`Tokens`] is what these use cases need.

pub mod bearer;
pub mod claims;
pub mod introspect;
pub mod issue;
pub mod refresh;
pub mod revoke;
pub mod verify;

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::batched::BatchedReads;
use crate::db::{repo, Db, DbError};
use crate::keys::encryption::digest_hex;
use crate::keys::store::{KeySet, KeyStore};
use crate::metrics::Metrics;
use claims::{AccessClaims, RefreshClaims};
use verify::{TokenError, Verifier};

/// The settings token use cases read, in seconds.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub issuer: String,
    /// `aud` of access tokens.
    pub default_audience: String,
    pub access_ttl: i64,
    pub refresh_ttl: i64,
    pub refresh_max_lifetime: i64,
    pub refresh_grace: i64,
    pub id_token_ttl: i64,
    pub leeway: i64,
}

impl TokenPolicy {
    pub fn from_settings(s: &Settings) -> TokenPolicy {
        let secs = |d: std::time::Duration| d.as_secs() as i64;
        TokenPolicy {
            issuer: s.issuer.clone(),
            default_audience: s.default_audience.clone(),
            access_ttl: secs(s.access_ttl),
            refresh_ttl: secs(s.refresh_ttl),
            refresh_max_lifetime: secs(s.refresh_max_lifetime),
            refresh_grace: secs(s.refresh_grace),
            id_token_ttl: secs(s.id_token_ttl),
            leeway: secs(s.leeway),
        }
    }
}

/// What token use cases need: the pool, this instance's keys, the policy, the clock and
/// the counters of issued tokens.
#[derive(Clone)]
pub struct Tokens {
    pub db: Db,
    pub keys: Arc<KeyStore>,
    pub policy: Arc<TokenPolicy>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// Whether access tokens were revoked, read for many concurrent checks in one query.
    pub access_revocations: Arc<BatchedReads<String, bool>>,
}

impl Tokens {
    pub fn new(
        db: Db,
        keys: Arc<KeyStore>,
        policy: TokenPolicy,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Tokens {
        Tokens {
            access_revocations: BatchedReads::new(db.clone(), repo::refresh::access_revoked_among),
            db,
            keys,
            policy: Arc::new(policy),
            clock,
            metrics,
        }
    }

    /// Whether an access token was revoked, by itself or with its refresh family.
    pub async fn access_revoked(&self, claims: &AccessClaims) -> Result<bool, DbError> {
        self.access_revocations.read(digest_hex(&claims.jti)).await
    }

    /// A verifier over one key-set snapshot, at the clock's now.
    pub fn verifier<'a>(&'a self, keys: &'a KeySet) -> Verifier<'a> {
        Verifier {
            keys,
            issuer: &self.policy.issuer,
            leeway_secs: self.policy.leeway,
            now: self.clock.now(),
        }
    }

    /// Signature and claims of an access token (not its revocation: see [`bearer`]).
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let keys = self.keys.snapshot();
        self.verifier(&keys).access(token)
    }

    /// Signature and claims of a refresh token (not its server-side state).
    pub fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, TokenError> {
        let keys = self.keys.snapshot();
        self.verifier(&keys).refresh(token)
    }

    /// simplejwt's verify: a token by its signature and claims, and by its server-side
    /// state: a refresh token's family, an access token's own revocation and its family's.
    pub async fn check(&self, token: &str) -> Result<TokenCheck, DbError> {
        match self.verify_access(token) {
            Ok(claims) => {
                return Ok(if self.access_revoked(&claims).await? {
                    TokenCheck::Revoked
                } else {
                    TokenCheck::Valid
                });
            }
            Err(TokenError::WrongType) => {}
            Err(_) => return Ok(TokenCheck::Invalid),
        }
        let Ok(claims) = self.verify_refresh(token) else {
            return Ok(TokenCheck::Invalid);
        };
        Ok(if self.is_live(&claims).await? {
            TokenCheck::Valid
        } else {
            TokenCheck::Revoked
        })
    }
}

/// What [`Tokens::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Valid,
    /// Forged, tampered, expired, of an unknown key, or not a token at all.
    Invalid,
    /// A well-formed refresh token that is spent or whose family was revoked.
    Revoked,
}
