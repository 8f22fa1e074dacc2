//! Password hashes as Django stores them, so that users imported from a Django project
//! (`gatehouse user import`) sign in with their old passwords; the first successful login
//! rewrites the hash as Gatehouse's argon2id (see `passwords::Verified::needs_rehash`).
//!
//! Formats (Django's `django.contrib.auth.hashers`), each verified with its own iterations,
//! salt and cost as stored, and compared in constant time:
//! - `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` (Django's default), `pbkdf2_sha1$…`
//! - `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` (a PHC string behind `argon2`;
//!   older Django wrote `argon2i`)
//! - `bcrypt_sha256$$2b$<cost>$…` (bcrypt of the hex SHA-256 of the password), `bcrypt$$2b$…`
//! - `!…` (Django's unusable password): never verifies.
//!
//! Work factors beyond [`limits`] are refused rather than computed, at import and at login:
//! an imported file must not be able to make one login hash for seconds or take a gigabyte.

use std::num::NonZeroU32;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::Digest;

/// The largest work factors accepted: what Django's hashers write by default in its recent
/// versions, with some headroom for installations that raised them, and no more. A check at
/// a ceiling costs at most about 15 times Gatehouse's own argon2id (see README).
pub mod limits {
    /// Django 5.2 writes 1,000,000 iterations, 6.0 1,200,000.
    pub const PBKDF2_ITERATIONS: u32 = 2_000_000;
    /// Django's `Argon2PasswordHasher`: m=102400 KiB (100 MiB), t=2 since Django 3.2.
    pub const ARGON2_MEMORY_KIB: u32 = 131_072;
    pub const ARGON2_PASSES: u32 = 3;
    /// Django's `BCryptSHA256PasswordHasher`: cost 12.
    pub const BCRYPT_COST: u32 = 13;
}

/// A Django password format Gatehouse can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pbkdf2Sha256,
    Pbkdf2Sha1,
    Argon2,
    BcryptSha256,
    Bcrypt,
    /// `!…`: Django's "unusable password"; the user cannot sign in with a password.
    Unusable,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pbkdf2Sha256 => "pbkdf2_sha256",
            Format::Pbkdf2Sha1 => "pbkdf2_sha1",
            Format::Argon2 => "argon2",
            Format::BcryptSha256 => "bcrypt_sha256",
            Format::Bcrypt => "bcrypt",
            Format::Unusable => "unusable",
        }
    }
}

/// The Django format of `encoded`, checked for shape and work factors without hashing;
/// `Err` says in plain words why it cannot be verified. A PHC string (`$argon2id$…`,
/// Gatehouse's own) is not a Django format.
pub fn recognise(encoded: &str) -> Result<Format, String> {
    if encoded.starts_with('!') {
        return Ok(Format::Unusable);
    }
    let Some((algorithm, rest)) = encoded.split_once('$') else {
        return Err(if encoded.is_empty() {
            "the password is empty".into()
        } else {
            "the password is not in a Django hash format".into()
        });
    };
    match algorithm {
        "pbkdf2_sha256" => {
            pbkdf2_parts(rest, PBKDF2_SHA256_LEN)?;
            Ok(Format::Pbkdf2Sha256)
        }
        "pbkdf2_sha1" => {
            pbkdf2_parts(rest, PBKDF2_SHA1_LEN)?;
            Ok(Format::Pbkdf2Sha1)
        }
        "argon2" => {
            argon2_parse(&argon2_phc(rest))?;
            Ok(Format::Argon2)
        }
        "bcrypt_sha256" | "bcrypt" => {
            bcrypt_cost(rest)?;
            Ok(if algorithm == "bcrypt" {
                Format::Bcrypt
            } else {
                Format::BcryptSha256
            })
        }
        // Only a hasher's name is repeated back: a stray plain-text password in a dump
        // must not reach a terminal or a log.
        other
            if other.is_empty()
                || other.len() > 32
                || !other
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            Err("the password is not in a Django hash format".into())
        }
        other => Err(format!(
            "Django's {other:?} hasher is not supported (supported: pbkdf2_sha256, pbkdf2_sha1, argon2, bcrypt_sha256, bcrypt)"
        )),
    }
}

