//! "Forgot password?": a request names a username or an address, and whoever it names, it
//! is answered the same and does the same work: its address's window is counted and the
//! request is written to the outbox ([`crate::mail::MailJob::ForgotPassword`]). Whether it
//! names an account, and whether that account gets a link, is decided off the request, when
//! the outbox delivers it ([`Accounts::reset_links_for_request`]): only an enabled account
//! with a verified address, within its own window, gets a single-use link (a newer one voids
//! the older), mailed to that address.
//!
//! The windows (`RESET_THROTTLE`, per account then per address) live in the failed-login
//! table, so every instance counts together; a request counts whether or not it names
//! anybody, so the per-address count tells nothing either.

use super::reset::{ResetLink, DEFAULT_RESET_TTL};
use super::Accounts;
use crate::audit::{self, Event, Kind};
use crate::db::repo::users::User;
use crate::db::{repo, DbConn, DbError};
use crate::digest::digest_hex;
use crate::digest::random_token;
use crate::domain::Username;
use crate::domain::{Limit, LoginLimits};
use crate::mail::{self, MailJob};

/// The default of `RESET_THROTTLE`: three links an hour per account, twenty requests an hour
/// per client address.
pub const DEFAULT_RESET_THROTTLE: &str = "3/1h,20/1h";

/// The most accounts one address may reach in one request.
const MAX_ACCOUNTS_PER_ADDRESS: i64 = 5;

/// A well-formed request: the identifier as typed (trimmed), or why the form is refused.
/// Judged on the text alone, so the refusal tells nothing about accounts.
pub fn parse_identifier(typed: &str) -> Result<String, &'static str> {
    let typed = typed.trim();
    if typed.is_empty() {
        Err("Enter your username or your email address.")
    } else if typed.len() > 254 || typed.chars().any(char::is_control) {
        Err("That is neither a username nor an email address.")
    } else {
        Ok(typed.to_string())
    }
}

/// The address bucket of the forgot-password window (apart from the sign-in windows).
fn addr_bucket(client_addr: &str) -> String {
    format!("reset-addr:{client_addr}")
}

fn account_bucket(user_id: &str) -> String {
    format!("reset-user:{user_id}")
}

/// A link made for a request, to mail. No `Debug`: it holds the token.
pub struct AddressedLink {
    pub username: String,
    pub email: String,
    pub link: ResetLink,
}

/// Why an account named by a request got no link (for the audit trail only).
fn refusal(user: &User) -> Option<&'static str> {
    if user.disabled {
        Some("not sent: account disabled")
    } else if user.email.is_none() {
        Some("not sent: no email address")
    } else if !user.email_verified {
        Some("not sent: email address not verified")
    } else {
        None
    }
}

impl Accounts {
    /// The request side: counts the address's window and, within it, writes the request to
    /// the outbox, in one transaction. The same work for every identifier.
    pub async fn request_password_reset(
        &self,
        identifier: String,
        client_addr: &str,
        limits: LoginLimits,
    ) -> Result<(), DbError> {
        let now = self.clock.now();
        let bucket = addr_bucket(client_addr);
        let Limit {
            max_failures,
            window_secs,
        } = limits.per_address;
        let job = MailJob::ForgotPassword { identifier };
        let queued = self
            .db
            .write(move |conn| {
                if !repo::throttle::reserve(conn, &bucket, now, window_secs, max_failures)? {
                    return Ok(false);
                }
                mail::enqueue(conn, &job, now)?;
                Ok::<_, DbError>(true)
            })
            .await?;
        if queued {
            self.mail_queued();
        } else {
            tracing::info!("forgot-password request throttled for its address");
            let event = Event {
                kind: Kind::PasswordResetRequested,
                outcome: audit::Outcome::Failure,
                subject: None,
                detail: Some("throttled: too many requests from this address".into()),
            };
            self.audit(event).await;
        }
        Ok(())
    }

