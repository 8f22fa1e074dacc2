//! Key use cases for the server, the CLI and the admin API (bootstrap, rotation, listing),
//! and the background upkeep that keeps every instance's key set current.

use std::sync::Arc;
use std::time::Duration;

use super::lifecycle::{self, KeyRecord, PlanError};
use super::rotation::{
    self, ChangeError, KeyChange, KeyGenerator, RotationKind, RotationOutcome, RotationPolicy,
};
use super::store::{KeyStore, KeyStoreError};
use super::Alg;
use crate::audit::{self, Event, Kind};
use crate::clock::Clock;
use crate::db::alg::AlgSet;
use crate::db::{repo, Db, DbError};
use crate::error::Internal;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Store(#[from] KeyStoreError),
    #[error("key generation failed: {0}")]
    Generate(String),
    /// The caller's mistake: an unknown kid, a key already revoked.
    #[error(transparent)]
    Refused(#[from] PlanError),
    #[error("{0}")]
    BadReason(&'static str),
    /// An algorithm asked for that `SIGNING_ALGS` does not list.
    #[error("{0} is not in SIGNING_ALGS: no keys are kept for it")]
    AlgNotKept(Alg),
}

impl From<KeyError> for Internal {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Db(db) => db.into(),
            KeyError::Store(s) => s.into(),
            other => Internal::Broken(Box::new(other)),
        }
    }
}

impl From<ChangeError> for KeyError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Db(e) => KeyError::Db(e),
            ChangeError::Refused(e) => KeyError::Refused(e),
        }
    }
}

/// The longest reason a revocation may give (it goes into the audit trail).
pub const MAX_REASON_CHARS: usize = 500;

/// Why a key is revoked: said in words, on one line (the audit trail prints it as it is).
fn check_reason(reason: &str) -> Result<&str, KeyError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(KeyError::BadReason("say why the key is revoked (a reason)"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(KeyError::BadReason(
            "the reason is longer than 500 characters",
        ));
    }
    if reason.chars().any(char::is_control) {
        return Err(KeyError::BadReason(
            "the reason must be one line without control characters",
        ));
    }
    Ok(reason)
}

/// The settings key use cases need (built in start-up, `policies::key_policy`).
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    pub key_size: usize,
    /// The algorithms with a key line (`SIGNING_ALGS`).
    pub algs: AlgSet,
    pub rotation: RotationPolicy,
    pub poll_interval: Duration,
}

/// What key use cases need: the pool, this instance's key store, the policy, the clock and
/// where new keys come from.
#[derive(Clone)]
pub struct Keys {
    pub db: Db,
    pub store: Arc<KeyStore>,
    pub policy: KeyPolicy,
    pub clock: Clock,
    pub generator: KeyGenerator,
}

impl Keys {
    /// One new key of `alg` (RSA: of the configured size), made on a blocking thread (tens
    /// of milliseconds to a minute for RSA).
    async fn generate(&self, alg: Alg) -> Result<rotation::GeneratedKey, KeyError> {
        let (generator, bits) = (self.generator.clone(), self.policy.key_size);
        tokio::task::spawn_blocking(move || generator(alg, bits))
            .await
            .map_err(|e| KeyError::Generate(e.to_string()))?
            .map_err(|e| KeyError::Generate(e.to_string()))
    }

    /// Makes sure each algorithm of `SIGNING_ALGS` has a current, a next and a standby key
    /// (first start, the first start with an algorithm newly listed, or after a change that
    /// found no key waiting). An algorithm no longer listed keeps its keys as they are: its
    /// tokens verify until an operator revokes or rotates them away.
    ///
    /// One key at a time, looking again before each: instances starting together on a
    /// fresh database each make one key and the first three stored fill the three places,
    /// where each used to make all and throw the losers' away (a minute apiece at 4096 bits).
    pub async fn ensure_keys(&self) -> Result<(), KeyError> {
        for alg in self.policy.algs.iter() {
            self.ensure_line(alg).await?;
        }
        Ok(())
    }

    async fn ensure_line(&self, alg: Alg) -> Result<(), KeyError> {
        loop {
            let missing = self
                .db
                .run(move |conn| rotation::missing_keys(conn, alg))
                .await?;
            if missing == 0 {
                return Ok(());
            }
            if alg == Alg::Rs256 && self.policy.key_size >= 4096 {
                tracing::info!(
                    bits = self.policy.key_size,
                    missing,
                    "generating a signing key; at 4096 bits this can take a minute"
                );
            }
            let fresh = vec![self.generate(alg).await?];
            let master = self.store.master().current.clone();
            let now = self.clock.now();
            self.db
                .run(move |conn| rotation::fill_gaps(conn, fresh, &master, now))
                .await?;
        }
    }

    /// A manual or emergency rotation of `alg`'s line, or of every line of `SIGNING_ALGS`
    /// (`None`), effective at once on this instance (the others follow at their next poll).
    /// One outcome per line rotated, in [`Alg::ALL`] order.
    pub async fn rotate(
        &self,
        alg: Option<Alg>,
        kind: RotationKind,
    ) -> Result<Vec<RotationOutcome>, KeyError> {
        let algs: Vec<Alg> = match alg {
            Some(alg) if !self.policy.algs.contains(alg) => {
                return Err(KeyError::AlgNotKept(alg));
            }
            Some(alg) => vec![alg],
            None => self.policy.algs.iter().collect(),
        };
        let mut outcomes = Vec::new();
        for alg in algs {
            outcomes.push(self.change(KeyChange::Rotate(alg, kind), None).await?);
        }
        self.reload().await?;
        Ok(outcomes)
    }

