//! Generating RSA keys and changing the stored key set: bootstrap, rotation (manual,
//! scheduled, emergency), revocation of any key by its kid, and removal of retired keys.
//! RSA generation happens before the write transaction, which is serialised by a row lock,
//! so each rotation is a real one.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use super::encryption::{MasterKey, MasterKeys};
use super::jwks::rsa_thumbprint;
use super::lifecycle::{self, Change, KeyRecord, KeyState, PlanError};
use crate::db::{repo, write_transaction, DbConn, DbError};

/// A freshly generated key, not yet stored.
#[derive(Clone)]
pub struct GeneratedKey {
    pub kid: String,
    pub bits: usize,
    pub n: String,
    pub e: String,
    pkcs1_der: Zeroizing<Vec<u8>>,
}

#[cfg(test)]
impl GeneratedKey {
    pub(crate) fn pkcs1_der(&self) -> &[u8] {
        &self.pkcs1_der
    }
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GeneratedKey {{ kid: {}, bits: {}, private: <hidden> }}",
            self.kid, self.bits
        )
    }
}

/// Where a server's new signing keys come from, given their size in bits; called on a
/// blocking thread. A server generates them ([`generator`]); a test suite passes one that
/// hands out keys it generated once, because generation is most of the CPU its rotations
/// cost, as the clock is passed in so that time is the test's.
pub type KeyGenerator = Arc<dyn Fn(usize) -> anyhow::Result<GeneratedKey> + Send + Sync>;

/// Fresh RSA keys from the operating system's randomness: [`generate`].
pub fn generator() -> KeyGenerator {
    Arc::new(generate)
}

/// CPU-heavy (tens to hundreds of milliseconds): call from a blocking thread.
pub fn generate(bits: usize) -> anyhow::Result<GeneratedKey> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)?;
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    let der = key.to_pkcs1_der()?;
    Ok(GeneratedKey {
        kid: rsa_thumbprint(&n, &e),
        bits,
        n,
        e,
        pkcs1_der: Zeroizing::new(der.as_bytes().to_vec()),
    })
}

fn store(
    conn: &mut DbConn,
    key: &GeneratedKey,
    state: KeyState,
    master: &MasterKey,
    now: i64,
) -> Result<(), DbError> {
    let sealed = master.seal(&key.pkcs1_der, key.kid.as_bytes());
    repo::keys::insert(
        conn,
        repo::keys::NewKey {
            kid: &key.kid,
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
}

impl RotationOutcome {
    /// The signing line as stored; nothing changed yet.
    fn line(records: &[KeyRecord]) -> RotationOutcome {
        let kid = |state| {
            records
                .iter()
                .find(|k| k.state == state)
                .map(|k| k.kid.clone())
        };
        RotationOutcome {
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

    /// This outcome, with the line as stored now.
    pub fn refreshed(mut self, records: &[KeyRecord]) -> RotationOutcome {
        let line = RotationOutcome::line(records);
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
    Rotate(RotationKind),
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
        let records = repo::keys::list(conn)?;
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
                    ..RotationOutcome::line(&records)
                });
            }
        }
        let current = records.iter().find(|k| k.state == KeyState::Current);
        let planned = match change {
            KeyChange::Rotate(RotationKind::Scheduled)
                if !lifecycle::rotation_due(&records, now, &policy) =>
            {
                return Ok(RotationOutcome::line(&records));
            }
            KeyChange::Rotate(RotationKind::Emergency) => match current {
                Some(c) => Change::Revoke(&c.kid),
                None => Change::Rotate,
            },
            KeyChange::Rotate(_) => Change::Rotate,
            KeyChange::Revoke(kid) => Change::Revoke(kid.as_str()),
        };
        let plan = lifecycle::plan(&records, planned, now, &policy)?;
        let mut outcome = RotationOutcome {
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

/// How many places of the line ([`lifecycle::LINE`]) are empty: what [`fill_gaps`] needs.
pub fn missing_keys(conn: &mut DbConn) -> Result<usize, DbError> {
    let records = repo::keys::list(conn)?;
    Ok(lifecycle::LINE
        .iter()
        .filter(|&&s| !records.iter().any(|k| k.state == s))
        .count())
}

/// Stores generated keys in the empty places of the line, in order (first start, the first
/// start after the upgrade that brought the standby key, or a change that found no key
/// waiting). Checked again under the lock.
pub fn fill_gaps(
    conn: &mut DbConn,
    fresh: Vec<GeneratedKey>,
    master: &MasterKey,
    now: i64,
) -> Result<(), DbError> {
    write_transaction(conn, |conn| {
        repo::meta::lock_key_rotation(conn)?;
        let records = repo::keys::list(conn)?;
        let mut fresh = fresh.into_iter();
        for state in lifecycle::LINE {
            if !records.iter().any(|k| k.state == state) {
                if let Some(key) = fresh.next() {
                    store(conn, &key, state, master, now)?;
                }
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
