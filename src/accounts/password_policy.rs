//! The password policy of NIST SP 800-63B §3.1.1.2, applied wherever a password is set (never
//! at sign-in, so an older or imported password keeps working until it is changed): a
//! minimum length in characters, a maximum long enough for passphrases, no composition
//! rules, and no password from a list of common and breached ones.

use std::sync::LazyLock;

/// Longest password accepted, in bytes; longer input is refused before any hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The default of `PASSWORD_MIN_LENGTH`.
pub const DEFAULT_MIN_LENGTH: usize = 12;

/// The common passwords, one per line, lowercased and sorted bytewise: the 20,000 that
/// Django (BSD-3-Clause) ships as `django/contrib/auth/common-passwords.txt.gz`, compiled by
/// Royce Williams from breach corpora, taken from the Django 5.2.19 package on PyPI (its
/// licence beside it, `assets/common-passwords.LICENSE`).
const COMMON_PASSWORDS: &str = include_str!("../../assets/common-passwords.txt");

static COMMON: LazyLock<Vec<&'static str>> = LazyLock::new(|| COMMON_PASSWORDS.lines().collect());

/// Whether `password` is on the common list, whatever its case (binary search).
pub fn is_common(password: &str) -> bool {
    COMMON
        .binary_search(&password.to_lowercase().as_str())
        .is_ok()
}

/// The rules a new password must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values, as NIST counts them).
    pub min_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: DEFAULT_MIN_LENGTH,
        }
    }
}

impl PasswordPolicy {
    /// `Err` says, for the person choosing it, why the password is refused.
    pub fn check(&self, password: &str) -> Result<(), String> {
        if password.is_empty() {
            return Err("The password may not be empty.".into());
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(format!(
                "The password is longer than {MAX_PASSWORD_BYTES} bytes."
            ));
        }
        let chars = password.chars().count();
        if chars < self.min_length {
            return Err(format!(
                "The password must have at least {} characters (it has {chars}).",
                self.min_length
            ));
        }
        if is_common(password) {
            return Err(
                "The password is one of the most common passwords, which attackers try first; \
                 please choose another."
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_lowercase_and_whole() {
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(lines.len() > 19_000, "{} lines", lines.len());
        assert!(lines.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        assert!(lines
            .iter()
            .all(|l| !l.is_empty() && l.to_lowercase() == *l));
    }

    #[test]
    fn common_passwords_are_found_in_any_case() {
        for p in [
            "password",
            "PassWord",
            "123456",
            "qwertyuiop",
            "1q2w3e4r5t6y",
        ] {
            assert!(is_common(p), "{p}");
        }
        assert!(!is_common("correct horse battery staple"));
    }

    #[test]
    fn length_is_counted_in_characters_without_composition_rules() {
        let policy = PasswordPolicy::default();
        assert!(policy.check("all lowercase words").is_ok());
        // Eleven characters, 22 bytes: too short however many bytes.
        let err = policy.check("ééééééééééé").unwrap_err();
        assert!(err.contains("at least 12 characters (it has 11)"), "{err}");
        assert!(policy.check("éééééééééééé").is_ok());
        assert!(policy.check("").is_err());
    }

    #[test]
    fn common_and_overlong_passwords_are_refused_with_the_reason() {
        let policy = PasswordPolicy { min_length: 8 };
        assert!(policy
            .check("Password1")
            .unwrap_err()
            .contains("most common"));
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(policy
            .check(&long)
            .unwrap_err()
            .contains("longer than 1024 bytes"));
        assert!(policy.check(&"x".repeat(MAX_PASSWORD_BYTES)).is_ok());
    }
}
