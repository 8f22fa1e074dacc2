//! Password reset links: one use case issues a link for a user (an admin's `reset-link`
//! today; the forgot-password mail later), one redeems it with a new password.
//!
//! The token is 256 random bits, stored only as its SHA-256 digest. A link is single-use
//! (one conditional `UPDATE`), a newer link, a password change or disabling the user voids
//! it, and it expires. Redeeming sets the password under the policy and ends every session
//! and refresh family of the user, in the transaction that spends the link. It never signs
//! the user in: the next sign-in goes through the login page, where a user with a second
//! factor must still pass it (the reset touches only the password).

use std::time::Duration;

use super::{AccountError, Accounts};
use crate::audit::{Event, Kind};
use crate::db::repo::users::User;
use crate::db::{repo, DbConn, DbError};
use crate::digest::{digest_hex, presented_token_digest, random_token};
use crate::domain::parse_duration;
use crate::passwords::{HashError, Password};

/// How long a link stays valid unless the admin says otherwise.
pub const DEFAULT_RESET_TTL: Duration = Duration::from_secs(30 * 60);
/// The longest validity an admin may give a link.
pub const MAX_RESET_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// A link just issued: the token exists nowhere else (the database holds its digest). No
/// `Debug`, so that no log line can print it.
pub struct ResetLink {
    pub token: String,
    pub expires_at: i64,
}

impl ResetLink {
    /// The page that redeems it, on the issuer's origin.
    pub fn url(&self, issuer: &str) -> String {
        format!("{issuer}/reset?token={}", self.token)
    }
}

/// Why a link cannot be used; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Never issued, truncated, altered, or its user deleted.
    #[error("unknown reset link")]
    Unknown,
    #[error("expired reset link")]
    Expired,
    #[error("used reset link")]
    Used,
    /// A newer link, a password change or the user's disabling voided it.
    #[error("voided reset link")]
    Voided,
    #[error("disabled account")]
    Disabled,
    /// The new password does not meet the policy (the reason, for the user); the link stays
    /// usable.
    #[error("{0}")]
    Password(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// `--ttl` / `"ttl"`: a duration between one second and [`MAX_RESET_TTL`]; by default
/// [`DEFAULT_RESET_TTL`].
fn reset_ttl(text: Option<&str>) -> Result<Duration, AccountError> {
    let Some(text) = text else {
        return Ok(DEFAULT_RESET_TTL);
    };
    let ttl = parse_duration(text).map_err(|e| AccountError::Invalid(format!("ttl: {e}")))?;
    if ttl.is_zero() || ttl > MAX_RESET_TTL {
        return Err(AccountError::Invalid(
            "ttl: must be longer than 0s and at most 7d".into(),
        ));
    }
    Ok(ttl)
}

/// The stored digest of a presented token; anything that is not a token's shape (43
/// base64url characters) is no link, and is not looked up.
fn stored_digest(token: &str) -> Result<String, ResetError> {
    presented_token_digest(token).ok_or(ResetError::Unknown)
}

/// The link's user while the link can be used, else why not.
fn usable_link(conn: &mut DbConn, digest: &str, now: i64) -> Result<User, ResetError> {
    let link = repo::resets::find(conn, digest)?.ok_or(ResetError::Unknown)?;
    let user = repo::users::find_by_id(conn, &link.user_id)?.ok_or(ResetError::Unknown)?;
    if user.disabled {
        Err(ResetError::Disabled)
    } else if link.used_at.is_some() {
        Err(ResetError::Used)
    } else if link.voided_at.is_some() {
        Err(ResetError::Voided)
    } else if link.expires_at <= now {
        Err(ResetError::Expired)
    } else {
        Ok(user)
    }
}

impl Accounts {
    /// A new link for `username`, valid for `ttl` (a duration, by default 30 minutes); the
    /// user's earlier links are voided.
    pub async fn issue_reset_link(
        &self,
        username: &str,
        ttl: Option<&str>,
    ) -> Result<ResetLink, AccountError> {
        let ttl = reset_ttl(ttl)?;
        let user = self.find_user(username).await?;
        if user.disabled {
            return Err(AccountError::Invalid(format!(
                "user {username} is disabled: enable them first"
            )));
        }
        let token = random_token();
        let digest = digest_hex(&token);
        let now = self.clock.now();
        let expires_at = now + ttl.as_secs() as i64;
        self.db
            .write(move |conn| {
                repo::resets::void_user_resets(conn, &user.id, now)?;
                repo::resets::insert(conn, &digest, &user.id, now, expires_at)
            })
            .await?;
        self.audit(
            Event::success(Kind::UserResetLinkIssued, username)
                .detail(format!("valid {}s", ttl.as_secs())),
        )
        .await;
        Ok(ResetLink { token, expires_at })
    }

    /// The user a link would reset, while it can be used (the page shows the form only then).
    pub async fn reset_link_user(&self, token: &str) -> Result<User, ResetError> {
        let digest = stored_digest(token)?;
        let now = self.clock.now();
        self.db
            .run(move |conn| usable_link(conn, &digest, now))
            .await
    }

    /// Spends the link and sets the password; returns the username. Of two concurrent
    /// redemptions exactly one succeeds; a refused password leaves the link usable.
    pub async fn redeem_reset_link(
        &self,
        token: &str,
        password: Password,
    ) -> Result<String, ResetError> {
        // A dead link is refused before the new password costs a hash.
        self.reset_link_user(token).await?;
        self.policy
            .check(password.expose())
            .map_err(ResetError::Password)?;
        let digest = stored_digest(token)?;
        let hash = self.hasher.hash(password).await?;
        let now = self.clock.now();
        let username = self
            .db
            .write(move |conn| {
                // Read inside the transaction that spends it: a link disabled or spent since
                // the check above is refused, and nothing is written.
                let user = usable_link(conn, &digest, now)?;
                if !repo::resets::spend(conn, &digest, now)? {
                    return Err(ResetError::Used);
                }
                repo::users::set_password_hash(conn, &user.id, &hash, now)?;
                repo::resets::void_user_resets(conn, &user.id, now)?;
                repo::refresh::revoke_user_families(conn, &user.id, "password reset", now)?;
                crate::sso::backchannel::end_user_sessions(conn, &user.id, now)?;
                Ok(user.username)
            })
            .await?;
        self.outbox.wake();
        self.audit(Event::success(Kind::UserPasswordReset, &username).detail("reset link"))
            .await;
        Ok(username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_token_shaped_value_is_looked_up() {
        let token = random_token();
        assert_eq!(stored_digest(&token).unwrap(), digest_hex(&token));
        for bad in [
            "",
            &token[..42],
            &format!("{token}A"),
            &token.replace(&token[..1], "+"),
        ] {
            assert!(
                matches!(stored_digest(bad), Err(ResetError::Unknown)),
                "{bad}"
            );
        }
    }

    #[test]
    fn ttl_is_bounded() {
        assert_eq!(reset_ttl(None).unwrap(), DEFAULT_RESET_TTL);
        assert_eq!(reset_ttl(Some("1h")).unwrap(), Duration::from_secs(3600));
        assert_eq!(reset_ttl(Some("7d")).unwrap(), MAX_RESET_TTL);
        for bad in ["0s", "8d", "soon", ""] {
            assert!(reset_ttl(Some(bad)).is_err(), "{bad}");
        }
    }
}