    /// Revokes the key `kid`, whatever its state: it leaves the JWKS and verifies nothing
    /// more (here at once, on the other instances at their next poll), its refresh families
    /// end, and when it was current or next the keys behind it move up. `reason` goes to
    /// the audit trail with the actor.
    pub async fn revoke(&self, kid: &str, reason: &str) -> Result<RotationOutcome, KeyError> {
        let reason = check_reason(reason)?;
        let outcome = self
            .change(KeyChange::Revoke(kid.to_string()), Some(reason))
            .await?;
        self.reload().await?;
        Ok(outcome)
    }

    async fn change(
        &self,
        change: KeyChange,
        reason: Option<&str>,
    ) -> Result<RotationOutcome, KeyError> {
        // A retired key leaves no place in the line: no key to generate.
        let fresh = match &change {
            KeyChange::Revoke(kid) => {
                let records = self.list().await?;
                let waiting = records
                    .iter()
                    .find(|k| &k.kid == kid && lifecycle::LINE.contains(&k.state));
                match waiting {
                    Some(k) => Some(self.generate(k.alg).await?),
                    None => None,
                }
            }
            KeyChange::Rotate(alg, _) => Some(self.generate(*alg).await?),
        };
        let (master, policy) = (self.store.master().clone(), self.policy.rotation);
        // Read after the key is generated: generation can take a while.
        let now = self.clock.now();
        let asked = change.clone();
        let mut outcome = self
            .db
            .run(move |conn| rotation::change(conn, fresh.as_ref(), &master, policy, &asked, now))
            .await?;
        if let (false, Some(warning)) = (outcome.rotated, &outcome.warning) {
            tracing::error!(?change, "{warning}");
        }
        if !outcome.rotated {
            return Ok(outcome);
        }
        if outcome.line_incomplete() {
            self.ensure_keys().await?;
            outcome = outcome.refreshed(&self.list().await?);
        }
        tracing::info!(?change, current = ?outcome.current, retired = ?outcome.retired, revoked = ?outcome.revoked, families_revoked = outcome.families_revoked, "signing keys changed");
        audit::record(
            &self.db,
            &self.clock,
            audit_event(&change, reason, &outcome),
        )
        .await;
        Ok(outcome)
    }

    /// Every stored key's public facts, oldest first.
    pub async fn list(&self) -> Result<Vec<KeyRecord>, KeyError> {
        Ok(self.db.run(repo::keys::list).await?)
    }

    /// Re-reads the stored keys into this instance's key set.
    pub async fn reload(&self) -> Result<bool, KeyError> {
        Ok(self.store.reload(&self.db, self.clock.now()).await?)
    }

    /// One round of upkeep, for each line of `SIGNING_ALGS` on its own schedule: fill the
    /// line, rotate on schedule; then drop expired keys (of any algorithm), reload.
    pub async fn maintain_once(&self) -> Result<(), KeyError> {
        let now = self.clock.now();
        let snapshot = self.store.snapshot();
        for alg in self.policy.algs.iter() {
            let records = rotation::of_alg(&snapshot.records, alg);
            let line_complete = lifecycle::LINE
                .iter()
                .all(|&s| records.iter().any(|k| k.state == s));
            if !line_complete {
                self.ensure_line(alg).await?;
            } else if lifecycle::rotation_due(&records, now, &self.policy.rotation) {
                self.change(KeyChange::Rotate(alg, RotationKind::Scheduled), None)
                    .await?;
            }
        }
        if !lifecycle::removable(&snapshot.records, now).is_empty() {
            let removed = self
                .db
                .run(move |conn| rotation::remove_expired(conn, now))
                .await?;
            if !removed.is_empty() {
                tracing::info!(
                    ?removed,
                    "removed retired signing keys whose tokens have expired"
                );
            }
        }
        self.reload().await?;
        Ok(())
    }

    /// Polls the database so a rotation made by another instance is served here within
    /// `key_poll_interval` (2 s by default; the contract is 5 s). A move of a manual clock
    /// runs the upkeep at once.
    pub async fn run_maintenance(self) {
        let mut ticker =
            tokio::time::interval(self.policy.poll_interval.max(Duration::from_millis(100)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut moves = self.clock.moves();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = moves.next() => {}
            }
            if let Err(e) = self.maintain_once().await {
                tracing::warn!(error = %e, "key maintenance failed; will retry");
            }
        }
    }
}

/// The audit event of a change that happened: a rotation names the key that signs now, a
/// revocation the key revoked; the detail says how, what followed and the reason given.
fn audit_event(change: &KeyChange, reason: Option<&str>, outcome: &RotationOutcome) -> Event {
    let signs = outcome.current.as_deref().unwrap_or("no key");
    let how = match change {
        KeyChange::Rotate(alg, RotationKind::Manual) => format!("manual ({alg})"),
        KeyChange::Rotate(alg, RotationKind::Scheduled) => format!("scheduled ({alg})"),
        KeyChange::Rotate(alg, RotationKind::Emergency) => format!("emergency ({alg})"),
        KeyChange::Revoke(_) => "by kid".to_string(),
    };
    let (event, mut detail) = match (&outcome.revoked, &outcome.retired) {
        (Some(revoked), _) => (
            Event::success(Kind::KeyRevoked, revoked.clone()),
            format!(
                "{how}; {signs} signs now; {} refresh families ended",
                outcome.families_revoked
            ),
        ),
        (None, Some(old)) => (
            Event::success(Kind::KeyRotated, signs),
            format!("{how}; was {old}"),
        ),
        (None, None) => (Event::success(Kind::KeyRotated, signs), how),
    };
    if let Some(reason) = reason {
        detail.push_str(&format!("; reason: {reason}"));
    }
    event.detail(detail)
}
