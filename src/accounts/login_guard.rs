//! The failed-login guard: fixed windows per username (counted whether or not the user
//! exists) and per client address, stored in the database so every instance counts
//! together. Every surface that takes a password (the login page, `/api/token/`, the password
//! grant) checks it through [`LoginGuard::check_password`].

pub mod second_factor;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::{Accounts, LoginError};
use crate::audit::{self, Event, Kind};
use crate::db::repo::throttle::Outcome;
use crate::db::repo::users::User;
use crate::db::{repo, DbConn, DbError};
use crate::digest::digest_hex;
use crate::domain::{Limit, LoginLimits};
use crate::error::Internal;
use crate::metrics::Metrics;
use crate::passwords::Password;

/// Where a password was presented, for the metrics and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSurface {
    LoginPage,
    SimpleJwt,
    PasswordGrant,
    /// The current password, asked again on the account page (not a sign-in).
    AccountPage,
}

impl PasswordSurface {
    pub fn label(self) -> &'static str {
        match self {
            PasswordSurface::LoginPage => "login_page",
            PasswordSurface::SimpleJwt => "simplejwt",
            PasswordSurface::PasswordGrant => "password_grant",
            PasswordSurface::AccountPage => "account_page",
        }
    }
}

/// Why a guarded password check yielded no user.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// Wrong password, unknown or disabled user: one answer for all.
    #[error("invalid credentials")]
    BadCredentials,
    /// Too many recent failures for this username or this client address; the seconds to wait.
    #[error("too many failed sign-ins")]
    Throttled(i64),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<DbError> for GuardError {
    fn from(e: DbError) -> Self {
        GuardError::Internal(e.into())
    }
}

/// What the guard needs: the accounts it checks passwords against, its limits, the metrics,
/// and the attempts of this instance waiting for a window's pending attempts to resolve.
#[derive(Clone)]
pub struct LoginGuard {
    pub accounts: Accounts,
    pub limits: LoginLimits,
    pub metrics: Arc<Metrics>,
    pub waiting: Arc<Waiting>,
}

/// How long an attempt waits for a window that is full of pending (not failed) attempts.
const MAX_WAIT: Duration = Duration::from_secs(10);
/// How often a waiting attempt looks again without being woken (another instance's attempts
/// resolve without waking anybody here).
const RECHECK: Duration = Duration::from_millis(250);

impl LoginGuard {
    pub fn new(accounts: Accounts, limits: LoginLimits, metrics: Arc<Metrics>) -> LoginGuard {
        LoginGuard {
            accounts,
            limits,
            metrics,
            waiting: Arc::new(Waiting::default()),
        }
    }

    /// Checks a password unless the username or the client address is throttled. The
    /// attempt is reserved in both windows before the hash: refused (before any hash, whether
    /// or not the account exists) when a window holds its limit of failures, queued while it
    /// holds its limit of failures and pending attempts together. A wrong password turns the
    /// reservation into a failure; a right one clears the username's window and gives the
    /// address's back.
    pub async fn check_password(
        &self,
        username: &str,
        password: Password,
        client_addr: &str,
        surface: PasswordSurface,
    ) -> Result<User, GuardError> {
        let buckets = [
            (user_bucket(username), self.limits.per_username),
            (addr_bucket(client_addr), self.limits.per_address),
        ];
        if let Err(wait) = self.reserve_waiting(&buckets).await? {
            self.metrics.login_throttled(surface.label());
            let event = Event {
                kind: Kind::SignInThrottled,
                outcome: audit::Outcome::Failure,
                subject: None,
                detail: Some(surface.label().into()),
            };
            audit::record(&self.accounts.db, &self.accounts.clock, event).await;
            return Err(GuardError::Throttled(wait));
        }
        let checked = self.accounts.check_password(username, password).await;
        let (user_outcome, addr_outcome) = match &checked {
            Ok(_) => (Outcome::Cleared, Outcome::Released),
            Err(LoginError::BadCredentials { .. }) => (Outcome::Failed, Outcome::Failed),
            Err(_) => (Outcome::Released, Outcome::Released),
        };
        self.resolve(&buckets, [user_outcome, addr_outcome]).await?;
        let (db, clock) = (&self.accounts.db, &self.accounts.clock);
        match checked {
            Ok(found) => {
                if surface != PasswordSurface::AccountPage {
                    let event =
                        Event::success(Kind::SignIn, &found.username).detail(surface.label());
                    audit::record(db, clock, event).await;
                }
                Ok(found)
            }
            Err(LoginError::BadCredentials { account }) => {
                self.metrics.login_failed(surface.label());
                tracing::info!(endpoint = surface.label(), "sign-in failed");
                let event = Event {
                    kind: Kind::SignIn,
                    outcome: audit::Outcome::Failure,
                    subject: account,
                    detail: Some(surface.label().into()),
                };
                audit::record(db, clock, event).await;
                Err(GuardError::BadCredentials)
            }
            Err(LoginError::Db(e)) => Err(e.into()),
            Err(LoginError::Hash(e)) => Err(GuardError::Internal(e.into())),
        }
    }

    /// Resolves the reservations of one attempt and wakes an attempt waiting for each window.
    pub(super) async fn resolve(
        &self,
        buckets: &[(String, Limit); 2],
        outcomes: [Outcome; 2],
    ) -> Result<(), DbError> {
        let resolved: Vec<(String, Outcome)> = buckets
            .iter()
            .zip(outcomes)
            .map(|((bucket, _), outcome)| (bucket.clone(), outcome))
            .collect();
        self.accounts
            .db
            .write(move |conn| {
                for (bucket, outcome) in &resolved {
                    repo::throttle::resolve(conn, bucket, *outcome)?;
                }
                Ok::<_, DbError>(())
            })
            .await?;
        for (bucket, _) in buckets {
            self.waiting.wake(bucket);
        }
        Ok(())
    }

