//! A signed-in user changes their own address (the account page): the current password is
//! checked through the login guard like a password change (throttled like a sign-in), the
//! new address must be one the admin API would take, and then in one transaction it is
//! stored unverified, the user's reset and verification links are voided, its verification
//! mail is queued and the old verified address is told ([`super::email::replace_email`]).
//! Until its link is followed the new address receives no reset link. Each change mails a
//! link, so changes count in the account's window of verification mails (`RESET_THROTTLE`'s
//! per-account limit, shared with "send the link again"): a signed-in user cannot turn the
//! form into a way of mailing strangers.

use super::email::{replace_email, Verified};
use super::login_guard::{GuardError, LoginGuard, PasswordSurface};
use super::{valid_email, Accounts};
use crate::audit::{Event, Kind};
use crate::db::repo::users::User;
use crate::db::{repo, DbError};
use crate::domain::Limit;
use crate::error::Internal;
use crate::passwords::Password;

/// Why an address change was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeEmailError {
    #[error("the current password is not right")]
    WrongPassword,
    /// Too many recent failures for this user or address; the seconds to wait.
    #[error("too many failed attempts")]
    Throttled(i64),
    /// Not an address, or the one the user has (the reason, for the user).
    #[error("{0}")]
    Invalid(String),
    /// The account's window of verification mails is full; the seconds it lasts.
    #[error("too many address changes")]
    TooMany(i64),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<DbError> for ChangeEmailError {
    fn from(e: DbError) -> Self {
        ChangeEmailError::Internal(e.into())
    }
}

impl Accounts {
    /// Changes `user`'s address to `new` after checking `current`, at most `limit` a
    /// window (with the link sent again).
    pub async fn change_own_email(
        &self,
        guard: &LoginGuard,
        user: &User,
        current: Password,
        new: String,
        client_addr: &str,
        limit: Limit,
    ) -> Result<(), ChangeEmailError> {
        // The address first: a refused one costs no hash and no guess.
        if !valid_email(&new) {
            return Err(ChangeEmailError::Invalid(
                "That is not an email address.".into(),
            ));
        }
        if user.email.as_deref() == Some(new.as_str()) {
            return Err(ChangeEmailError::Invalid(
                "That is your address already.".into(),
            ));
        }
        let checked = guard
            .check_password(
                &user.username,
                current,
                client_addr,
                PasswordSurface::AccountPage,
            )
            .await;
        let user = match checked {
            Ok(same) if same.id == user.id => same,
            Ok(_) | Err(GuardError::BadCredentials) => return Err(ChangeEmailError::WrongPassword),
            Err(GuardError::Throttled(wait)) => return Err(ChangeEmailError::Throttled(wait)),
            Err(GuardError::Internal(e)) => return Err(e.into()),
        };
        let now = self.clock.now();
        let mail_on = self.mail;
        let username = user.username.clone();
        let changed = self
            .db
            .write(move |conn| {
                let bucket = super::email::verification_bucket(&user.id);
                if !repo::throttle::reserve(
                    conn,
                    &bucket,
                    now,
                    limit.window_secs,
                    limit.max_failures,
                )? {
                    return Ok(false);
                }
                replace_email(conn, &user, Some(&new), Verified::ByMail, mail_on, now)?;
                Ok::<_, DbError>(true)
            })
            .await?;
        if !changed {
            return Err(ChangeEmailError::TooMany(limit.window_secs));
        }
        self.mail_queued();
        let detail = if mail_on {
            "account page, verification mailed"
        } else {
            "account page, unverified (no mail configured)"
        };
        self.audit(Event::success(Kind::UserEmailChanged, &username).detail(detail))
            .await;
        Ok(())
    }
}