/// Checks `password` against a Django-format hash: `None` when `encoded` is not one (then
/// it is Gatehouse's own PHC string), else whether it matched.
pub fn verify(password: &str, encoded: &str) -> Option<bool> {
    let format = recognise(encoded).ok().or_else(|| {
        // A Django-looking string we cannot verify is still not a PHC string.
        (!encoded.starts_with('$')).then_some(Format::Unusable)
    })?;
    let rest = encoded.split_once('$').map_or("", |(_, r)| r);
    Some(match format {
        Format::Unusable => false,
        Format::Pbkdf2Sha256 => pbkdf2(
            aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
            PBKDF2_SHA256_LEN,
            password,
            rest,
        ),
        Format::Pbkdf2Sha1 => pbkdf2(
            aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA1,
            PBKDF2_SHA1_LEN,
            password,
            rest,
        ),
        Format::Argon2 => {
            let phc = argon2_phc(rest);
            // The hash's own variant, version and parameters are used, not the defaults.
            argon2_parse(&phc).is_ok_and(|phc| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &phc)
                    .is_ok()
            })
        }
        Format::BcryptSha256 => {
            // Django hashes first so that bcrypt's 72-byte limit never truncates.
            let hex = crate::digest::hex(&sha2::Sha256::digest(password.as_bytes()));
            bcrypt::verify(hex.as_bytes(), rest).unwrap_or(false)
        }
        Format::Bcrypt => bcrypt::verify(password.as_bytes(), rest).unwrap_or(false),
    })
}

/// Bytes of a Django PBKDF2 hash: its digest's length (Django never sets another `dklen`).
/// PBKDF2 computes every block of the output with all the iterations, so a longer "hash"
/// would multiply the work of each check.
const PBKDF2_SHA256_LEN: usize = 32;
const PBKDF2_SHA1_LEN: usize = 20;

/// `<iterations>$<salt>$<base64 hash>`, the hash `len` bytes long.
fn pbkdf2_parts(rest: &str, len: usize) -> Result<(NonZeroU32, &str, Vec<u8>), String> {
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(hash)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("a PBKDF2 hash has iterations, salt and hash".into());
    };
    let iterations = iterations
        .parse::<u32>()
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or("the PBKDF2 iteration count is not a positive number")?;
    if iterations.get() > limits::PBKDF2_ITERATIONS {
        return Err(format!(
            "{iterations} PBKDF2 iterations is more than the {} allowed",
            limits::PBKDF2_ITERATIONS
        ));
    }
    let hash = STANDARD
        .decode(hash)
        .map_err(|_| "the PBKDF2 hash is not base64")?;
    if salt.is_empty() {
        return Err("the PBKDF2 salt is empty".into());
    }
    if hash.len() != len {
        return Err(format!(
            "the PBKDF2 hash is {} bytes, not the digest's {len}",
            hash.len()
        ));
    }
    Ok((iterations, salt, hash))
}

