//! Database access: one diesel code path for SQLite and PostgreSQL.
//!
//! The backend is chosen from the URL scheme (never by trial: SQLite accepts any path), and
//! every query runs on tokio's blocking pool, never on an actix worker thread.

pub mod alg;
pub mod batched;
pub mod migrate;
pub mod pool;
pub mod repo;
pub mod schema;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use crate::error::Internal;
use pool::{Pool, PooledConn};

/// A parsed `GATEHOUSE_DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A file path (relative to the working directory when relative).
    Sqlite(String),
    /// A full `postgres://` URL, handed to libpq unchanged.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    // A PostgreSQL URL can carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{path}"),
            DatabaseUrl::Postgres(_) => write!(f, "postgres://[REDACTED]"),
        }
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// URL has no path".into());
            }
            Ok(DatabaseUrl::Sqlite(path.to_string()))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(s.to_string()))
        } else {
            Err("database URL must start with sqlite:// or postgres://".into())
        }
    }
}

impl DatabaseUrl {
    pub fn is_sqlite(&self) -> bool {
        matches!(self, DatabaseUrl::Sqlite(_))
    }

    /// The URL to show an operator: a PostgreSQL URL without its password (in the user
    /// part or a `password=` parameter), everything else as given.
    pub fn redacted(&self) -> String {
        let url = match self {
            DatabaseUrl::Sqlite(path) => return format!("sqlite://{path}"),
            DatabaseUrl::Postgres(url) => url,
        };
        let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let host_end = rest.find('/').unwrap_or(rest.len());
        let rest = match rest[..host_end].rfind('@') {
            Some(at) => {
                let user = rest[..at].split(':').next().unwrap_or_default();
                format!("{user}@{}", &rest[at + 1..])
            }
            None => rest.to_string(),
        };
        let query = query.map(|q| {
            q.split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[REDACTED]"),
                    _ => p.to_string(),
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        match query {
            Some(q) => format!("{scheme}://{rest}?{q}"),
            None => format!("{scheme}://{rest}"),
        }
    }
}

#[cfg(test)]
mod url_tests {
    use super::DatabaseUrl;

    #[test]
    fn a_shown_database_url_has_no_password() {
        let show = |s: &str| s.parse::<DatabaseUrl>().unwrap().redacted();
        assert_eq!(
            show("postgres://gate:s3cret@db.internal:5432/gatehouse?sslmode=require"),
            "postgres://gate@db.internal:5432/gatehouse?sslmode=require"
        );
        assert_eq!(
            show("postgresql://db/g?user=u&password=s3cret"),
            "postgresql://db/g?user=u&password=[REDACTED]"
        );
        assert_eq!(show("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(show("sqlite://data/g.db"), "sqlite://data/g.db");
    }
}

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// PostgreSQL's messages for a server that is stopping, crashing or not yet started
/// (SQLSTATE class 57P; the messages of the default `lc_messages`).
fn is_server_going_away(message: &str) -> bool {
    [
        "terminating connection due to administrator command",
        "terminating connection because of crash of another server process",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "server closed the connection unexpectedly",
    ]
    .iter()
    .any(|known| message.starts_with(known))
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had in time: the database is down or saturated (HTTP 503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("conflicting row")]
    Conflict,
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("blocking task failed: {0}")]
    Join(String),
    /// The query of a batch of reads failed (see [`batched`]); each reader gets the message.
    #[error("batched read failed: {0}")]
    Batch(String),
}

impl From<DbError> for Internal {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            Internal::Unavailable(Box::new(e))
        } else {
            Internal::Broken(Box::new(e))
        }
    }
}

impl DbError {
    pub fn from_diesel(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => DbError::Conflict,
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | Error::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _) => {
                DbError::Unavailable(e.to_string())
            }
            // SQLITE_BUSY after `busy_timeout`: another process holds the write lock (diesel
            // reports SQLite's own message, not the code). Trying again later helps: a 503.
            Error::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if info.message().starts_with("database is locked") =>
            {
                DbError::Unavailable(e.to_string())
            }
            // PostgreSQL going down under a pooled connection: the server's last message
            // arrives before the socket closes, and diesel reports it as an unknown error
            // (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
            Error::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if is_server_going_away(info.message()) =>
            {
                DbError::Unavailable(e.to_string())
            }
            other => DbError::Query(other),
        }
    }

    /// The database cannot be reached or used now; the request may be retried later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DbError::Unavailable(_))
    }
}

/// Handle to the pool; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    url: DatabaseUrl,
}

impl Db {
    /// Builds the pool lazily (no connection is made here), so a server can start, report
    /// itself unready, and recover when the database comes back.
    pub fn new(url: &DatabaseUrl, size: u32, timeout: Duration) -> Result<Db, DbError> {
        if let DatabaseUrl::Sqlite(path) = url {
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        DbError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
            }
        }
        Ok(Db {
            pool: Pool::new(url, size, timeout),
            url: url.clone(),
        })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn state(&self) -> diesel::r2d2::State {
        self.pool.state()
    }

