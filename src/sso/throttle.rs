//! Login throttling per username (counted whether or not the user exists) and per client
//! address, in fixed windows stored in the database, so every instance counts together.
//! Every endpoint that takes a password (the login page, `/api/token/`, the password grant)
//! goes through [`check_password_guarded`].

use crate::accounts::LoginError;
use crate::db::repo::users::User;
use crate::db::{repo, Db, DbError};
use crate::keys::encryption::digest_hex;
use crate::passwords::{HashError, Password};
use crate::state::AppState;

/// Why a guarded password check did not yield a user.
#[derive(Debug, thiserror::Error)]
pub enum GuardedLoginError {
    #[error("invalid credentials")]
    BadCredentials,
    /// Too many recent failures for this username or this client address; the seconds to wait.
    #[error("too many failed sign-ins")]
    Throttled(i64),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// Checks a password unless the username or the client address is throttled; records a
/// failure in both windows, and clears the username's window on success. A throttled
/// attempt is refused before any hash, whether or not the account exists.
pub async fn check_password_guarded(
    state: &AppState,
    username: &str,
    password: Password,
    client_addr: &str,
    endpoint: &'static str,
) -> Result<User, GuardedLoginError> {
    let now = state.clock.now();
    let (user_limit, addr_limit) = state.settings.login_throttle;
    let buckets = vec![
        (user_bucket(username), user_limit),
        (addr_bucket(client_addr), addr_limit),
    ];
    let counted = windows(&state.db, buckets.clone(), now).await?;
    if let Some(wait) = retry_after(&buckets, &counted, now) {
        state.metrics.login_throttled(endpoint);
        return Err(GuardedLoginError::Throttled(wait));
    }
    match state.accounts.check_password(username, password).await {
        Ok(user) => {
            // A write only when there is something to forget: most sign-ins follow no failure.
            if counted.first().is_some_and(|(failures, _)| *failures > 0) {
                clear(&state.db, user_bucket(username)).await?;
            }
            Ok(user)
        }
        Err(LoginError::BadCredentials) => {
            record_failure(&state.db, buckets, now).await?;
            state.metrics.login_failed(endpoint);
            tracing::info!(endpoint, "sign-in failed");
            Err(GuardedLoginError::BadCredentials)
        }
        Err(LoginError::Db(e)) => Err(e.into()),
        Err(LoginError::Hash(e)) => Err(e.into()),
    }
}

/// `N/duration`, e.g. `5/15m`.
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
        let window = crate::config::parse_duration(window)?;
        if max_failures < 1 || window.is_zero() {
            return Err(format!("{s:?}: both parts must be positive"));
        }
        Ok(Limit {
            max_failures,
            window_secs: window.as_secs() as i64,
        })
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

/// Failures counted in each bucket's current window, with the window's end.
async fn windows(
    db: &Db,
    buckets: Vec<(String, Limit)>,
    now: i64,
) -> Result<Vec<(i32, i64)>, DbError> {
    db.run(move |conn| {
        buckets
            .iter()
            .map(|(bucket, limit)| repo::throttle::current(conn, bucket, now, limit.window_secs))
            .collect::<Result<Vec<_>, DbError>>()
    })
    .await
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

async fn record_failure(db: &Db, buckets: Vec<(String, Limit)>, now: i64) -> Result<(), DbError> {
    db.write(move |conn| {
        for (bucket, limit) in &buckets {
            repo::throttle::record_failure(conn, bucket, now, limit.window_secs)?;
        }
        Ok::<_, DbError>(())
    })
    .await
}

async fn clear(db: &Db, bucket: String) -> Result<(), DbError> {
    db.write(move |conn| repo::throttle::clear(conn, &bucket))
        .await
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
    }
}
