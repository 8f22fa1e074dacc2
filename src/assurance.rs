//! How a sign-in was made, as tokens tell it (OIDC Core §2): `auth_time`, `amr` (RFC 8176
//! method names) and `acr` (our two levels, listed in discovery's `acr_values_supported`).
//! A leaf: sessions, codes, refresh families and tokens all carry an [`Authentication`].
//!
//! The levels, lowest first: a password alone (`amr` `["pwd"]`), and a password with a
//! second factor (`["pwd", "otp", "mfa"]`). A recovery code counts as `otp`: it is a
//! one-time password the user holds apart from the password, and the audit trail tells
//! the two apart.

/// `acr` of a password-only sign-in.
pub const ACR_PWD: &str = "urn:gatehouse:acr:pwd";
/// `acr` of a sign-in with a password and a second factor.
pub const ACR_MFA: &str = "urn:gatehouse:acr:mfa";
/// Every `acr` issued, lowest first (discovery's `acr_values_supported`).
pub const ACR_VALUES: [&str; 2] = [ACR_PWD, ACR_MFA];

/// The assurance of a sign-in, ordered: a higher level satisfies a lower request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Password,
    MultiFactor,
}

impl Level {
    pub fn acr(self) -> &'static str {
        match self {
            Level::Password => ACR_PWD,
            Level::MultiFactor => ACR_MFA,
        }
    }

    pub fn from_acr(acr: &str) -> Option<Level> {
        match acr {
            ACR_PWD => Some(Level::Password),
            ACR_MFA => Some(Level::MultiFactor),
            _ => None,
        }
    }

    /// RFC 8176 method names, as stored (space-separated) and as the `amr` claim.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Level::Password => &["pwd"],
            Level::MultiFactor => &["pwd", "otp", "mfa"],
        }
    }

    /// The stored form of [`Level::amr`].
    pub fn stored_amr(self) -> String {
        self.amr().join(" ")
    }

    /// The level of a stored `amr`; anything without `mfa` (or nothing: a record older
    /// than the column) is a password sign-in.
    pub fn of_stored_amr(stored: Option<&str>) -> Level {
        match stored {
            Some(s) if s.split(' ').any(|m| m == "mfa") => Level::MultiFactor,
            _ => Level::Password,
        }
    }

    /// The least demanding level an `acr_values` request (OIDC Core §3.1.2.1: space-separated,
    /// in order of preference) accepts; values we do not issue are ignored, as `acr` is a
    /// voluntary claim. `None`: nothing we know was asked for.
    pub fn requested(acr_values: Option<&str>) -> Option<Level> {
        acr_values?.split(' ').filter_map(Level::from_acr).min()
    }
}

/// Whether a policy requires a second factor of a user: their own flag
/// (`user require-mfa`), `MFA_FOR_ADMINS` for an admin, or the flag of the client they sign
/// in to (`client require-mfa`).
pub fn mfa_required_by_policy(
    user_requires: bool,
    is_admin: bool,
    mfa_for_admins: bool,
    client_requires: bool,
) -> bool {
    user_requires || (is_admin && mfa_for_admins) || client_requires
}

/// When and how the user of a token signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authentication {
    /// Unix seconds of the sign-in (the last one that asked for a credential).
    pub auth_time: i64,
    pub level: Level,
}

impl Authentication {
    pub fn new(auth_time: i64, level: Level) -> Authentication {
        Authentication { auth_time, level }
    }

    pub fn amr(&self) -> Vec<String> {
        self.level.amr().iter().map(|m| m.to_string()).collect()
    }

    pub fn acr(&self) -> String {
        self.level.acr().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_met_by_its_least_demanding_known_value() {
        assert_eq!(Level::requested(None), None);
        assert_eq!(Level::requested(Some("urn:other gold")), None);
        assert_eq!(Level::requested(Some(ACR_MFA)), Some(Level::MultiFactor));
        let both = format!("{ACR_MFA} {ACR_PWD}");
        assert_eq!(Level::requested(Some(&both)), Some(Level::Password));
        assert!(Level::MultiFactor > Level::Password);
    }

    #[test]
    fn stored_methods_read_back_as_their_level() {
        for level in [Level::Password, Level::MultiFactor] {
            assert_eq!(Level::of_stored_amr(Some(&level.stored_amr())), level);
            assert_eq!(Level::from_acr(level.acr()), Some(level));
        }
        assert_eq!(Level::of_stored_amr(None), Level::Password);
        assert_eq!(Level::MultiFactor.stored_amr(), "pwd otp mfa");
    }
}
