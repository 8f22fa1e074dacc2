//! Second-factor codes (TOTP, recovery codes) go through the guard like passwords: the
//! attempt is reserved before the check in a window per user of its own (a right password
//! clears the password window, which must not reset the count of wrong codes) and in the
//! address's window shared with passwords, in the database, so every instance counts
//! together. A right code clears the user's code window and gives the address's back.

use std::future::Future;

use super::{addr_bucket, user_bucket, GuardError, LoginGuard};
use crate::audit::{self, Event, Kind};
use crate::db::repo::throttle::Outcome;
use crate::error::Internal;

/// The label of second-factor checks in the metrics and the audit trail.
pub const SECOND_FACTOR: &str = "second_factor";

/// The user's window for second-factor codes.
fn code_bucket(username: &str) -> String {
    format!("code-{}", user_bucket(username))
}

impl LoginGuard {
    /// Runs `check` (which answers `Some` for a right code) unless the user's code window or
    /// the address's window is full; `BadCredentials` for a wrong code, counted in both.
    pub async fn check_code<T, F, Fut>(
        &self,
        username: &str,
        client_addr: &str,
        check: F,
    ) -> Result<T, GuardError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, Internal>>,
    {
        let buckets = [
            (code_bucket(username), self.limits.per_username),
            (addr_bucket(client_addr), self.limits.per_address),
        ];
        if let Err(wait) = self.reserve_waiting(&buckets).await? {
            self.metrics.login_throttled(SECOND_FACTOR);
            let event = Event {
                kind: Kind::SignInThrottled,
                outcome: audit::Outcome::Failure,
                subject: Some(username.to_string()),
                detail: Some(SECOND_FACTOR.into()),
            };
            audit::record(&self.accounts.db, &self.accounts.clock, event).await;
            return Err(GuardError::Throttled(wait));
        }
        let checked = check().await;
        let outcomes = match &checked {
            Ok(Some(_)) => [Outcome::Cleared, Outcome::Released],
            Ok(None) => [Outcome::Failed, Outcome::Failed],
            Err(_) => [Outcome::Released, Outcome::Released],
        };
        self.resolve(&buckets, outcomes).await?;
        match checked {
            Ok(Some(found)) => Ok(found),
            Ok(None) => {
                self.metrics.login_failed(SECOND_FACTOR);
                Err(GuardError::BadCredentials)
            }
            Err(e) => Err(GuardError::Internal(e)),
        }
    }
}
