//! The failed-login guard: fixed windows per username (counted whether or not the user
//! exists) and per client address, stored in the database so every instance counts
//! together. Every surface that takes a password (the login page, `/api/token/`, the password
//! grant) checks it through [`LoginGuard::check_password`].

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::clients::{judge_client, Client, ClientAuthError};
use super::{Accounts, LoginError};
use crate::audit::{self, Event, Kind};
use crate::db::repo::throttle::Outcome;
use crate::db::repo::users::User;
use crate::db::{repo, DbConn, DbError};
use crate::domain::{parse_duration, ClientId};
use crate::error::Internal;
use crate::keys::encryption::digest_hex;
use crate::metrics::Metrics;
use crate::passwords::Password;

/// `N/duration`, e.g. `5/15m`: at most N failures per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_failures: i32,
    pub window_secs: i64,
}

impl Limit {
    pub fn parse(s: &str) -> Result<Limit, String> {
        let (n, window) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not like 5/15m"))?;
        let max_failures = n
            .trim()
            .parse::<i32>()
            .map_err(|_| format!("{s:?} is not like 5/15m"))?;
        let window = parse_duration(window)?;
        if max_failures < 1 || window.is_zero() {
            return Err(format!("{s:?}: both parts must be positive"));
        }
        Ok(Limit {
            max_failures,
            window_secs: window.as_secs() as i64,
        })
    }
}

/// The windows of `LOGIN_THROTTLE`: per username, then per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_username: Limit,
    pub per_address: Limit,
}

impl LoginLimits {
    /// `5/15m,50/15m` (username, then address), or one limit for both.
    pub fn parse(text: &str) -> Result<LoginLimits, String> {
        let limits = text
            .split(',')
            .map(|s| Limit::parse(s.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        match limits.as_slice() {
            [both] => Ok(LoginLimits {
                per_username: *both,
                per_address: *both,
            }),
            [user, addr] => Ok(LoginLimits {
                per_username: *user,
                per_address: *addr,
            }),
            _ => Err("give N/window for the username, then for the address".into()),
        }
    }
}

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

    /// Checks a client's secret under windows like those of passwords (RFC 6819 §5.2.3.7:
    /// guessing client credentials is throttled too): per client and client address (with the
    /// per-username limit), and per address (with the per-address limit). Keyed by client and
    /// address rather than by client alone, because client ids are public (they are in every
    /// authorization URL): a window per client would let anyone lock a client out. The windows
    /// are apart from the password windows, so a misconfigured backend never throttles the
    /// sign-ins of the people behind the same address. An unknown client goes through the same
    /// windows and the same digest as a wrong secret, so neither answer nor timing tells them
    /// apart. A bare `client_id` (a public client) guesses nothing and takes no window.
    pub async fn check_client_secret(
        &self,
        client_id: &str,
        secret: Option<&str>,
        client_addr: &str,
    ) -> Result<Client, ClientAuthError> {
        // No secret (a public client), or an id no client can have: nobody's secret is being
        // guessed, so no window is spent on it.
        let Some(secret) = secret.filter(|_| ClientId::parse_stored(client_id).is_ok()) else {
            return self.accounts.authenticate_client(client_id, secret).await;
        };
        let buckets = [
            (
                client_bucket(client_id, client_addr),
                self.limits.per_username,
            ),
            (client_addr_bucket(client_addr), self.limits.per_address),
        ];
        // Unlike a password, a secret is checked in microseconds (a digest compare), so it
        // is checked first: a right one only reads the windows (no write on the hot path of
        // every confidential client), and only a wrong one reserves and records a failure.
        // The reservation is atomic, so parallel wrong guesses still cannot overshoot.
        // The client and its windows are read in one trip to a blocking thread.
        let now = self.accounts.clock.now();
        let (lookup, windows) = (client_id.to_string(), buckets.clone());
        let (client, full) = self
            .accounts
            .db
            .run(move |conn| {
                let client = repo::clients::find(conn, &lookup)?;
                Ok::<_, DbError>((client, full_window(conn, &windows, now)?))
            })
            .await
            .map_err(Internal::from)?;
        let checked = judge_client(client, Some(secret));
        // `judge_client` fails only with `Failed`: the database errors ended above.
        let refused = match &checked {
            Ok(_) => full,
            Err(_) => {
                let reserved = self
                    .reserve_waiting(&buckets)
                    .await
                    .map_err(Internal::from)?;
                if reserved.is_ok() {
                    self.resolve(&buckets, [Outcome::Failed, Outcome::Failed])
                        .await
                        .map_err(Internal::from)?;
                    self.metrics.login_failed(CLIENT_SECRET);
                }
                reserved.err()
            }
        };
        if let Some(wait) = refused {
            self.metrics.login_throttled(CLIENT_SECRET);
            let event = Event {
                kind: Kind::SignInThrottled,
                outcome: audit::Outcome::Failure,
                subject: None,
                detail: Some(CLIENT_SECRET.into()),
            };
            audit::record(&self.accounts.db, &self.accounts.clock, event).await;
            return Err(ClientAuthError::Throttled(wait));
        }
        checked
    }

    /// Resolves the reservations of one attempt and wakes an attempt waiting for each window.
    async fn resolve(
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
    async fn reserve_waiting(
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

/// The label of client-secret checks in the metrics and the audit trail.
const CLIENT_SECRET: &str = "client_secret";

/// A client's window at one address (see [`LoginGuard::check_client_secret`]), keyed by a
/// digest like the username's.
pub fn client_bucket(client_id: &str, addr: &str) -> String {
    let key = format!(
        "{}\n{}",
        client_id.chars().take(200).collect::<String>(),
        addr_bucket(addr)
    );
    format!("client:{}", digest_hex(&key))
}

/// The address's window for client secrets, apart from its window for passwords.
pub fn client_addr_bucket(addr: &str) -> String {
    format!("client-{}", addr_bucket(addr))
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
fn full_window(
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
    fn limits_parse() {
        assert_eq!(
            Limit::parse("5/15m"),
            Ok(Limit {
                max_failures: 5,
                window_secs: 900
            })
        );
        assert!(Limit::parse("0/15m").is_err());
        assert!(Limit::parse("five").is_err());
        let both = LoginLimits::parse("5/15m, 50/1h").unwrap();
        assert_eq!(both.per_address.window_secs, 3600);
        assert_eq!(
            LoginLimits::parse("3/1m").unwrap().per_address.max_failures,
            3
        );
        assert!(LoginLimits::parse("1/1m,2/2m,3/3m").is_err());
    }

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
