//! Embedded migrations, one tree per backend. On PostgreSQL they run under an advisory lock,
//! on SQLite in an immediate transaction, so that several instances starting together
//! migrate once.

use diesel::connection::SimpleConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{DbConn, DbError};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Arbitrary constant naming Gatehouse's migration lock.
const ADVISORY_LOCK_ID: i64 = 0x6761_7465_686f;

/// Applies pending migrations; returns how many ran.
pub fn run_pending(conn: &mut DbConn) -> Result<usize, DbError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
        DbError::Join(format!("migration failed: {e}"))
    };
    match conn {
        // Under the database's write lock (BEGIN IMMEDIATE), so that processes starting
        // together on a fresh file do not both find the schema missing and both create it.
        DbConn::Sqlite(c) => c
            .immediate_transaction(|c| c.run_pending_migrations(SQLITE).map(|v| v.len()))
            .map_err(failed),
        DbConn::Pg(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({ADVISORY_LOCK_ID})"))
                .map_err(DbError::from_diesel)?;
            let result = c
                .run_pending_migrations(POSTGRES)
                .map(|v| v.len())
                .map_err(failed);
            c.batch_execute(&format!("SELECT pg_advisory_unlock({ADVISORY_LOCK_ID})"))
                .map_err(DbError::from_diesel)?;
            result
        }
    }
}

/// How many migrations have not run yet (for `gatehouse check`; applies nothing).
pub fn pending(conn: &mut DbConn) -> Result<usize, DbError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
        DbError::Join(format!("cannot read the applied migrations: {e}"))
    };
    match conn {
        DbConn::Sqlite(c) => c.pending_migrations(SQLITE).map(|v| v.len()),
        DbConn::Pg(c) => c.pending_migrations(POSTGRES).map(|v| v.len()),
    }
    .map_err(failed)
}

/// The versions of the migrations applied to this database.
pub fn applied(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    match conn {
        DbConn::Sqlite(c) => c.applied_migrations(),
        DbConn::Pg(c) => c.applied_migrations(),
    }
    .map(|versions| versions.into_iter().map(|v| v.to_string()).collect())
    .map_err(|e| DbError::Join(format!("cannot read the applied migrations: {e}")))
}

/// Applied migrations this binary does not know: the database was written by a newer
/// Gatehouse (for `restore`, which must not put such a database in place).
pub fn unknown_applied(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    use diesel::migration::MigrationSource;
    let known: Result<Vec<String>, _> = match conn {
        DbConn::Sqlite(_) => {
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE).map(|list| {
                list.iter()
                    .map(|m| m.name().version().to_string())
                    .collect()
            })
        }
        DbConn::Pg(_) => MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES).map(|list| {
            list.iter()
                .map(|m| m.name().version().to_string())
                .collect()
        }),
    };
    let known =
        known.map_err(|e| DbError::Join(format!("cannot list the known migrations: {e}")))?;
    Ok(applied(conn)?
        .into_iter()
        .filter(|v| !known.contains(v))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Diesel keys migrations by the version before the first `_`: two folders with one
    /// version would silently apply only one of them.
    #[test]
    fn every_migration_has_its_own_version_and_both_databases_have_the_same_ones() {
        let versions = |dialect: &str| {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dialect);
            let mut seen = BTreeSet::new();
            for entry in std::fs::read_dir(dir).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                let version = name.split('_').next().unwrap().to_string();
                assert!(seen.insert(version), "{dialect}: two migrations {name}");
            }
            seen
        };
        assert_eq!(versions("sqlite"), versions("postgres"));
    }
}
