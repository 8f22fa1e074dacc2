//! `gatehouse backup FILE` and `gatehouse restore FILE` for the embedded SQLite database.
//!
//! Copying the database file of a running server is unsafe (the WAL holds the latest
//! writes). `backup` asks SQLite for a consistent copy (`VACUUM INTO`, a read transaction:
//! the server goes on serving). `restore` checks the copy before anything is replaced: it
//! opens, passes SQLite's integrity check, holds only migrations this binary knows, and the
//! configured master key opens its check value and every signing key; then, only if no
//! process has the database open, it moves the current file aside and puts the copy in its
//! place. On PostgreSQL both say which tools to use instead (README, "Operating").

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use crate::config::Settings;
use crate::db::{migrate, repo, DatabaseUrl, DbConn};
use crate::keys::encryption::MasterKeys;

const ON_POSTGRES: &str = "on PostgreSQL, back up with pg_dump and restore with pg_restore \
     (README, \"Operating\"); keep the master key apart from the dump";

fn sqlite_path(settings: &Settings) -> anyhow::Result<&str> {
    match &settings.database_url {
        DatabaseUrl::Sqlite(path) => Ok(path),
        DatabaseUrl::Postgres(_) => anyhow::bail!("{ON_POSTGRES}"),
    }
}

/// A consistent copy of the live database in `target`, written beside it under a temporary
/// name and renamed into place, so a half-written backup never carries the final name.
pub async fn backup(settings: &Settings, target: &Path) -> anyhow::Result<()> {
    let source = sqlite_path(settings)?.to_string();
    if !Path::new(&source).exists() {
        anyhow::bail!("the database {source} does not exist: there is nothing to back up");
    }
    if target.exists() {
        anyhow::bail!(
            "{} exists already; choose a new file name",
            target.display()
        );
    }
    let partial = with_suffix(target, ".partial");
    let _ = std::fs::remove_file(&partial);
    let (source2, partial2) = (source.clone(), partial.clone());
    let copied = tokio::task::spawn_blocking(move || -> anyhow::Result<Summary> {
        let mut conn = SqliteConnection::establish(&source2)?;
        // The server may be writing: wait for its write lock rather than fail at once.
        conn.batch_execute("PRAGMA busy_timeout = 10000;")?;
        diesel::sql_query("VACUUM INTO ?")
            .bind::<diesel::sql_types::Text, _>(partial2.display().to_string())
            .execute(&mut conn)?;
        drop(conn);
        std::fs::File::open(&partial2)?.sync_all()?;
        summarise(&partial2)
    })
    .await?;
    let summary = match copied {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.context(format!("cannot back up {source}")));
        }
    };
    std::fs::rename(&partial, target)?;
    sync_dir(target);
    println!(
        "backed up {source} to {} ({} bytes; {} users, {} clients, {} signing keys, {} migrations)",
        target.display(),
        std::fs::metadata(target)?.len(),
        summary.users,
        summary.clients,
        summary.keys,
        summary.migrations
    );
    println!(
        "the signing keys in it are sealed under the master key (id {}): keep a copy of the \
         master key, but never in the same place as the backup",
        summary.master_key_id.as_deref().unwrap_or("-")
    );
    Ok(())
}

/// Puts the backup `source` in place of the configured database, with the server stopped.
pub async fn restore(settings: &Settings, source: &Path) -> anyhow::Result<()> {
    let live = PathBuf::from(sqlite_path(settings)?);
    if !source.is_file() {
        anyhow::bail!("{} is not a file", source.display());
    }
    let staged = with_suffix(&live, ".restoring");
    if let Some(dir) = live.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // The checks run on a copy beside the database: the backup itself is never written to,
    // and the final step is a rename on one file system.
    std::fs::copy(source, &staged)?;
    let master = configured_master_keys(settings).inspect_err(|_| {
        let _ = std::fs::remove_file(&staged);
    })?;
    let staged2 = staged.clone();
    let checked = tokio::task::spawn_blocking(move || check_backup(&staged2, &master)).await?;
    let summary = match checked {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e.context(format!(
                "{} cannot be restored; nothing was changed",
                source.display()
            )));
        }
    };
    let live2 = live.clone();
    let replaced = tokio::task::spawn_blocking(move || put_in_place(&live2)).await?;
    let aside = match replaced {
        Ok(aside) => aside,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    };
    std::fs::rename(&staged, &live)?;
    sync_dir(&live);
    println!(
        "restored {} into {} ({} users, {} clients, {} signing keys)",
        source.display(),
        live.display(),
        summary.users,
        summary.clients,
        summary.keys
    );
    if let Some(aside) = aside {
        println!(
            "the database it replaced is kept as {}; delete it once the server runs well",
            aside.display()
        );
    }
    Ok(())
}

struct Summary {
    users: i64,
    clients: i64,
    keys: i64,
    migrations: usize,
    master_key_id: Option<String>,
}