    /// The delivery side: the accounts the identifier names (a username, or up to five
    /// accounts of an address), and for each enabled one with a verified address and room
    /// in its window, a new link (the older ones voided), valid for 30 minutes. Each account
    /// named is audited with what was done.
    pub async fn reset_links_for_request(
        &self,
        identifier: &str,
        limits: LoginLimits,
    ) -> Result<Vec<AddressedLink>, DbError> {
        let now = self.clock.now();
        let ttl = DEFAULT_RESET_TTL.as_secs() as i64;
        let by_name = Username::parse(identifier).ok().map(|n| n.to_string());
        let by_email = identifier.contains('@').then(|| {
            let mut both = vec![identifier.to_string(), identifier.to_lowercase()];
            both.dedup();
            both
        });
        let Limit {
            max_failures,
            window_secs,
        } = limits.per_username;
        let (links, events) = self
            .db
            .write(move |conn| {
                let users = named_users(conn, by_name.as_deref(), by_email.as_deref())?;
                let mut links = Vec::new();
                let mut events = Vec::new();
                for user in users {
                    if let Some(why) = refusal(&user) {
                        events.push(
                            Event::failure(Kind::PasswordResetRequested, &user.username)
                                .detail(why),
                        );
                        continue;
                    }
                    let bucket = account_bucket(&user.id);
                    if !repo::throttle::reserve(conn, &bucket, now, window_secs, max_failures)? {
                        events.push(
                            Event::failure(Kind::PasswordResetRequested, &user.username)
                                .detail("not sent: too many requests for this account"),
                        );
                        continue;
                    }
                    let token = random_token();
                    repo::resets::void_user_resets(conn, &user.id, now)?;
                    repo::resets::insert(conn, &digest_hex(&token), &user.id, now, now + ttl)?;
                    events.push(
                        Event::success(Kind::PasswordResetRequested, &user.username)
                            .detail("link mailed to the verified address"),
                    );
                    links.push(AddressedLink {
                        email: user.email.clone().unwrap_or_default(),
                        username: user.username,
                        link: ResetLink {
                            token,
                            expires_at: now + ttl,
                        },
                    });
                }
                Ok::<_, DbError>((links, events))
            })
            .await?;
        for event in events {
            self.audit(event).await;
        }
        Ok(links)
    }

    /// A link that could not be mailed gives its account's window back and is withdrawn, so
    /// a retry makes a fresh one and an outage does not use up the window.
    pub async fn withdraw_mailed_link(&self, link: &AddressedLink) -> Result<(), DbError> {
        let digest = digest_hex(&link.link.token);
        self.db
            .write(move |conn| {
                if let Some(row) = repo::resets::find(conn, &digest)? {
                    repo::resets::delete(conn, &digest)?;
                    repo::throttle::resolve(
                        conn,
                        &account_bucket(&row.user_id),
                        repo::throttle::Outcome::Released,
                    )?;
                }
                Ok(())
            })
            .await
    }
}

/// The users a request names: the username's, and those of the address.
fn named_users(
    conn: &mut DbConn,
    by_name: Option<&str>,
    by_email: Option<&[String]>,
) -> Result<Vec<User>, DbError> {
    let mut users = Vec::new();
    if let Some(name) = by_name {
        users.extend(repo::users::find_by_username(conn, name)?);
    }
    if let Some(emails) = by_email {
        for user in repo::users::find_by_emails(conn, emails, MAX_ACCOUNTS_PER_ADDRESS)? {
            if !users.iter().any(|u: &User| u.id == user.id) {
                users.push(user);
            }
        }
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_judged_on_its_text_alone() {
        assert_eq!(parse_identifier("  alice \n").unwrap(), "alice");
        assert_eq!(parse_identifier("a@b.example").unwrap(), "a@b.example");
        assert!(parse_identifier("   ").is_err());
        assert!(parse_identifier("al\0ice").is_err());
        assert!(parse_identifier("a@b.example\r\nBcc: x@y").is_err());
        assert!(parse_identifier(&"a".repeat(255)).is_err());
    }
}
