//! Key use cases for the server, the CLI and the admin API (bootstrap, rotation, listing),
//! and the background upkeep that keeps every instance's key set current.

use std::sync::Arc;
use std::time::Duration;

use super::lifecycle::{self, KeyRecord};
use super::rotation::{self, KeyGenerator, RotationKind, RotationOutcome, RotationPolicy};
use super::store::{KeyStore, KeyStoreError};
use crate::audit::{self, Event, Kind};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{repo, Db, DbError};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Store(#[from] KeyStoreError),
    #[error("key generation failed: {0}")]
    Generate(String),
}

/// The settings key use cases need.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    pub key_size: usize,
    pub rotation: RotationPolicy,
    pub poll_interval: Duration,
}

impl KeyPolicy {
    pub fn from_settings(settings: &Settings) -> KeyPolicy {
        KeyPolicy {
            key_size: settings.key_size,
            rotation: RotationPolicy {
                retire_for: settings.longest_token_lifetime() + settings.leeway,
                jwks_max_age: settings.jwks_max_age,
                interval: settings.key_rotation_interval,
            },
            poll_interval: settings.key_poll_interval,
        }
    }
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
    /// One new key of the configured size, made on a blocking thread (tens of milliseconds
    /// to a minute).
    async fn generate(&self) -> Result<rotation::GeneratedKey, KeyError> {
        let (generator, bits) = (self.generator.clone(), self.policy.key_size);
        tokio::task::spawn_blocking(move || generator(bits))
            .await
            .map_err(|e| KeyError::Generate(e.to_string()))?
            .map_err(|e| KeyError::Generate(e.to_string()))
    }

    /// Makes sure a current and a next key exist (first start, or after an emergency).
    ///
    /// One key at a time, looking again before each: instances starting together on a
    /// fresh database each make one key and the first two stored fill both places, where
    /// each used to make two and throw the losers' away (a minute apiece at 4096 bits).
    pub async fn ensure_keys(&self) -> Result<(), KeyError> {
        loop {
            let missing = self.db.run(rotation::missing_keys).await?;
            if missing == 0 {
                return Ok(());
            }
            if self.policy.key_size >= 4096 {
                tracing::info!(
                    bits = self.policy.key_size,
                    missing,
                    "generating a signing key; at 4096 bits this can take a minute"
                );
            }
            let fresh = vec![self.generate().await?];
            let master = self.store.master().current.clone();
            let now = self.clock.now();
            self.db
                .run(move |conn| rotation::fill_gaps(conn, fresh, &master, now))
                .await?;
        }
    }

    /// A manual or emergency rotation, effective at once on this instance (the others
    /// follow at their next poll).
    pub async fn rotate(&self, kind: RotationKind) -> Result<RotationOutcome, KeyError> {
        let outcome = self.rotate_stored(kind).await?;
        self.reload().await?;
        Ok(outcome)
    }

    async fn rotate_stored(&self, kind: RotationKind) -> Result<RotationOutcome, KeyError> {
        let fresh = self.generate().await?;
        let (master, policy) = (self.store.master().clone(), self.policy.rotation);
        // Read after the key is generated: generation can take a while.
        let now = self.clock.now();
        let mut outcome = self
            .db
            .run(move |conn| rotation::rotate(conn, &fresh, &master, policy, kind, now))
            .await?;
        if let (false, Some(warning)) = (outcome.rotated, &outcome.warning) {
            tracing::error!(?kind, "{warning}");
        }
        if outcome.rotated && outcome.next.is_none() {
            self.ensure_keys().await?;
            let records = self.db.run(repo::keys::list).await?;
            outcome.next = records
                .iter()
                .find(|k| k.state == lifecycle::KeyState::Next)
                .map(|k| k.kid.clone());
        }
        if outcome.rotated {
            tracing::info!(?kind, current = ?outcome.current, retired = ?outcome.retired, revoked = ?outcome.revoked, "signing keys rotated");
            let (event_kind, old) = match kind {
                RotationKind::Emergency => (Kind::KeyRevoked, outcome.revoked.clone()),
                _ => (Kind::KeyRotated, outcome.retired.clone()),
            };
            let how = match kind {
                RotationKind::Manual => "manual",
                RotationKind::Emergency => "emergency",
                RotationKind::Scheduled => "scheduled",
            };
            let mut detail = how.to_string();
            if let Some(old) = old {
                detail.push_str(&format!("; was {old}"));
            }
            let event = Event::success(event_kind, outcome.current.clone().unwrap_or_default())
                .detail(detail);
            audit::record(&self.db, &self.clock, event).await;
        }
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

    /// One round of upkeep: fill gaps, rotate on schedule, drop expired keys, reload.
    pub async fn maintain_once(&self) -> Result<(), KeyError> {
        let now = self.clock.now();
        let snapshot = self.store.snapshot();
        let rotation = self.policy.rotation;
        if snapshot.current().is_none() || snapshot.next().is_none() {
            self.ensure_keys().await?;
        } else if lifecycle::rotation_due(
            snapshot.current(),
            snapshot.next(),
            now,
            rotation.interval,
            rotation.jwks_max_age,
        ) {
            self.rotate_stored(RotationKind::Scheduled).await?;
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
