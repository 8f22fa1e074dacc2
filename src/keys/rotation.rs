//! Generating RSA keys and changing the stored key set: bootstrap, rotation (manual,
//! scheduled, emergency) and removal of retired keys. RSA generation happens before the
//! write transaction, which is serialised by a row lock, so each rotation is a real one.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use super::encryption::{MasterKey, MasterKeys};
use super::jwks::rsa_thumbprint;
use super::lifecycle::{self, KeyState};
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

/// What a rotation did, for the operator.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RotationOutcome {
    pub rotated: bool,
    pub current: Option<String>,
    pub next: Option<String>,
    pub retired: Option<String>,
    pub revoked: Option<String>,
    pub warning: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct RotationPolicy {
    /// How long a retired key stays published: the longest token lifetime plus leeway.
    pub retire_for: Duration,
    pub jwks_max_age: Duration,
    pub interval: Duration,
}

/// Which rotation to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationKind {
    Manual,
    Emergency,
    /// Only if the schedule says so, checked again under the lock so that of several
    /// instances polling at once only one rotates.
    Scheduled,
}

/// Rotates with a key generated beforehand. On a connection (blocking).
pub fn rotate(
    conn: &mut DbConn,
    fresh: &GeneratedKey,
    master: &MasterKeys,
    policy: RotationPolicy,
    kind: RotationKind,
    now: i64,
) -> Result<RotationOutcome, DbError> {
    write_transaction(conn, |conn| {
        repo::meta::lock_key_rotation(conn)?;
        let records = repo::keys::list(conn)?;
        let current = records.iter().find(|k| k.state == KeyState::Current);
        let next = records.iter().find(|k| k.state == KeyState::Next);
        // After `master-key rotate`, an instance still running on the old master key alone
        // would seal its new key under a key the database no longer names, which the other
        // instances cannot open. Checked under the lock the re-seal also takes.
        if let Some(id) = repo::meta::get(conn, "master_key_id")? {
            let ours =
                id == master.current.id() || master.previous.as_ref().is_some_and(|p| p.id() == id);
            if !ours {
                return Ok(RotationOutcome {
                    rotated: false,
                    current: current.map(|k| k.kid.clone()),
                    next: next.map(|k| k.kid.clone()),
                    retired: None,
                    revoked: None,
                    warning: Some(format!(
                        "not rotated: the database is sealed under master key {id}, which this \
                         instance does not hold (a master-key rotation happened since it \
                         started); restart it with the new master key"
                    )),
                });
            }
        }
        if kind == RotationKind::Scheduled
            && !lifecycle::rotation_due(current, next, now, policy.interval, policy.jwks_max_age)
        {
            return Ok(RotationOutcome {
                rotated: false,
                current: current.map(|k| k.kid.clone()),
                next: next.map(|k| k.kid.clone()),
                retired: None,
                revoked: None,
                warning: None,
            });
        }
        let plan = lifecycle::plan_rotation(
            current,
            next,
            now,
            kind == RotationKind::Emergency,
            policy.retire_for,
            policy.jwks_max_age,
        );
        let (mut retired, mut revoked) = (None, None);
        // Order matters: the unique indexes allow one current and one next at every step.
        if let Some((kid, to)) = &plan.old_current {
            if *to == KeyState::Revoked {
                repo::keys::revoke(conn, kid, now)?;
                revoked = Some(kid.clone());
            } else {
                repo::keys::retire(conn, kid, now, plan.remove_after.unwrap_or(now))?;
                retired = Some(kid.clone());
            }
        }
        if let Some(kid) = &plan.promote {
            repo::keys::activate(conn, kid, now)?;
        }
        store(conn, fresh, plan.fresh_state, &master.current, now)?;
        let (current, next) = match plan.fresh_state {
            KeyState::Current => (Some(fresh.kid.clone()), None),
            _ => (plan.promote.clone(), Some(fresh.kid.clone())),
        };
        Ok(RotationOutcome {
            rotated: true,
            current,
            next,
            retired,
            revoked,
            warning: plan.warning,
        })
    })
}

/// What [`fill_gaps`] needs generated: a current key and/or a next key.
pub fn missing_keys(conn: &mut DbConn) -> Result<usize, DbError> {
    let records = repo::keys::list(conn)?;
    let has = |s| records.iter().any(|k| k.state == s);
    Ok(usize::from(!has(KeyState::Current)) + usize::from(!has(KeyState::Next)))
}

/// Stores generated keys as current and/or next where those are missing (first start, or
/// after an emergency without a pre-published key). Checked again under the lock.
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
        for state in [KeyState::Current, KeyState::Next] {
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
