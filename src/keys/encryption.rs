//! The master key (key-encryption key) and AES-256-GCM sealing of secrets at rest.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::digest::hex;

const NONCE_LEN: usize = 12;

/// What the check value in `meta` seals (context `check`): opening it proves that a master
/// key is the one the database was sealed with, before any signing key is touched.
pub const CHECK_PLAINTEXT: &[u8] = b"gatehouse master key check";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed data is malformed or was sealed under another key")]
    Open,
    #[error("the master key must be 32 bytes of base64")]
    BadMasterKey,
}

/// A 256-bit key-encryption key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey {{ id: {}, key: <hidden> }}", self.id)
    }
}

impl MasterKey {
    pub fn generate() -> MasterKey {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        MasterKey::from_bytes(key)
    }

    fn from_bytes(key: Zeroizing<[u8; 32]>) -> MasterKey {
        let digest = Sha256::new()
            .chain_update(b"gatehouse master key id\0")
            .chain_update(key.as_ref())
            .finalize();
        let id = hex(&digest[..8]);
        MasterKey { id, key }
    }

    pub fn from_base64(text: &str) -> Result<MasterKey, SealError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| SealError::BadMasterKey)?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SealError::BadMasterKey)?;
        Ok(MasterKey::from_bytes(Zeroizing::new(key)))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.key.as_ref()))
    }

    /// Public identifier of the key (not secret: a truncated hash), stored beside what it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `nonce || ciphertext+tag`; `context` binds the sealed bytes to their purpose and row.
    // AES-GCM encryption fails only for plaintexts over 64 GiB; ours are a few kilobytes.
    #[allow(clippy::expect_used)]
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new(self.key.as_ref().into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(SealError::Open);
        }
        let cipher = Aes256Gcm::new(self.key.as_ref().into());
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Open)
    }
}

/// The master key in use, and during a rollover the previous one (read-only).
#[derive(Clone, Debug)]
pub struct MasterKeys {
    pub current: MasterKey,
    pub previous: Option<MasterKey>,
}

impl MasterKeys {
    /// Whether the check value opens under whichever of the two keys `key_id` names.
    pub fn opens_check_value(&self, key_id: &str, check_b64: &str) -> bool {
        let sealed = STANDARD.decode(check_b64).unwrap_or_default();
        self.open(key_id, &sealed, b"check").is_ok()
    }

    /// Opens data sealed under whichever of the two keys `key_id` names.
    pub fn open(
        &self,
        key_id: &str,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if key_id == self.current.id() {
            return self.current.open(sealed, context);
        }
        match &self.previous {
            Some(prev) if prev.id() == key_id => prev.open(sealed, context),
            _ => Err(SealError::Open),
        }
    }

    /// Opens data that carries no key id (the sealed successors of the refresh grace
    /// window): the current key first, then the previous one during a rollover.
    pub fn open_any(&self, sealed: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        self.current
            .open(sealed, context)
            .or_else(|e| match &self.previous {
                Some(prev) => prev.open(sealed, context),
                None => Err(e),
            })
    }
}

/// The key in a file, if the file exists and holds one; the text read is wiped after use.
/// For the staged key of a rotation, whose absence or damage only means "no staged key".
pub fn read_key_file(path: &Path) -> Option<MasterKey> {
    let text = Zeroizing::new(std::fs::read_to_string(path).ok()?);
    MasterKey::from_base64(&text).ok()
}

/// Where `master-key rotate` stages the new key before the database is re-sealed under it.
pub fn next_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".next");
    name.into()
}

/// Where `master-key rotate --keep-previous` leaves the old key.
pub fn previous_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".previous");
    name.into()
}

/// Writes `key` to `path`, replacing whatever was there, so that a crash at any moment
/// leaves either the old file or the complete new one: a private (0600) temporary file in
/// the same directory, written and fsynced, renamed over `path`, and the directory fsynced
/// so that the rename itself survives a power cut.
pub fn write_key_file(path: &Path, key: &MasterKey) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".{}.tmp", hex(&rand::random::<[u8; 8]>())));
    let tmp = std::path::PathBuf::from(tmp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(key.to_base64().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed?;
    sync_dir(dir)
}

/// Makes a rename or removal in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Whether the database's check value (`meta.master_key_check`, base64 as stored) opens
/// under `key`: the AEAD tag decides which key a database is sealed under, not the stored id.
pub fn opens_check_value(key: &MasterKey, check_b64: &str) -> bool {
    let sealed = STANDARD.decode(check_b64).unwrap_or_default();
    key.open(&sealed, b"check").is_ok()
}

/// Reads the master key file, or creates it (mode 0600) when `may_create` is true.
pub fn read_or_create_file(path: &Path, may_create: bool) -> anyhow::Result<MasterKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => MasterKey::from_base64(&text)
            .map_err(|_| anyhow::anyhow!("master key file {} does not hold 32 bytes of base64", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let key = MasterKey::generate();
            // Written whole to a private temporary file, then linked into place: a process
            // starting at the same moment sees either no file or the complete key, never an
            // empty file, and a link never replaces an existing key.
            let mut tmp_name = path.as_os_str().to_owned();
            tmp_name.push(format!(".{}.tmp", hex(&rand::random::<[u8; 8]>())));
            let tmp = std::path::PathBuf::from(tmp_name);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let written = options.open(&tmp).and_then(|mut file| {
                file.write_all(key.to_base64().as_bytes())?;
                file.write_all(b"\n")?;
                file.sync_all()
            });
            let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    tracing::info!(path = %path.display(), key_id = key.id(), "created a new master key");
                    Ok(key)
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_or_create_file(path, false),
                Err(e) => Err(anyhow::anyhow!("cannot create master key file {}: {e}", path.display())),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "the master key file {} is missing, and the database already holds keys sealed under a master key; \
             restore the file or set GATEHOUSE_MASTER_KEY",
            path.display()
        ),
        Err(e) => anyhow::bail!("cannot read master key file {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_the_same_key_and_context() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"private key", b"kid-1");
        assert_eq!(
            key.open(&sealed, b"kid-1").unwrap().as_slice(),
            b"private key"
        );
        assert!(key.open(&sealed, b"kid-2").is_err());
        assert!(MasterKey::generate().open(&sealed, b"kid-1").is_err());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(key.open(&tampered, b"kid-1").is_err());
    }

    #[test]
    fn master_key_debug_hides_the_key() {
        let key = MasterKey::generate();
        let shown = format!("{key:?}");
        assert!(!shown.contains(key.to_base64().as_str()));
        assert!(shown.contains("<hidden>"));
    }

    #[test]
    fn master_key_round_trips_through_base64() {
        let key = MasterKey::generate();
        let again = MasterKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(key.id(), again.id());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    }
}
