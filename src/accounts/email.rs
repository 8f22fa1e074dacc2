//! A user's email address and its verification. Setting or changing an address (CLI, admin
//! API, console) stores it unverified, voids the user's reset and verification links, and
//! writes a verification mail to the outbox in the same transaction (when mail is
//! configured); the old address, when it was verified, is told of the change. The account
//! page's own change (`own_email.rs`) asks for the current password first. The mail's link
//! (24 hours, single-use, stored as a digest, bound to the address) marks the address
//! verified only while the user still has it. `email_verified` in userinfo and id_tokens is
//! that flag; only a verified address receives reset links.
//!
//! Imported Django users keep their address unverified (Django records no such fact): an
//! operator who knows the addresses were confirmed marks them with
//! `gatehouse user email NAME ADDRESS --verified`, and otherwise each user confirms it.

use std::time::Duration;

use super::{valid_email, AccountError, Accounts};
use crate::audit::{Event, Kind};
use crate::db::repo::users::User;
use crate::db::{repo, DbConn, DbError};
use crate::digest::{digest_hex, presented_token_digest, random_token};
use crate::domain::Limit;
use crate::mail::{self, MailJob};

/// How long a verification link stays valid.
pub const VERIFY_TTL: Duration = Duration::from_secs(24 * 3600);

/// A verification link just made: the token exists nowhere else. No `Debug`.
pub struct VerificationLink {
    pub token: String,
    pub username: String,
    pub email: String,
}

impl VerificationLink {
    pub fn url(&self, issuer: &str) -> String {
        format!("{issuer}/verify-email?token={}", self.token)
    }
}

/// Why a verification link cannot be used; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("unknown verification link")]
    Unknown,
    #[error("expired verification link")]
    Expired,
    #[error("used verification link")]
    Used,
    /// A newer link was sent or the address changed since.
    #[error("voided verification link")]
    Voided,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What an admin asks of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The owner confirms it by following the mailed link.
    ByMail,
    /// The operator vouches for it (e.g. imported addresses Django's application confirmed).
    Vouched,
}

fn token_digest(token: &str) -> Result<String, VerifyError> {
    presented_token_digest(token).ok_or(VerifyError::Unknown)
}

/// The window of verification mails a user asks for (sent again, or an address of their
/// own changed), per account.
pub(crate) fn verification_bucket(user_id: &str) -> String {
    format!("verify-user:{user_id}")
}

/// Inside the caller's transaction: the verification mail of `user`'s new `email`.
pub(crate) fn queue_verification(
    conn: &mut DbConn,
    user_id: &str,
    email: &str,
    now: i64,
) -> Result<(), DbError> {
    let job = MailJob::VerifyEmail {
        user_id: user_id.to_string(),
        email: email.to_string(),
    };
    mail::enqueue(conn, &job, now)
}

/// Inside the caller's transaction: `user`'s address becomes `email` (unverified unless
/// vouched for, its verification mail queued when mail is on), the user's reset and
/// verification links are voided, and a verified address that is replaced or removed is
/// told so (mail on): the owner learns of a change they did not make.
pub(crate) fn replace_email(
    conn: &mut DbConn,
    user: &User,
    email: Option<&str>,
    verified: Verified,
    mail_on: bool,
    now: i64,
) -> Result<(), DbError> {
    repo::users::set_email(conn, &user.id, email, now)?;
    repo::resets::void_user_resets(conn, &user.id, now)?;
    repo::email_verifications::void_user_links(conn, &user.id, now)?;
    if let Some(email) = email {
        match verified {
            Verified::Vouched => {
                repo::users::mark_email_verified(conn, &user.id, email, now)?;
            }
            Verified::ByMail if mail_on => queue_verification(conn, &user.id, email, now)?,
            Verified::ByMail => {}
        }
    }
    match &user.email {
        Some(old) if mail_on && user.email_verified && Some(old.as_str()) != email => {
            let notice = MailJob::EmailChanged {
                user_id: user.id.clone(),
                username: user.username.clone(),
                old_email: old.clone(),
                removed: email.is_none(),
            };
            mail::enqueue(conn, &notice, now)
        }
        _ => Ok(()),
    }
}

impl Accounts {
    /// Sets, changes (`Some`) or removes (`None`) the user's address. A new address is
    /// unverified, and the verification mail is queued with it, unless the admin vouches for
    /// it; either way the user's reset and verification links are voided.
    pub async fn set_email(
        &self,
        username: &str,
        email: Option<String>,
        verified: Verified,
    ) -> Result<User, AccountError> {
        if let Some(e) = &email {
            if !valid_email(e) {
                return Err(AccountError::Invalid("email is not a valid address".into()));
            }
        }
        let user = self.find_user(username).await?;
        let now = self.clock.now();
        let mail_on = self.mail;
        let detail = match (&email, verified) {
            (None, _) => "removed",
            (Some(_), Verified::Vouched) => "set, verified by an admin",
            (Some(_), Verified::ByMail) if mail_on => "set, verification mailed",
            (Some(_), Verified::ByMail) => "set, unverified (no mail configured)",
        };
        self.db
            .write(move |conn| replace_email(conn, &user, email.as_deref(), verified, mail_on, now))
            .await?;
        self.mail_queued();
        self.audit(Event::success(Kind::UserEmailChanged, username).detail(detail))
            .await;
        self.find_user(username).await
    }

