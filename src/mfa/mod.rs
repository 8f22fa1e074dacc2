//! Second factors: TOTP (RFC 6238) and recovery codes — enrolment, removal and the check at
//! sign-in. Knows nothing of HTTP: [`Mfa`] is what its use cases need. The secret is sealed
//! under the master key (context `totp:<user id>`), codes go through the login guard's
//! windows before they are checked, and every change is audited.

pub mod challenge;
pub mod recovery;
pub mod totp;
pub mod totp_factor;

use std::sync::Arc;

use crate::accounts::login_guard::{GuardError, LoginGuard};
use crate::audit::{self, Event, Kind};
use crate::clock::Clock;
use crate::db::{Db, DbError};
use crate::error::Internal;
use crate::keys::store::KeyStore;

/// What the second-factor use cases need: the pool, the master key (through the key store),
/// the login guard (passwords asked again, codes throttled), the clock and the name an
/// authenticator app lists this Gatehouse under (the issuer's host).
#[derive(Clone)]
pub struct Mfa {
    pub db: Db,
    pub store: Arc<KeyStore>,
    pub guard: LoginGuard,
    pub clock: Clock,
    pub issuer_name: String,
}

/// Why a second-factor action was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The password asked again before a change was not right.
    #[error("the password is not right")]
    WrongPassword,
    /// Not six digits, or not a recovery code's shape: never compared, never counted.
    #[error("the code is malformed")]
    Malformed,
    #[error("the code is not right")]
    WrongCode,
    /// The code of a step already used (RFC 6238 §5.2: each code once).
    #[error("the code was used already")]
    Replayed,
    /// Too many wrong codes or passwords; the seconds to wait.
    #[error("too many failed attempts")]
    Throttled(i64),
    #[error("no authenticator app is set up")]
    NotEnrolled,
    #[error("an authenticator app is set up already")]
    AlreadyEnrolled,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<DbError> for MfaError {
    fn from(e: DbError) -> Self {
        MfaError::Internal(e.into())
    }
}

/// A password or code refused by the guard, as the second-factor use cases say it.
fn guard_refusal(e: GuardError, wrong: MfaError) -> MfaError {
    match e {
        GuardError::BadCredentials => wrong,
        GuardError::Throttled(wait) => MfaError::Throttled(wait),
        GuardError::Internal(i) => MfaError::Internal(i),
    }
}

impl Mfa {
    pub fn new(db: Db, store: Arc<KeyStore>, guard: LoginGuard, clock: Clock, issuer: &str) -> Mfa {
        let host = issuer
            .split_once("://")
            .map_or(issuer, |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or(issuer);
        Mfa {
            db,
            store,
            guard,
            clock,
            issuer_name: host.to_string(),
        }
    }

    /// Records a second-factor event in the audit trail and counts it in the metrics.
    async fn audit(&self, event: Event) {
        let counted = match event.kind {
            Kind::MfaEnrolled => Some("enrolled"),
            Kind::MfaRemoved => Some("removed"),
            Kind::MfaFailed => Some("failed"),
            Kind::RecoveryCodeUsed => Some("recovery_code_used"),
            Kind::RecoveryCodesRegenerated => Some("recovery_codes_regenerated"),
            _ => None,
        };
        if let Some(name) = counted {
            self.guard.metrics.second_factor_event(name);
        }
        audit::record(&self.db, &self.clock, event).await;
    }
}