    pub fn max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// Whether the database is known to be down (the outage breaker is open).
    pub fn known_down(&self) -> bool {
        self.pool.health().is_down()
    }

    /// Checks a live connection out on the current (blocking) thread (see [`pool`]).
    pub fn get(&self) -> Result<PooledConn, DbError> {
        self.pool.get_within(Duration::MAX)
    }

    /// Whether the database answers `SELECT 1` within `wait` (for `/readyz`, which must
    /// answer quickly even when the database is gone).
    pub async fn answers_within(&self, wait: Duration) -> bool {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || match pool.get_within(wait) {
            Ok(mut pooled) => pooled.probe(),
            Err(_) => false,
        })
        .await
        .unwrap_or(false)
    }

    /// Runs `f` on a pooled connection on the current (blocking) thread. When `f` fails,
    /// one cheap probe tells a dead connection from a failed query; a dead one is evicted
    /// and makes the pool validate the others before their next use.
    pub fn with_conn<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError>,
        F: FnOnce(&mut DbConn) -> Result<T, E>,
    {
        let mut pooled = self.get().map_err(E::from)?;
        let result = f(&mut pooled.conn);
        if result.is_err() {
            self.pool.found_dead(&mut pooled);
        }
        result
    }

    /// Runs `f` with a connection on tokio's blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        let db = self.clone();
        // Lines logged by `f` name the request it works for.
        let request = crate::request_scope::current_request();
        tokio::task::spawn_blocking(move || {
            let _in = crate::request_scope::enter(request);
            db.with_conn(f)
        })
        .await
        .map_err(|e| E::from(DbError::Join(e.to_string())))?
    }

    /// Like [`Db::run`], inside a write transaction (see [`write_transaction`]).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        self.run(move |conn| write_transaction(conn, f)).await
    }
}

/// Runs `f` in a transaction that holds the write lock from its first statement.
///
/// SQLite starts it with `BEGIN IMMEDIATE`, so two processes never meet a deferred lock
/// upgrade (`SQLITE_BUSY` in the middle of a transaction); PostgreSQL uses an ordinary
/// transaction in which callers take row locks with `SELECT … FOR UPDATE`.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    E: From<DbError>,
    F: FnOnce(&mut DbConn) -> Result<T, E>,
{
    match conn {
        DbConn::Pg(_) => {
            let mut outcome = None;
            let result = conn.transaction::<_, diesel::result::Error, _>(|c| match f(c) {
                Ok(v) => {
                    outcome = Some(Ok(v));
                    Ok(())
                }
                Err(e) => {
                    outcome = Some(Err(e));
                    Err(diesel::result::Error::RollbackTransaction)
                }
            });
            match (result, outcome) {
                (Ok(()), Some(v)) => v,
                (Err(diesel::result::Error::RollbackTransaction), Some(Err(e))) => Err(e),
                (Err(e), _) => Err(DbError::from_diesel(e).into()),
                (Ok(()), None) => {
                    Err(DbError::Join("transaction closure did not run".into()).into())
                }
            }
        }
        DbConn::Sqlite(_) => {
            conn.batch_execute("BEGIN IMMEDIATE")
                .map_err(|e| E::from(DbError::from_diesel(e)))?;
            match f(conn) {
                Ok(v) => match conn.batch_execute("COMMIT") {
                    Ok(()) => Ok(v),
                    Err(e) => {
                        let _ = conn.batch_execute("ROLLBACK");
                        Err(DbError::from_diesel(e).into())
                    }
                },
                Err(e) => {
                    let _ = conn.batch_execute("ROLLBACK");
                    Err(e)
                }
            }
        }
    }
}

/// `FOR UPDATE` on PostgreSQL; nothing on SQLite, whose `BEGIN IMMEDIATE` already serialises.
pub fn lock_clause(conn: &DbConn) -> &'static str {
    match conn {
        DbConn::Pg(_) => " FOR UPDATE",
        DbConn::Sqlite(_) => "",
    }
}

#[cfg(test)]
mod error_tests {
    use super::DbError;
    use diesel::result::{DatabaseErrorKind, Error};

    fn unknown(message: &str) -> DbError {
        DbError::from_diesel(Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(message.to_string()),
        ))
    }

    #[test]
    fn a_server_going_away_is_unavailable_and_other_errors_are_not() {
        for message in [
            "terminating connection due to administrator command",
            "the database system is shutting down",
            "the database system is starting up",
            "server closed the connection unexpectedly\n\tThis probably means …",
        ] {
            assert!(unknown(message).is_unavailable(), "{message}");
        }
        for message in ["syntax error at or near \"x\"", "division by zero"] {
            assert!(!unknown(message).is_unavailable(), "{message}");
        }
    }
}
