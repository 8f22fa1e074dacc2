//! Changing the stored key set: bootstrap, rotation (manual, scheduled, emergency) of one
//! algorithm's line, revocation of any key by its kid, and removal of retired keys. Each
//! algorithm's line moves on its own; a change reads and plans only the keys of its
//! algorithm. Key generation happens before the write transaction, which is serialised by a
//! row lock, so each rotation is a real one.

use super::encryption::{MasterKey, MasterKeys};
use super::lifecycle::{self, Change, KeyRecord, KeyState, PlanError};
use super::Alg;
use crate::db::{repo, write_transaction, DbConn, DbError};

pub use super::generate::{generate, generator, GeneratedKey, KeyGenerator};

fn store(
    conn: &mut DbConn,
    key: &GeneratedKey,
    state: KeyState,
    master: &MasterKey,
    now: i64,
) -> Result<(), DbError> {
    let sealed = master.seal(key.private_der(), key.kid.as_bytes());
    repo::keys::insert(
        conn,
        repo::keys::NewKey {
            kid: &key.kid,
            alg: key.alg,
            x: key.x.as_deref(),
            y: key.y.as_deref(),
            state,
            bits: key.bits as i32,
            n: &key.n,
            e: &key.e,
            sealed: &sealed,
            master_key_id: master.id(),
            now,
        },
    )
}

pub use super::lifecycle::RotationPolicy;

/// What a rotation or a revocation did, for the operator.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RotationOutcome {
    /// The algorithm whose line this is.
    pub alg: Option<Alg>,
    /// Whether the key set changed (a scheduled rotation that is not due yet does not).
    pub rotated: bool,
    /// The key that signs now.
    pub current: Option<String>,
    /// When the key that signs now was published (Unix seconds).
    pub current_published_at: Option<i64>,
    pub next: Option<String>,
    pub standby: Option<String>,
    pub retired: Option<String>,
    pub revoked: Option<String>,
    /// The refresh families ended with the revoked key (their holders sign in again).
    pub families_revoked: usize,
    pub warning: Option<String>,
    /// When every algorithm was rotated: the other lines' outcomes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<RotationOutcome>,
}

impl RotationOutcome {
    /// One answer for the rotation of one line or of several: the first line, with the
    /// others in `also`.
    pub fn combined(outcomes: Vec<RotationOutcome>) -> RotationOutcome {
        let mut outcomes = outcomes.into_iter();
        let mut first = outcomes.next().unwrap_or_default();
        first.also = outcomes.collect();
        first
    }

    /// The signing line as stored (`records` of one algorithm); nothing changed yet.
    fn line(records: &[KeyRecord]) -> RotationOutcome {
        let kid = |state| {
            records
                .iter()
                .find(|k| k.state == state)
                .map(|k| k.kid.clone())
        };
        RotationOutcome {
            alg: records.first().map(|k| k.alg),
            current: kid(KeyState::Current),
            current_published_at: records
                .iter()
                .find(|k| k.state == KeyState::Current)
                .map(|k| k.created_at),
            next: kid(KeyState::Next),
            standby: kid(KeyState::Standby),
            ..Default::default()
        }
    }

    /// This outcome, with the line of its algorithm as stored now (`records`: all keys).
    pub fn refreshed(mut self, records: &[KeyRecord]) -> RotationOutcome {
        let alg = self.alg;
        let mine: Vec<KeyRecord> = records
            .iter()
            .filter(|k| Some(k.alg) == alg)
            .cloned()
            .collect();
        let line = RotationOutcome::line(&mine);
        self.current = line.current;
        self.current_published_at = line.current_published_at;
        self.next = line.next;
        self.standby = line.standby;
        self
    }

    /// Whether a place in the line is empty (no key was waiting to move up).
    pub fn line_incomplete(&self) -> bool {
        self.current.is_none() || self.next.is_none() || self.standby.is_none()
    }
}

/// Which rotation to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationKind {
    Manual,
    /// Revokes the current key (see [`KeyChange::Revoke`]).
    Emergency,
    /// Only if the schedule says so, checked again under the lock so that of several
    /// instances polling at once only one rotates.
    Scheduled,
}