fn summarise(path: &Path) -> anyhow::Result<Summary> {
    let mut conn = DbConn::Sqlite(SqliteConnection::establish(&path.display().to_string())?);
    let migrations = migrate::applied(&mut conn)?.len();
    let count = |conn: &mut DbConn, table: &str| -> anyhow::Result<i64> {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows: Vec<Count> =
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).load(conn)?;
        Ok(rows.first().map_or(0, |c| c.n))
    };
    Ok(Summary {
        users: count(&mut conn, "users")?,
        clients: count(&mut conn, "clients")?,
        keys: repo::keys::count(&mut conn)?,
        migrations,
        master_key_id: repo::meta::get(&mut conn, "master_key_id")?,
    })
}

/// Everything that would stop a server on this file, checked before it replaces anything.
fn check_backup(path: &Path, master: &MasterKeys) -> anyhow::Result<Summary> {
    let mut raw = SqliteConnection::establish(&path.display().to_string())
        .map_err(|e| anyhow::anyhow!("it does not open as a SQLite database: {e}"))?;
    #[derive(diesel::QueryableByName)]
    struct Integrity {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let verdict: Vec<Integrity> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut raw)
        .map_err(|e| anyhow::anyhow!("it is not a SQLite database: {e}"))?;
    let verdict: Vec<String> = verdict.into_iter().map(|r| r.integrity_check).collect();
    if verdict != ["ok"] {
        anyhow::bail!("SQLite's integrity check fails: {}", verdict.join("; "));
    }
    let mut conn = DbConn::Sqlite(raw);
    let unknown = migrate::unknown_applied(&mut conn)
        .map_err(|e| anyhow::anyhow!("it is not a Gatehouse database: {e}"))?;
    if migrate::applied(&mut conn)?.is_empty() {
        anyhow::bail!("it is not a Gatehouse database: no Gatehouse migration was applied to it");
    }
    if !unknown.is_empty() {
        anyhow::bail!(
            "it was written by a newer Gatehouse (migrations {} are unknown to this one); restore it with that version",
            unknown.join(", ")
        );
    }
    let id = repo::meta::get(&mut conn, "master_key_id")?;
    let check = repo::meta::get(&mut conn, "master_key_check")?;
    if let (Some(id), Some(check)) = (&id, &check) {
        if !master.opens_check_value(id, check) {
            anyhow::bail!(
                "it was sealed under master key {id}, and the configured master key (id {}) is another; set GATEHOUSE_MASTER_KEY_FILE (or GATEHOUSE_MASTER_KEY) to the key it was taken with",
                master.current.id()
            );
        }
    }
    let closed: Vec<String> = repo::keys::all_sealed(&mut conn)?
        .into_iter()
        .filter(|(kid, sealed, key_id)| master.open(key_id, sealed, kid.as_bytes()).is_err())
        .map(|(kid, _, _)| kid)
        .collect();
    if !closed.is_empty() {
        anyhow::bail!(
            "these signing keys do not open with the configured master key: {}",
            closed.join(", ")
        );
    }
    drop(conn);
    summarise(path)
}

/// Makes room for the restored file: refuses while any process has the database open (a
/// server's connections hold a shared lock on the file, so an exclusive lock is refused),
/// then moves the current file aside. Returns where it went, if there was one.
fn put_in_place(live: &Path) -> anyhow::Result<Option<PathBuf>> {
    if !live.exists() {
        return Ok(None);
    }
    {
        let mut conn = SqliteConnection::establish(&live.display().to_string())?;
        conn.batch_execute("PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE;")?;
        if conn.batch_execute("BEGIN EXCLUSIVE; COMMIT;").is_err() {
            anyhow::bail!(
                "{} is in use (is a server running on it?): stop every process that uses it, then restore again; nothing was changed",
                live.display()
            );
        }
        // As the last connection, closing checkpoints the WAL into the file and deletes it.
    }
    let wal = with_suffix(live, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        anyhow::bail!(
            "{} holds writes not yet in the database; start and stop the server once, then restore again",
            wal.display()
        );
    }
    let _ = std::fs::remove_file(wal);
    let _ = std::fs::remove_file(with_suffix(live, "-shm"));
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let aside = with_suffix(live, &format!(".before-restore-{stamp}"));
    std::fs::rename(live, &aside)?;
    Ok(Some(aside))
}

/// The master keys of the settings, never created: a restore needs the key the backup was
/// sealed with.
fn configured_master_keys(settings: &Settings) -> anyhow::Result<MasterKeys> {
    let (current, previous) =
        crate::startup::configured_master_keys(settings, false).map_err(|e| {
            anyhow::anyhow!("{e:#}; a restore needs the master key the backup was taken with")
        })?;
    Ok(MasterKeys { current, previous })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A rename is durable once its directory is synced.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}