    /// Queues the verification mail of the user's current, unverified address again; with
    /// `limit` (the user's own request), at most that many per window for the account.
    pub async fn resend_verification(
        &self,
        username: &str,
        limit: Option<Limit>,
    ) -> Result<(), AccountError> {
        let user = self.find_user(username).await?;
        let email = match (&user.email, user.email_verified) {
            (None, _) => {
                return Err(AccountError::Invalid(format!(
                    "user {username} has no email address"
                )))
            }
            (Some(_), true) => {
                return Err(AccountError::Invalid(format!(
                    "the address of {username} is verified already"
                )))
            }
            (Some(e), false) => e.clone(),
        };
        if !self.mail {
            return Err(AccountError::Invalid(
                "no mail is configured (SMTP_URL): vouch for the address with --verified instead"
                    .into(),
            ));
        }
        let now = self.clock.now();
        let queued = self
            .db
            .write(move |conn| {
                if let Some(l) = limit {
                    let bucket = verification_bucket(&user.id);
                    if !repo::throttle::reserve(conn, &bucket, now, l.window_secs, l.max_failures)?
                    {
                        return Ok(false);
                    }
                }
                queue_verification(conn, &user.id, &email, now)?;
                Ok::<_, DbError>(true)
            })
            .await?;
        if !queued {
            return Err(AccountError::Invalid(
                "A link was sent several times already: look for it, or try again in an hour."
                    .into(),
            ));
        }
        self.mail_queued();
        Ok(())
    }

    /// The delivery side: a link for the user's address if it is still `email` and
    /// unverified (older links voided); `None` when there is nothing to confirm any more.
    pub async fn issue_verification_link(
        &self,
        user_id: &str,
        email: &str,
    ) -> Result<Option<VerificationLink>, DbError> {
        let now = self.clock.now();
        let ttl = VERIFY_TTL.as_secs() as i64;
        let (user_id, email) = (user_id.to_string(), email.to_string());
        self.db
            .write(move |conn| {
                let Some(user) = repo::users::find_by_id(conn, &user_id)? else {
                    return Ok(None);
                };
                if user.disabled || user.email_verified || user.email.as_deref() != Some(&email) {
                    return Ok(None);
                }
                let token = random_token();
                repo::email_verifications::void_user_links(conn, &user.id, now)?;
                repo::email_verifications::insert(
                    conn,
                    &digest_hex(&token),
                    &user.id,
                    &email,
                    now,
                    now + ttl,
                )?;
                Ok(Some(VerificationLink {
                    token,
                    username: user.username,
                    email,
                }))
            })
            .await
    }

    /// A link that could not be mailed is withdrawn (a retry makes a fresh one).
    pub async fn withdraw_verification_link(&self, link: &VerificationLink) -> Result<(), DbError> {
        let digest = digest_hex(&link.token);
        self.db
            .write(move |conn| repo::email_verifications::delete(conn, &digest).map(drop))
            .await
    }

    /// The address a link would confirm and its user's name, while it can be used (the page
    /// asks for a click first: a mail scanner fetching the link confirms nothing).
    pub async fn verification_link_target(
        &self,
        token: &str,
    ) -> Result<(String, String), VerifyError> {
        let digest = token_digest(token)?;
        let now = self.clock.now();
        self.db
            .run(move |conn| {
                let (_, user) = usable_link(conn, &digest, now)?;
                Ok((user.username, user.email.unwrap_or_default()))
            })
            .await
    }

    /// Spends the link and marks the address verified; returns the username.
    pub async fn verify_email(&self, token: &str) -> Result<String, VerifyError> {
        let digest = token_digest(token)?;
        let now = self.clock.now();
        let username = self
            .db
            .write(move |conn| {
                let (email, user) = usable_link(conn, &digest, now)?;
                if !repo::email_verifications::spend(conn, &digest, now)? {
                    return Err(VerifyError::Used);
                }
                repo::users::mark_email_verified(conn, &user.id, &email, now)?;
                Ok(user.username)
            })
            .await?;
        self.audit(Event::success(Kind::UserEmailVerified, &username).detail("link followed"))
            .await;
        Ok(username)
    }
}

/// The link's address and user while it can be used, else why not. A link for an address
/// the user no longer has, or for a disabled user, is void.
fn usable_link(conn: &mut DbConn, digest: &str, now: i64) -> Result<(String, User), VerifyError> {
    let link = repo::email_verifications::find(conn, digest)?.ok_or(VerifyError::Unknown)?;
    let user = repo::users::find_by_id(conn, &link.user_id)?.ok_or(VerifyError::Unknown)?;
    if link.used_at.is_some() {
        Err(VerifyError::Used)
    } else if link.voided_at.is_some()
        || user.disabled
        || user.email.as_deref() != Some(&link.email)
    {
        Err(VerifyError::Voided)
    } else if link.expires_at <= now {
        Err(VerifyError::Expired)
    } else {
        Ok((link.email, user))
    }
}