/// A change to the stored key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// Rotates the line of this algorithm.
    Rotate(Alg, RotationKind),
    /// Revokes the key with this kid, whatever its state.
    Revoke(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Refused(#[from] PlanError),
}

/// Why revoking a key frees its refresh families (kept in `refresh_families.revoked_why`).
pub const FAMILY_REVOKED_WITH_KEY: &str = "signing key revoked";

/// Makes `change` with a key generated beforehand (used when the change frees a place in
/// the line). On a connection (blocking).
pub fn change(
    conn: &mut DbConn,
    fresh: Option<&GeneratedKey>,
    master: &MasterKeys,
    policy: RotationPolicy,
    change: &KeyChange,
    now: i64,
) -> Result<RotationOutcome, ChangeError> {
    write_transaction(conn, |conn| {
        repo::meta::lock_key_rotation(conn)?;
        let all = repo::keys::list(conn)?;
        let alg = match change {
            KeyChange::Rotate(alg, _) => *alg,
            KeyChange::Revoke(kid) => all
                .iter()
                .find(|k| &k.kid == kid)
                .map(|k| k.alg)
                .ok_or_else(|| PlanError::UnknownKey(kid.clone()))?,
        };
        let records = of_alg(&all, alg);
        // After `master-key rotate`, an instance still running on the old master key alone
        // would seal its new key under a key the database no longer names, which the other
        // instances cannot open. Checked under the lock the re-seal also takes.
        if let Some(id) = repo::meta::get(conn, "master_key_id")? {
            let ours =
                id == master.current.id() || master.previous.as_ref().is_some_and(|p| p.id() == id);
            if !ours {
                return Ok(RotationOutcome {
                    warning: Some(format!(
                        "not rotated: the database is sealed under master key {id}, which this \
                         instance does not hold (a master-key rotation happened since it \
                         started); restart it with the new master key"
                    )),
                    alg: Some(alg),
                    ..RotationOutcome::line(&records)
                });
            }
        }
        // Made for this line (a key of another would find no place: the line is then
        // completed afterwards, as when no key was waiting).
        let fresh = fresh.filter(|f| f.alg == alg);
        let current = records.iter().find(|k| k.state == KeyState::Current);
        let planned = match change {
            KeyChange::Rotate(_, RotationKind::Scheduled)
                if !lifecycle::rotation_due(&records, now, &policy) =>
            {
                return Ok(RotationOutcome {
                    alg: Some(alg),
                    ..RotationOutcome::line(&records)
                });
            }
            KeyChange::Rotate(_, RotationKind::Emergency) => match current {
                Some(c) => Change::Revoke(&c.kid),
                None => Change::Rotate,
            },
            KeyChange::Rotate(..) => Change::Rotate,
            KeyChange::Revoke(kid) => Change::Revoke(kid.as_str()),
        };
        let plan = lifecycle::plan(&records, planned, now, &policy)?;
        let mut outcome = RotationOutcome {
            alg: Some(alg),
            rotated: true,
            warning: plan.warning.clone(),
            ..Default::default()
        };
        // Order matters: the unique indexes allow one key in each place at every step.
        match &plan.leaving {
            Some((kid, KeyState::Revoked)) => {
                repo::keys::revoke(conn, kid, now)?;
                outcome.families_revoked = repo::refresh::revoke_families_signed_by(
                    conn,
                    kid,
                    FAMILY_REVOKED_WITH_KEY,
                    now,
                )?;
                outcome.revoked = Some(kid.clone());
            }
            Some((kid, _)) => {
                repo::keys::retire(conn, kid, now, plan.remove_after.unwrap_or(now))?;
                outcome.retired = Some(kid.clone());
            }
            None => {}
        }
        for (kid, place) in &plan.moves {
            match place {
                KeyState::Current => repo::keys::activate(conn, kid, now)?,
                _ => repo::keys::set_waiting_state(conn, kid, *place)?,
            }
        }
        if let (Some(place), Some(fresh)) = (plan.fresh, fresh) {
            store(conn, fresh, place, &master.current, now)?;
        }
        Ok(outcome.refreshed(&repo::keys::list(conn)?))
    })
}

/// The keys of one algorithm.
pub fn of_alg(records: &[KeyRecord], alg: Alg) -> Vec<KeyRecord> {
    records.iter().filter(|k| k.alg == alg).cloned().collect()
}

/// How many places of `alg`'s line ([`lifecycle::LINE`]) are empty: what [`fill_gaps`]
/// needs.
pub fn missing_keys(conn: &mut DbConn, alg: Alg) -> Result<usize, DbError> {
    let records = repo::keys::list(conn)?;
    Ok(lifecycle::LINE
        .iter()
        .filter(|&&s| !records.iter().any(|k| k.alg == alg && k.state == s))
        .count())
}

/// Stores generated keys in the empty places of their algorithm's line, in order (first
/// start, the first start with an algorithm newly in `SIGNING_ALGS`, or a change that found
/// no key waiting). Checked again under the lock; a key that finds no place is dropped.
pub fn fill_gaps(
    conn: &mut DbConn,
    fresh: Vec<GeneratedKey>,
    master: &MasterKey,
    now: i64,
) -> Result<(), DbError> {
    write_transaction(conn, |conn| {
        repo::meta::lock_key_rotation(conn)?;
        let records = repo::keys::list(conn)?;
        let mut taken: Vec<(Alg, KeyState)> = records.iter().map(|k| (k.alg, k.state)).collect();
        for key in fresh {
            let free = lifecycle::LINE
                .into_iter()
                .find(|&state| !taken.contains(&(key.alg, state)));
            if let Some(state) = free {
                store(conn, &key, state, master, now)?;
                taken.push((key.alg, state));
            }
        }
        Ok(())
    })
}

/// Deletes retired keys whose tokens have all expired. Returns their kids.
pub fn remove_expired(conn: &mut DbConn, now: i64) -> Result<Vec<String>, DbError> {
    write_transaction(conn, |conn| {
        let records = repo::keys::list(conn)?;
        let gone: Vec<String> = lifecycle::removable(&records, now)
            .iter()
            .map(|k| k.kid.clone())
            .collect();
        for kid in &gone {
            repo::keys::delete(conn, kid)?;
        }
        Ok(gone)
    })
}