    /// Reserves, waiting while a window is full of pending attempts: `Err(seconds)` when a
    /// window is full of failures (or stayed full too long).
    pub(super) async fn reserve_waiting(
        &self,
        buckets: &[(String, Limit); 2],
    ) -> Result<Result<(), i64>, DbError> {
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            let busy = match self.reserve(buckets).await? {
                Reservation::Made => return Ok(Ok(())),
                Reservation::Throttled(wait) => return Ok(Err(wait)),
                Reservation::Busy(bucket) => bucket,
            };
            if tokio::time::Instant::now() >= deadline {
                return Ok(Err(1));
            }
            let woken = self.waiting.notify_for(&busy);
            let _ = tokio::time::timeout(RECHECK, woken.notified()).await;
        }
    }

    /// Reserves one attempt in every window, all or none.
    async fn reserve(&self, buckets: &[(String, Limit); 2]) -> Result<Reservation, DbError> {
        let now = self.accounts.clock.now();
        let buckets = buckets.clone();
        let outcome = self
            .accounts
            .db
            .write(move |conn| {
                for (bucket, limit) in &buckets {
                    let (window, max) = (limit.window_secs, limit.max_failures);
                    if !repo::throttle::reserve(conn, bucket, now, window, max)? {
                        let current = repo::throttle::current(conn, bucket, now, window)?;
                        // Returned as an error, so what this attempt reserved in the other
                        // window rolls back.
                        return Err(if current.failures >= max {
                            Refused::Throttled((current.ends_at - now).max(1))
                        } else {
                            Refused::Busy(bucket.clone())
                        });
                    }
                }
                Ok(())
            })
            .await;
        match outcome {
            Ok(()) => Ok(Reservation::Made),
            Err(Refused::Throttled(wait)) => Ok(Reservation::Throttled(wait)),
            Err(Refused::Busy(bucket)) => Ok(Reservation::Busy(bucket)),
            Err(Refused::Db(e)) => Err(e),
        }
    }
}

enum Reservation {
    Made,
    /// A window holds its limit of failures: the seconds until it ends.
    Throttled(i64),
    /// A window is full of pending attempts; wait for one to resolve.
    Busy(String),
}

/// Why a reservation transaction rolled back.
enum Refused {
    Throttled(i64),
    Busy(String),
    Db(DbError),
}

impl From<DbError> for Refused {
    fn from(e: DbError) -> Self {
        Refused::Db(e)
    }
}

/// Attempts of this instance waiting for a window, by bucket: each resolved attempt wakes
/// one of them, instead of all of them retrying at once.
#[derive(Default)]
pub struct Waiting(std::sync::Mutex<HashMap<String, Weak<Notify>>>);

impl Waiting {
    fn notify_for(&self, bucket: &str) -> Arc<Notify> {
        let mut map = match self.0.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(n) = map.get(bucket).and_then(Weak::upgrade) {
            return n;
        }
        if map.len() > 1024 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let n = Arc::new(Notify::new());
        map.insert(bucket.to_string(), Arc::downgrade(&n));
        n
    }

    fn wake(&self, bucket: &str) {
        let map = match self.0.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(n) = map.get(bucket).and_then(Weak::upgrade) {
            n.notify_one();
        }
    }
}

/// The username's window, keyed by a digest: whatever was typed (a password in the wrong
/// field, a NUL byte PostgreSQL cannot store) never lands in the table as text.
pub fn user_bucket(username: &str) -> String {
    let folded: String = username.to_lowercase().chars().take(200).collect();
    format!("user:{}", digest_hex(&folded))
}

/// The address's window. IPv6 clients are grouped by their /64: one host usually holds a
/// whole /64, so counting each address apart would give an attacker 2^64 windows.
pub fn addr_bucket(addr: &str) -> String {
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("addr:{}/64", std::net::Ipv6Addr::from(prefix))
        }
        _ => format!("addr:{addr}"),
    }
}

/// The wait, when one of the windows already holds its limit of failures (read only).
pub(super) fn full_window(
    conn: &mut DbConn,
    buckets: &[(String, Limit); 2],
    now: i64,
) -> Result<Option<i64>, DbError> {
    let lengths = buckets
        .each_ref()
        .map(|(bucket, limit)| (bucket.as_str(), limit.window_secs));
    let windows = repo::throttle::current_pair(conn, lengths, now)?;
    Ok(windows
        .iter()
        .zip(buckets)
        .find(|(window, (_, limit))| window.failures >= limit.max_failures)
        .map(|(window, _)| (window.ends_at - now).max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_share_the_window_of_their_64() {
        assert_eq!(
            addr_bucket("2001:db8:1:2:aaaa::1"),
            addr_bucket("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_eq!(addr_bucket("2001:db8:1:2::7"), "addr:2001:db8:1:2::/64");
        assert_ne!(
            addr_bucket("2001:db8:1:2::1"),
            addr_bucket("2001:db8:1:3::1")
        );
        assert_eq!(addr_bucket("192.0.2.7"), "addr:192.0.2.7");
        assert_ne!(addr_bucket("192.0.2.7"), addr_bucket("192.0.2.8"));
    }
}
