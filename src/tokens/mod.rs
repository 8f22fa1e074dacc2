//! Tokens: their claims, minting, verification, refresh-token families, revocation,
//! introspection and bearer authentication. [`Tokens`] is what these use cases need.

pub mod bearer;
pub mod claims;
pub mod introspect;
pub mod issue;
pub mod live;
pub mod refresh;
pub mod revoke;
pub mod verify;

use std::sync::Arc;

use crate::clock::Clock;
use crate::db::batched::BatchedReads;
use crate::db::repo::clients::Client;
use crate::db::repo::liveness::{AccessToken, Liveness};
use crate::db::{repo, Db, DbError};
use crate::keys::store::{KeySet, KeyStore};
use crate::keys::Alg;
use crate::metrics::Metrics;
use claims::{AccessClaims, RefreshClaims};
use live::NotLive;
use verify::{TokenError, Verifier};

/// The settings token use cases read, in seconds (built in start-up,
/// `policies::token_policy`).
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
    /// Access and refresh tokens of clients that choose none (`ACCESS_TOKEN_ALG`).
    pub access_token_alg: Alg,
    /// `MFA_FOR_ADMINS`: the token endpoints refuse an admin without a second factor, and
    /// the admin API an admin's token without one (RFC 9470).
    pub mfa_for_admins: bool,
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
    /// The database's part of access-token liveness (see [`live`]), read for many
    /// concurrent checks in one set of queries.
    pub access_liveness: Arc<BatchedReads<AccessToken, Liveness>>,
}

impl Tokens {
    /// What `client`'s access and refresh tokens are signed with.
    pub fn access_alg(&self, client: &Client) -> Alg {
        client
            .access_token_alg
            .unwrap_or(self.policy.access_token_alg)
    }

    pub fn new(
        db: Db,
        keys: Arc<KeyStore>,
        policy: TokenPolicy,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Tokens {
        Tokens {
            access_liveness: BatchedReads::new(db.clone(), {
                // Kept from batch to batch; the read drops it when the generation moves.
                let known = std::sync::Mutex::new(repo::liveness::EnabledHolders::default());
                move |conn: &mut crate::db::DbConn, tokens: &[AccessToken]| {
                    let mut known = known.lock().unwrap_or_else(|p| p.into_inner());
                    repo::liveness::liveness_among(conn, tokens, &mut known)
                }
            }),
            db,
            keys,
            policy: Arc::new(policy),
            clock,
            metrics,
        }
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

    /// Signature and claims of an access token (not its liveness: see [`live`]).
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let keys = self.keys.snapshot();
        self.verifier(&keys).access(token)
    }

    /// Signature and claims of a refresh token (not its server-side state).
    pub fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, TokenError> {
        let keys = self.keys.snapshot();
        self.verifier(&keys).refresh(token)
    }

    /// simplejwt's verify: an access or a refresh token that is live (see [`live`]).
    pub async fn check(&self, token: &str) -> Result<TokenCheck, DbError> {
        let checked = match self.live_access(token).await? {
            Err(NotLive::Invalid(TokenError::WrongType)) => {
                self.live_refresh(token).await?.map(drop)
            }
            other => other.map(drop),
        };
        Ok(match checked {
            Ok(()) => TokenCheck::Valid,
            Err(NotLive::Invalid(_)) => TokenCheck::Invalid,
            Err(_) => TokenCheck::Revoked,
        })
    }
}

/// What [`Tokens::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Valid,
    /// Forged, tampered, expired, of an unknown key, or not a token at all.
    Invalid,
    /// A well-formed token that is not live: revoked, spent, of a revoked family, or of a
    /// user or client that is disabled or gone.
    Revoked,
}
