//! Async orchestration of key changes for the server, the CLI and the admin API, and the
//! background task that keeps every instance's key set current.

use std::sync::Arc;
use std::time::Duration;

use super::encryption::MasterKey;
use super::lifecycle;
use super::rotation::{self, RotationKind, RotationOutcome, RotationPolicy};
use super::store::{KeyStore, KeyStoreError};
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

pub fn policy(settings: &Settings) -> RotationPolicy {
    RotationPolicy {
        retire_for: settings.longest_token_lifetime() + settings.leeway,
        jwks_max_age: settings.jwks_max_age,
        interval: settings.key_rotation_interval,
    }
}

async fn generate(bits: usize, count: usize) -> Result<Vec<rotation::GeneratedKey>, KeyError> {
    tokio::task::spawn_blocking(move || {
        (0..count)
            .map(|_| rotation::generate(bits))
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await
    .map_err(|e| KeyError::Generate(e.to_string()))?
    .map_err(|e| KeyError::Generate(e.to_string()))
}

/// Makes sure a current and a next key exist (first start, or after an emergency).
pub async fn ensure_keys(db: &Db, master: &MasterKey, bits: usize) -> Result<(), KeyError> {
    let missing = db.run(rotation::missing_keys).await?;
    if missing == 0 {
        return Ok(());
    }
    let fresh = generate(bits, missing).await?;
    let master = master.clone();
    db.run(move |conn| rotation::fill_gaps(conn, fresh, &master, repo::now()))
        .await?;
    Ok(())
}

/// A manual or emergency rotation, effective at once.
pub async fn rotate(
    db: &Db,
    master: &MasterKey,
    settings: &Settings,
    kind: RotationKind,
) -> Result<RotationOutcome, KeyError> {
    let fresh = generate(settings.key_size, 1)
        .await?
        .pop()
        .ok_or_else(|| KeyError::Generate("no key".into()))?;
    let (master_c, policy) = (master.clone(), policy(settings));
    let mut outcome = db
        .run(move |conn| rotation::rotate(conn, &fresh, &master_c, policy, kind, repo::now()))
        .await?;
    if outcome.rotated && outcome.next.is_none() {
        ensure_keys(db, master, settings.key_size).await?;
        let records = db.run(repo::keys::list).await?;
        outcome.next = records
            .iter()
            .find(|k| k.state == lifecycle::KeyState::Next)
            .map(|k| k.kid.clone());
    }
    if outcome.rotated {
        tracing::info!(?kind, current = ?outcome.current, retired = ?outcome.retired, revoked = ?outcome.revoked, "signing keys rotated");
    }
    Ok(outcome)
}

/// One round of upkeep: fill gaps, rotate on schedule, drop expired keys, reload.
pub async fn maintain_once(
    db: &Db,
    store: &Arc<KeyStore>,
    settings: &Settings,
) -> Result<(), KeyError> {
    let now = repo::now();
    let snapshot = store.snapshot();
    if snapshot.current().is_none() || snapshot.next().is_none() {
        ensure_keys(db, &store.master().current, settings.key_size).await?;
    } else if lifecycle::rotation_due(
        snapshot.current(),
        snapshot.next(),
        now,
        settings.key_rotation_interval,
        settings.jwks_max_age,
    ) {
        rotate(
            db,
            &store.master().current,
            settings,
            RotationKind::Scheduled,
        )
        .await?;
    }
    if !lifecycle::removable(&snapshot.records, now).is_empty() {
        let removed = db
            .run(move |conn| rotation::remove_expired(conn, now))
            .await?;
        if !removed.is_empty() {
            tracing::info!(
                ?removed,
                "removed retired signing keys whose tokens have expired"
            );
        }
    }
    store.reload(db, now).await?;
    Ok(())
}

/// Polls the database so a rotation made by another instance is served here within
/// `key_poll_interval` (2 s by default; the contract is 5 s).
pub async fn run_maintenance(db: Db, store: Arc<KeyStore>, settings: Arc<Settings>) {
    let mut ticker =
        tokio::time::interval(settings.key_poll_interval.max(Duration::from_millis(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(e) = maintain_once(&db, &store, &settings).await {
            tracing::warn!(error = %e, "key maintenance failed; will retry");
        }
    }
}
