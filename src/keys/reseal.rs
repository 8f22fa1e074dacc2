//! Re-sealing everything the master key protects under another master key, in one write
//! transaction: the private signing keys, the sealed successors of the refresh grace window,
//! the users' TOTP secrets, and the check value with the key id in `meta`. Either all of it
//! moves to the new key or nothing does, so the database is never half under one key and
//! half under another.

use base64::Engine;

use super::encryption::{self, MasterKey, CHECK_PLAINTEXT};
use crate::audit::{self, Event, Kind};
use crate::db::{repo, Db, DbConn, DbError};

/// What a re-seal did. Key ids are truncated hashes, not secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResealReport {
    /// The master key id the database named before.
    pub from_id: Option<String>,
    pub to_id: String,
    /// Private keys moved to the new key.
    pub keys_resealed: usize,
    /// Private keys that were already under the new key (a repeated or resumed run).
    pub keys_already: usize,
    pub successors_resealed: usize,
    /// Grace-window successors no configured key opens (sealed by an instance on a key that
    /// is no longer configured): dropped, since nobody could serve them; a replay of their
    /// token then counts as reuse, as it would once the short window ends anyway.
    pub successors_dropped: usize,
    /// Users' TOTP secrets moved to the new key.
    pub totp_secrets_resealed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error(
        "signing key {kid} is sealed under master key {key_id}, which is neither the configured \
         master key nor GATEHOUSE_MASTER_KEY_PREVIOUS; nothing was changed"
    )]
    UnknownKey { kid: String, key_id: String },
    #[error(
        "the database's master key check value (id {0}) does not open with the configured keys; \
         nothing was changed"
    )]
    Check(String),
    #[error("{0}; nothing was changed")]
    Precondition(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Whether the database is sealed under `key`: its check value opens with it (the stored key
/// id is only a label; the AEAD tag decides). A database without a check value is sealed
/// under no key yet.
pub fn check_value_opens(conn: &mut DbConn, key: &MasterKey) -> Result<bool, DbError> {
    let Some(check) = repo::meta::get(conn, "master_key_check")? else {
        return Ok(false);
    };
    Ok(encryption::opens_check_value(key, &check))
}

/// Re-seals every sealed value under `to`, opening each with whichever of `from` (the keys
/// that may have sealed it) or `to` itself names or opens it. The audit event is recorded in
/// the same transaction, so the trail never claims a rotation that did not happen.
/// `precondition` runs under the lock, before anything is written (the command checks there
/// that its staged key file is still in place).
pub async fn reseal_all(
    db: &Db,
    from: Vec<MasterKey>,
    to: MasterKey,
    now: i64,
    precondition: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Result<ResealReport, ResealError> {
    let ctx = audit::current_context();
    db.write(move |conn| {
        // A key rotation on another instance would store a new key sealed under the old
        // master key behind our back; it waits for this lock (SQLite: BEGIN IMMEDIATE).
        repo::meta::lock_key_rotation(conn)?;
        precondition().map_err(ResealError::Precondition)?;
        let candidates: Vec<&MasterKey> = std::iter::once(&to).chain(from.iter()).collect();
        let by_id = |id: &str| candidates.iter().copied().find(|k| k.id() == id);

        let from_id = repo::meta::get(conn, "master_key_id")?;
        if let (Some(id), Some(check)) = (&from_id, repo::meta::get(conn, "master_key_check")?) {
            let opens = by_id(id).is_some_and(|k| encryption::opens_check_value(k, &check));
            if !opens {
                return Err(ResealError::Check(id.clone()));
            }
        }

        let mut report = ResealReport {
            from_id,
            to_id: to.id().to_string(),
            keys_resealed: 0,
            keys_already: 0,
            successors_resealed: 0,
            successors_dropped: 0,
            totp_secrets_resealed: 0,
        };
        for (kid, sealed, key_id) in repo::keys::all_sealed(conn)? {
            let unknown = || ResealError::UnknownKey {
                kid: kid.clone(),
                key_id: key_id.clone(),
            };
            let opener = by_id(&key_id).ok_or_else(unknown)?;
            // The key id is only a label: the AEAD tag decides, and the kid is the context.
            let der = opener
                .open(&sealed, kid.as_bytes())
                .map_err(|_| unknown())?;
            if key_id == to.id() {
                report.keys_already += 1;
                continue;
            }
            repo::keys::reseal(conn, &kid, &to.seal(&der, kid.as_bytes()), to.id())?;
            report.keys_resealed += 1;
        }
        for (jti_hash, sealed) in repo::refresh::sealed_successors(conn)? {
            let opened = candidates
                .iter()
                .find_map(|k| k.open(&sealed, jti_hash.as_bytes()).ok());
            match opened {
                Some(pair) => {
                    let resealed = to.seal(&pair, jti_hash.as_bytes());
                    repo::refresh::reseal_successor(conn, &jti_hash, Some(&resealed))?;
                    report.successors_resealed += 1;
                }
                None => {
                    repo::refresh::reseal_successor(conn, &jti_hash, None)?;
                    report.successors_dropped += 1;
                }
            }
        }
        // TOTP secrets: sealed with their user's id as the context, the key's id beside.
        for (user_id, sealed, key_id) in repo::factors::all_sealed_totp(conn)? {
            let context = format!("totp:{user_id}");
            let unknown = || ResealError::UnknownKey {
                kid: format!("the TOTP secret of user {user_id}"),
                key_id: key_id.clone(),
            };
            if key_id == to.id() {
                continue;
            }
            let opener = by_id(&key_id).ok_or_else(unknown)?;
            let secret = opener
                .open(&sealed, context.as_bytes())
                .map_err(|_| unknown())?;
            let resealed = to.seal(&secret, context.as_bytes());
            repo::factors::reseal_totp(conn, &user_id, &resealed, to.id())?;
            report.totp_secrets_resealed += 1;
        }
        let check = to.seal(CHECK_PLAINTEXT, b"check");
        repo::meta::set(conn, "master_key_id", to.id())?;
        repo::meta::set(
            conn,
            "master_key_check",
            &base64::engine::general_purpose::STANDARD.encode(check),
        )?;
        let detail = format!(
            "from master key {}; {} private keys, {} grace-window records and {} TOTP secrets re-sealed",
            report.from_id.as_deref().unwrap_or("-"),
            report.keys_resealed,
            report.successors_resealed,
            report.totp_secrets_resealed
        );
        audit::record_in(
            conn,
            &ctx,
            now,
            Event::success(Kind::MasterKeyRotated, to.id()).detail(detail),
        )?;
        Ok(report)
    })
    .await
}
