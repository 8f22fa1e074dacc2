//! Login throttling per username (counted whether or not the user exists) and per client
//! address, in fixed windows stored in the database.

use crate::db::{repo, Db, DbError};

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

pub fn user_bucket(username: &str) -> String {
    format!(
        "user:{}",
        username
            .to_lowercase()
            .chars()
            .take(200)
            .collect::<String>()
    )
}

pub fn addr_bucket(addr: &str) -> String {
    format!("addr:{addr}")
}

/// When throttled: the seconds until the caller may try again.
pub async fn retry_after(
    db: &Db,
    buckets: Vec<(String, Limit)>,
    now: i64,
) -> Result<Option<i64>, DbError> {
    db.run(move |conn| {
        let mut wait = None;
        for (bucket, limit) in &buckets {
            let (failures, window_end) =
                repo::throttle::current(conn, bucket, now, limit.window_secs)?;
            if failures >= limit.max_failures {
                wait = Some(wait.unwrap_or(0).max(window_end - now).max(1));
            }
        }
        Ok::<_, DbError>(wait)
    })
    .await
}

pub async fn record_failure(
    db: &Db,
    buckets: Vec<(String, Limit)>,
    now: i64,
) -> Result<(), DbError> {
    db.write(move |conn| {
        for (bucket, limit) in &buckets {
            repo::throttle::record_failure(conn, bucket, now, limit.window_secs)?;
        }
        Ok::<_, DbError>(())
    })
    .await
}

pub async fn clear(db: &Db, bucket: String) -> Result<(), DbError> {
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
