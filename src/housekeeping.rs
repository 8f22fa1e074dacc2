//! Background housekeeping: deletes what can no longer matter, so that tables stop growing
//! with the traffic (expired refresh records and families, revocation entries, authorization
//! codes, sessions, password reset links, failed-login windows, old audit records, finished outbox
//! messages). It runs once a minute on the
//! system clock and at every move of a manual one (tests), in short batched transactions.
//!
//! Nothing is deleted that a check may still consult: a refresh record or access-token
//! revocation stays until the token could no longer pass verification (`exp` + `LEEWAY`),
//! plus `ACCESS_TTL` for records and families, whose revocation also ends the access tokens
//! issued beside them (reuse detection); a used authorization code stays as long as what it
//! issued may live, so that a replay still revokes it (RFC 6749 §4.1.2).

use std::time::Duration;

use crate::clock::Clock;
use crate::db::{repo, Db, DbConn, DbError};

/// How often the purge runs on the system clock.
const INTERVAL: Duration = Duration::from_secs(60);
/// Rows per delete: each batch is one short write transaction.
const BATCH: i64 = 5_000;
/// How long a delivered outbox message stays (for a look at what was sent); a failed one
/// stays as long as the audit trail that records its failure.
const OUTBOX_DELIVERED_KEPT: i64 = 24 * 3600;

/// How long each kind of record outlives its expiry, in seconds (built in start-up from the
/// settings, `policies::retention`).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub leeway: i64,
    pub access_ttl: i64,
    pub refresh_grace: i64,
    pub refresh_max_lifetime: i64,
    /// The longer of the failed-login windows.
    pub throttle_window: i64,
    pub audit: i64,
}

/// How long an authenticator-app enrolment may wait for its first code (the secret shown
/// on the account page stays usable that long).
pub const UNCONFIRMED_TOTP_TTL: i64 = 24 * 3600;

/// What one pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub refresh_tokens: usize,
    pub refresh_families: usize,
    pub revoked_access_tokens: usize,
    pub auth_codes: usize,
    pub sessions: usize,
    pub reset_links: usize,
    /// Authenticator-app enrolments never confirmed within [`UNCONFIRMED_TOTP_TTL`].
    pub unconfirmed_totp: usize,
    /// Second steps of sign-ins, from their expiry.
    pub mfa_challenges: usize,
    pub verification_links: usize,
    pub throttle_windows: usize,
    pub audit_records: usize,
    pub outbox_messages: usize,
}

#[derive(Clone)]
pub struct Housekeeping {
    pub db: Db,
    pub clock: Clock,
    pub retention: Retention,
}

impl Housekeeping {
    /// Purges at start, then every [`INTERVAL`] and at every move of a manual clock.
    pub async fn run(self) {
        let mut ticker = tokio::time::interval(INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut moves = self.clock.moves();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = moves.next() => {}
            }
            match self.purge_once().await {
                Ok(purged) if purged != Purged::default() => {
                    tracing::debug!(?purged, "housekeeping purged expired records");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "housekeeping failed; will retry"),
            }
            // What the last minute's requests freed goes back to the system (see
            // `crate::memory`), so an idle server shrinks within a minute of any load.
            let _ = tokio::task::spawn_blocking(crate::memory::release_free_memory).await;
        }
    }

    /// One pass over every table, at the clock's current time.
    pub async fn purge_once(&self) -> Result<Purged, DbError> {
        let now = self.clock.now();
        let r = self.retention;
        // Past this, no token, record or access token issued beside it can verify any more.
        let verifiable_until = now - r.leeway;
        let issued_with_until = verifiable_until - r.access_ttl;
        let grace_over = now - r.refresh_grace;
        self.db
            .write(move |conn| repo::refresh::drop_sealed_successors(conn, grace_over))
            .await?;
        let mut purged = Purged {
            refresh_tokens: self
                .batches(move |c| repo::refresh::purge_tokens(c, issued_with_until, BATCH))
                .await?,
            refresh_families: self
                .batches(move |c| repo::refresh::purge_families(c, issued_with_until, BATCH))
                .await?,
            revoked_access_tokens: self
                .batches(move |c| repo::refresh::purge_revoked_access(c, verifiable_until, BATCH))
                .await?,
            ..Purged::default()
        };
        // A used code's family ends at most REFRESH_MAX_LIFETIME after the code expired.
        let used_until = issued_with_until - r.refresh_max_lifetime;
        purged.auth_codes = self
            .batches(move |c| repo::sessions::purge_codes(c, verifiable_until, used_until, BATCH))
            .await?;
        purged.sessions = self
            .batches(move |c| repo::sessions::purge_sessions(c, verifiable_until, BATCH))
            .await?;
        // A reset link is refused from its expiry on: nothing consults it after that.
        purged.reset_links = self
            .batches(move |c| repo::resets::purge(c, now, BATCH))
            .await?;
        let abandoned = now - UNCONFIRMED_TOTP_TTL;
        purged.unconfirmed_totp = self
            .batches(move |c| repo::factors::purge_unconfirmed(c, abandoned, BATCH))
            .await?;
        purged.mfa_challenges = self
            .batches(move |c| repo::factors::purge_challenges(c, now, BATCH))
            .await?;
        purged.verification_links = self
            .batches(move |c| repo::email_verifications::purge(c, now, BATCH))
            .await?;
        let window_over = now - r.throttle_window;
        purged.throttle_windows = self
            .batches(move |c| repo::throttle::purge(c, window_over, BATCH))
            .await?;
        let (delivered_before, failed_before) = (now - OUTBOX_DELIVERED_KEPT, now - r.audit);
        purged.outbox_messages = self
            .batches(move |c| repo::outbox::purge(c, delivered_before, failed_before, BATCH))
            .await?;
        purged.audit_records = crate::audit::purge(&self.db, &self.clock, r.audit).await?;
        Ok(purged)
    }

    /// Runs `delete` (at most [`BATCH`] rows, one write transaction each) until a batch
    /// comes back short; returns the rows deleted.
    async fn batches<F>(&self, delete: F) -> Result<usize, DbError>
    where
        F: Fn(&mut DbConn) -> Result<usize, DbError> + Clone + Send + 'static,
    {
        let mut total = 0;
        loop {
            let n = self.db.write(delete.clone()).await?;
            total += n;
            if (n as i64) < BATCH {
                return Ok(total);
            }
        }
    }
}
