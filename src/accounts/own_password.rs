//! A signed-in user changes their own password (the account page): the current password is
//! checked through the login guard (so it is throttled like a sign-in, counted before the
//! hash), the new one must meet the policy, and in one transaction the hash is replaced, the
//! user's reset links are voided, every refresh family is revoked and every session but the
//! one making the change is ended.

use super::login_guard::{GuardError, LoginGuard, PasswordSurface};
use super::Accounts;
use crate::audit::{Event, Kind};
use crate::db::repo::users::User;
use crate::db::{repo, DbError};
use crate::error::Internal;
use crate::passwords::Password;

/// Why a password change was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("the current password is not right")]
    WrongPassword,
    /// Too many recent failures for this user or address; the seconds to wait.
    #[error("too many failed attempts")]
    Throttled(i64),
    /// The new password does not meet the policy (the reason, for the user).
    #[error("{0}")]
    Policy(String),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<DbError> for ChangePasswordError {
    fn from(e: DbError) -> Self {
        ChangePasswordError::Internal(e.into())
    }
}

impl Accounts {
    /// Changes `user`'s password after checking `current`; `keep_session` (the digest of
    /// the session making the change) stays signed in, every other session ends.
    pub async fn change_own_password(
        &self,
        guard: &LoginGuard,
        user: &User,
        keep_session: &str,
        current: Password,
        new: Password,
        client_addr: &str,
    ) -> Result<(), ChangePasswordError> {
        // The policy first: a refused new password costs no hash and no guess.
        self.policy
            .check(new.expose())
            .map_err(ChangePasswordError::Policy)?;
        let checked = guard
            .check_password(
                &user.username,
                current,
                client_addr,
                PasswordSurface::AccountPage,
            )
            .await;
        match checked {
            Ok(same) if same.id == user.id => {}
            Ok(_) | Err(GuardError::BadCredentials) => {
                return Err(ChangePasswordError::WrongPassword)
            }
            Err(GuardError::Throttled(wait)) => return Err(ChangePasswordError::Throttled(wait)),
            Err(GuardError::Internal(e)) => return Err(e.into()),
        }
        let hash = self.hasher.hash(new).await.map_err(Internal::from)?;
        let now = self.clock.now();
        let (id, keep) = (user.id.clone(), keep_session.to_string());
        self.db
            .write(move |conn| {
                repo::users::set_password_hash(conn, &id, &hash, now)?;
                repo::resets::void_user_resets(conn, &id, now)?;
                repo::refresh::revoke_user_families(conn, &id, "password changed", now)?;
                repo::sessions::end_user_sessions_but(conn, &id, &keep, now)?;
                Ok::<_, DbError>(())
            })
            .await?;
        self.audit(
            Event::success(Kind::UserPasswordChanged, &user.username).detail("account page"),
        )
        .await;
        Ok(())
    }
}
