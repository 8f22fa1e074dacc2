//! The failed-login guard: fixed windows per username (counted whether or not the user
//! exists) and per client address, stored in the database so every instance counts
//! together. Every surface that takes a password (the login page, `/api/token/`, the password
//! grant) checks it through [`LoginGuard::check_password`].

use std::sync::Arc;

use super::{Accounts, LoginError};
use crate::db::repo::users::User;
use crate::db::{repo, DbError};
use crate::domain::parse_duration;
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
}

impl PasswordSurface {
    pub fn label(self) -> &'static str {
        match self {
            PasswordSurface::LoginPage => "login_page",
            PasswordSurface::SimpleJwt => "simplejwt",
            PasswordSurface::PasswordGrant => "password_grant",
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

/// What the guard needs: the accounts it checks passwords against, its limits, the metrics.
#[derive(Clone)]
pub struct LoginGuard {
    pub accounts: Accounts,
    pub limits: LoginLimits,
    pub metrics: Arc<Metrics>,
}

impl LoginGuard {
    /// Checks a password unless the username or the client address is throttled; records a
    /// failure in both windows, and clears the username's window on success. A throttled
    /// attempt is refused before any hash, whether or not the account exists.
    pub async fn check_password(
        &self,
        username: &str,
        password: Password,
        client_addr: &str,
        surface: PasswordSurface,
    ) -> Result<User, GuardError> {
        let db = &self.accounts.db;
        let now = self.accounts.clock.now();
        let buckets = vec![
            (user_bucket(username), self.limits.per_username),
            (addr_bucket(client_addr), self.limits.per_address),
        ];
        let counted = {
            let buckets = buckets.clone();
            db.run(move |conn| {
                buckets
                    .iter()
                    .map(|(bucket, limit)| {
                        repo::throttle::current(conn, bucket, now, limit.window_secs)
                    })
                    .collect::<Result<Vec<_>, DbError>>()
            })
            .await?
        };
        if let Some(wait) = retry_after(&buckets, &counted, now) {
            self.metrics.login_throttled(surface.label());
            return Err(GuardError::Throttled(wait));
        }
        match self.accounts.check_password(username, password).await {
            Ok(user) => {
                // A write only when there is something to forget: most sign-ins follow no failure.
                if counted.first().is_some_and(|(failures, _)| *failures > 0) {
                    let bucket = user_bucket(username);
                    db.write(move |conn| repo::throttle::clear(conn, &bucket))
                        .await?;
                }
                Ok(user)
            }
            Err(LoginError::BadCredentials) => {
                db.write(move |conn| {
                    for (bucket, limit) in &buckets {
                        repo::throttle::record_failure(conn, bucket, now, limit.window_secs)?;
                    }
                    Ok::<_, DbError>(())
                })
                .await?;
                self.metrics.login_failed(surface.label());
                tracing::info!(endpoint = surface.label(), "sign-in failed");
                Err(GuardError::BadCredentials)
            }
            Err(LoginError::Db(e)) => Err(e.into()),
            Err(LoginError::Hash(e)) => Err(GuardError::Internal(e.into())),
        }
    }
}

/// The username's window, keyed by a digest: whatever was typed (a password in the wrong
/// field, a NUL byte PostgreSQL cannot store) never lands in the table as text.
pub fn user_bucket(username: &str) -> String {
    let folded: String = username.to_lowercase().chars().take(200).collect();
    format!("user:{}", digest_hex(&folded))
}

pub fn addr_bucket(addr: &str) -> String {
    format!("addr:{addr}")
}

/// When some bucket is full: the seconds until the caller may try again.
fn retry_after(buckets: &[(String, Limit)], windows: &[(i32, i64)], now: i64) -> Option<i64> {
    buckets
        .iter()
        .zip(windows)
        .filter(|((_, limit), (failures, _))| *failures >= limit.max_failures)
        .map(|(_, (_, window_end))| (window_end - now).max(1))
        .max()
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
}
