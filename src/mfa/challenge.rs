//! The second step of a sign-in. After the right password, a user with a second factor gets
//! no session and no tokens but a challenge: 256 random bits, stored as a digest, bound to
//! the user and to the surface that issued it (the login page or `/api/token/`), usable
//! once, for [`CHALLENGE_TTL`]. Completing it takes a code of the app or a recovery code,
//! checked through the guard; the challenge is spent by a conditional `UPDATE`.

use zeroize::Zeroizing;

use super::recovery;
use super::totp;
use super::{Mfa, MfaError};
use crate::accounts::login_guard::{GuardError, PasswordSurface};
use crate::accounts::User;
use crate::db::repo::factors;
use crate::db::{repo, DbError};
use crate::digest::digest_hex;
use crate::digest::random_token;
use crate::passwords::Password;

/// Minutes, not more: the user has just typed the password.
pub const CHALLENGE_TTL: i64 = 5 * 60;

/// What the right password leads to.
pub enum PasswordStep {
    /// No second factor: signed in.
    Done(User),
    /// A second factor is due: the challenge to complete it with. No `Debug`.
    SecondFactor {
        user: User,
        token: Zeroizing<String>,
    },
}

/// Which factor completed a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    Totp,
    /// A recovery code, with how many remain.
    RecoveryCode {
        left: i64,
    },
}

/// Why a challenge was not completed; the challenge is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    /// Unknown, altered, expired, used, or issued elsewhere.
    #[error("the sign-in step is not valid; sign in again")]
    Invalid,
    #[error(transparent)]
    Factor(#[from] MfaError),
}

impl From<DbError> for ChallengeError {
    fn from(e: DbError) -> Self {
        ChallengeError::Factor(e.into())
    }
}

/// The stored digest of a presented challenge, if it has a token's shape (43 base64url
/// characters); anything else is not looked up.
fn stored_digest(token: &str) -> Option<String> {
    let shaped = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    shaped.then(|| digest_hex(token))
}

impl Mfa {
    /// The password (through the guard), then either the user or a challenge.
    pub async fn password_step(
        &self,
        username: &str,
        password: Password,
        client_addr: &str,
        surface: PasswordSurface,
    ) -> Result<PasswordStep, GuardError> {
        let user = self
            .guard
            .check_password(username, password, client_addr, surface)
            .await?;
        if !self.has_second_factor(&user.id).await? {
            return Ok(PasswordStep::Done(user));
        }
        let token = self.new_challenge(&user, surface).await?;
        Ok(PasswordStep::SecondFactor { user, token })
    }

    async fn new_challenge(
        &self,
        user: &User,
        surface: PasswordSurface,
    ) -> Result<Zeroizing<String>, DbError> {
        let token = Zeroizing::new(random_token());
        let (digest, id, label) = (digest_hex(&token), user.id.clone(), surface.label());
        let now = self.clock.now();
        self.db
            .write(move |conn| {
                factors::insert_challenge(conn, &digest, &id, label, now, now + CHALLENGE_TTL)
            })
            .await?;
        Ok(token)
    }

    /// A step-up of a live session of `user` (signed in with the password alone, which the
    /// session proves): the login page's second step, without the password again.
    pub async fn step_up_challenge(&self, user: &User) -> Result<Zeroizing<String>, DbError> {
        self.new_challenge(user, PasswordSurface::LoginPage).await
    }

    /// The user a live challenge of `surface` is for (the form of the second step names
    /// them).
    pub async fn challenge_user(
        &self,
        token: &str,
        surface: PasswordSurface,
    ) -> Result<User, ChallengeError> {
        let digest = stored_digest(token).ok_or(ChallengeError::Invalid)?;
        let (label, now) = (surface.label(), self.clock.now());
        let user = self
            .db
            .run(move |conn| {
                let Some(id) = factors::live_challenge_user(conn, &digest, label, now)? else {
                    return Ok(None);
                };
                repo::users::find_by_id(conn, &id)
            })
            .await?;
        user.filter(|u| !u.disabled).ok_or(ChallengeError::Invalid)
    }

    /// Completes a challenge with a code of the app (six digits) or a recovery code.
    pub async fn complete_challenge(
        &self,
        token: &str,
        surface: PasswordSurface,
        code: &str,
        client_addr: &str,
    ) -> Result<(User, Completed), ChallengeError> {
        let user = self.challenge_user(token, surface).await?;
        let completed = if totp::parse_code(code).is_some() {
            self.check_totp(&user, code, client_addr).await?;
            Completed::Totp
        } else if recovery::normalise(code).is_some() {
            let left = self.use_recovery_code(&user, code, client_addr).await?;
            Completed::RecoveryCode { left }
        } else {
            return Err(MfaError::Malformed.into());
        };
        let digest = stored_digest(token).ok_or(ChallengeError::Invalid)?;
        let now = self.clock.now();
        let spent = self
            .db
            .write(move |conn| factors::spend_challenge(conn, &digest, now))
            .await?;
        if !spent {
            return Err(ChallengeError::Invalid);
        }
        Ok((user, completed))
    }
}