fn pbkdf2(algorithm: aws_lc_rs::pbkdf2::Algorithm, len: usize, password: &str, rest: &str) -> bool {
    let Ok((iterations, salt, hash)) = pbkdf2_parts(rest, len) else {
        return false;
    };
    // aws-lc-rs derives the same number of bytes and compares them in constant time.
    aws_lc_rs::pbkdf2::verify(
        algorithm,
        iterations,
        salt.as_bytes(),
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

/// Django writes `argon2` + a PHC string (`$argon2id$v=19$…`): splitting the name off
/// took the PHC string's leading `$`.
fn argon2_phc(rest: &str) -> String {
    format!("${rest}")
}

/// Parses the PHC string and checks its variant and work factors.
fn argon2_parse(phc: &str) -> Result<PasswordHash<'_>, String> {
    let phc = PasswordHash::new(phc).map_err(|e| format!("the argon2 hash does not parse: {e}"))?;
    if !matches!(phc.algorithm.as_str(), "argon2id" | "argon2i" | "argon2d") {
        return Err(format!("{} is not an argon2 variant", phc.algorithm));
    }
    argon2_within_limits(&phc)?;
    if phc.hash.is_none() || phc.salt.is_none() {
        return Err("the argon2 hash has no salt or output".into());
    }
    Ok(phc)
}

/// Whether an argon2 PHC string's memory and passes are within [`limits`] (also checked for
/// Gatehouse's own hashes of other parameters before computing one).
pub fn argon2_within_limits(phc: &PasswordHash<'_>) -> Result<(), String> {
    let m = phc.params.get_decimal("m").unwrap_or(0);
    let t = phc.params.get_decimal("t").unwrap_or(0);
    if m > limits::ARGON2_MEMORY_KIB || t > limits::ARGON2_PASSES {
        return Err(format!(
            "argon2 with m={m} KiB, t={t} is more work than allowed (m ≤ {}, t ≤ {})",
            limits::ARGON2_MEMORY_KIB,
            limits::ARGON2_PASSES
        ));
    }
    Ok(())
}

/// `$2b$<cost>$<53 characters>`, with a cost within [`limits::BCRYPT_COST`].
fn bcrypt_cost(rest: &str) -> Result<u32, String> {
    let mut parts = rest.split('$');
    let (Some(""), Some(version), Some(cost), Some(tail), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err("a bcrypt hash looks like $2b$12$…".into());
    };
    if !matches!(version, "2a" | "2b" | "2x" | "2y") || tail.len() != 53 {
        return Err("a bcrypt hash looks like $2b$12$…".into());
    }
    let cost = cost
        .parse::<u32>()
        .map_err(|_| "the bcrypt cost is not a number")?;
    if !(4..=limits::BCRYPT_COST).contains(&cost) {
        return Err(format!(
            "bcrypt cost {cost} is outside 4..={}",
            limits::BCRYPT_COST
        ));
    }
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Django 5.2's own hashers (lower work factors than its defaults, as its own
    /// tests do), for the password below.
    const LONG: &str =
        "lètmein with a long passphrase that goes on and on past seventy-two bytes for bcrypt!!";
    const PBKDF2_SHA256: &str =
        "pbkdf2_sha256$1000$QkfidpfLDedyHPcrrF3RnJ$PkWAk+c+CnEBhKBXiKK5cOPrMoEGAcpQm1rVD9IB6DI=";
    const PBKDF2_SHA1: &str =
        "pbkdf2_sha1$1000$Ylh2E45AkrwkEABr8gdLCI$RM+WLVVG+r56v3P5SNrZhl69Hjs=";
    const ARGON2: &str = "argon2$argon2id$v=19$m=256,t=1,p=2$VmlWekRhVFRCN3NibEViaVltc0lvaw$/Ia2VHCTDPjTladnLfRnsEYSbS1x5SPAipCBpMDFgl8";
    const BCRYPT_SHA256: &str =
        "bcrypt_sha256$$2b$04$kCwbTD.HKKV01ddYsPg/OufZt.kY0UxIsezb4yoxgOr/DQm2QY3IC";
    /// Plain bcrypt, for the password `lètmein`.
    const BCRYPT: &str = "bcrypt$$2b$04$Vc2JmIHIxsat5PphsJFHuuF8nF4xbrAFtOu3L2gW7eD8cfUWLKNh.";

    #[test]
    fn every_django_format_verifies_its_own_password_only() {
        for (encoded, format) in [
            (PBKDF2_SHA256, Format::Pbkdf2Sha256),
            (PBKDF2_SHA1, Format::Pbkdf2Sha1),
            (ARGON2, Format::Argon2),
            (BCRYPT_SHA256, Format::BcryptSha256),
        ] {
            assert_eq!(recognise(encoded), Ok(format), "{encoded}");
            assert_eq!(verify(LONG, encoded), Some(true), "{encoded}");
            assert_eq!(verify("lètmein", encoded), Some(false), "{encoded}");
            assert_eq!(verify("", encoded), Some(false), "{encoded}");
        }
        assert_eq!(recognise(BCRYPT), Ok(Format::Bcrypt));
        assert_eq!(verify("lètmein", BCRYPT), Some(true));
        assert_eq!(verify("letmein", BCRYPT), Some(false));
    }

    #[test]
    fn a_tampered_hash_never_verifies() {
        let salt_changed = PBKDF2_SHA256.replace("QkfidpfL", "QkfidpfM");
        let fewer_rounds = PBKDF2_SHA256.replace("$1000$", "$999$");
        let argon2_params = ARGON2.replace("t=1", "t=2");
        let bcrypt_cost = BCRYPT_SHA256.replace("$04$", "$05$");
        for encoded in [salt_changed, fewer_rounds, argon2_params, bcrypt_cost] {
            assert_eq!(verify(LONG, &encoded), Some(false), "{encoded}");
        }
    }

    #[test]
    fn unusable_unknown_and_hostile_hashes_never_verify() {
        assert_eq!(recognise("!kZ8uZ3Wq1zX9"), Ok(Format::Unusable));
        assert_eq!(verify("anything", "!kZ8uZ3Wq1zX9"), Some(false));
        for (encoded, why) in [
            ("md5$salt$0123456789abcdef0123456789abcdef", "not supported"),
            ("", "empty"),
            ("plaintext", "not in a Django hash format"),
            ("My$ecret passw0rd", "not in a Django hash format"),
            ("pbkdf2_sha256$0$salt$AAAA", "positive"),
            ("pbkdf2_sha256$4000000000$salt$AAAA", "allowed"),
            ("pbkdf2_sha256$1000$salt$not base64!", "base64"),
            ("pbkdf2_sha256$1000", "iterations, salt and hash"),
            (
                "argon2$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "more work",
            ),
            ("argon2$scrypt$x", "argon2"),
            (
                "bcrypt_sha256$$2b$31$kCwbTD.HKKV01ddYsPg/OufZt.kY0UxIsezb4yoxgOr/DQm2QY3IC",
                "outside",
            ),
            ("bcrypt$$2b$12$short", "looks like"),
        ] {
            let err = recognise(encoded).expect_err(encoded);
            assert!(err.contains(why), "{encoded}: {err}");
            assert_eq!(verify("x", encoded), Some(false), "{encoded}");
        }
        // Gatehouse's own PHC strings are left to the argon2id path.
        assert_eq!(
            verify("x", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
            None
        );
    }

    /// A hash of the digest's length, for the PBKDF2 cases (its value does not matter).
    fn pbkdf2_hash(algorithm: &str, iterations: u32, bytes: usize) -> String {
        format!(
            "{algorithm}${iterations}$salt${}",
            STANDARD.encode(vec![7u8; bytes])
        )
    }

    #[test]
    fn work_factors_beyond_the_ceilings_are_refused_without_hashing() {
        for (encoded, why) in [
            // The hashes of the review: 27 s and 1 GiB per check.
            (pbkdf2_hash("pbkdf2_sha256", 20_000_000, 3200), "allowed"),
            (
                pbkdf2_hash("pbkdf2_sha256", 1_000, 3200),
                "not the digest's 32",
            ),
            (
                "argon2$argon2id$v=19$m=1048576,t=4,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA".into(),
                "more work",
            ),
            (pbkdf2_hash("pbkdf2_sha256", 2_000_001, 32), "allowed"),
            (pbkdf2_hash("pbkdf2_sha1", 2_000_001, 20), "allowed"),
            (
                pbkdf2_hash("pbkdf2_sha256", 1_000, 31),
                "not the digest's 32",
            ),
            (pbkdf2_hash("pbkdf2_sha1", 1_000, 32), "not the digest's 20"),
            (
                "argon2$argon2id$v=19$m=131073,t=2,p=8$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA".into(),
                "more work",
            ),
            (
                "argon2$argon2id$v=19$m=102400,t=4,p=8$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA".into(),
                "more work",
            ),
            (
                "bcrypt_sha256$$2b$14$kCwbTD.HKKV01ddYsPg/OufZt.kY0UxIsezb4yoxgOr/DQm2QY3IC".into(),
                "outside",
            ),
        ] {
            let err = recognise(&encoded).expect_err(&encoded);
            assert!(err.contains(why), "{encoded}: {err}");
            // Refused, not computed: at 20 million iterations this would take many seconds.
            assert_eq!(verify("x", &encoded), Some(false), "{encoded}");
        }
        // Gatehouse's own PHC strings get the same argon2 ceilings.
        let v = crate::passwords::verify_blocking(
            "x",
            "$argon2id$v=19$m=1048576,t=4,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
        );
        assert!(!v.ok);
    }

    #[test]
    fn the_ceilings_admit_what_django_writes_by_default() {
        for encoded in [
            pbkdf2_hash("pbkdf2_sha256", 1_200_000, 32),
            pbkdf2_hash("pbkdf2_sha256", 2_000_000, 32),
            pbkdf2_hash("pbkdf2_sha1", 1_200_000, 20),
            "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA".into(),
            "argon2$argon2i$v=19$m=512,t=2,p=2$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA".into(),
            "bcrypt_sha256$$2b$12$kCwbTD.HKKV01ddYsPg/OufZt.kY0UxIsezb4yoxgOr/DQm2QY3IC".into(),
        ] {
            assert!(recognise(&encoded).is_ok(), "{encoded}");
        }
    }

    #[test]
    fn a_matching_django_hash_asks_for_a_rehash() {
        let v = crate::passwords::verify_blocking(LONG, PBKDF2_SHA256);
        assert!(v.ok && v.needs_rehash);
        let v = crate::passwords::verify_blocking("wrong", ARGON2);
        assert!(!v.ok && !v.needs_rehash);
    }
}
