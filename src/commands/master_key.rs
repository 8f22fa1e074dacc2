//! `gatehouse master-key rotate`: every private signing key, every sealed grace-window
//! successor and the check value move to another master key in one transaction. Three ways
//! to give the new key, by what the settings hold:
//!
//! - **Rollover** (`GATEHOUSE_MASTER_KEY_PREVIOUS` set): the configured key (environment or
//!   file) is the new one, the previous one the old. Instances restarted with both serve
//!   before, during and after the command; then drop the previous key everywhere. Nothing
//!   secret is printed or written.
//! - **Key file** (no `GATEHOUSE_MASTER_KEY`): a new key is generated and staged in
//!   `MASTER_KEY_FILE.next` (0600, fsynced) *before* the transaction; after the commit it
//!   replaces the key file (temporary file, fsync, rename, directory fsync) and the staged
//!   file goes. Any failure keeps `.next`: PostgreSQL can report an error for a COMMIT that
//!   went through (the connection lost on the way back), so the command cannot tell from the
//!   error which key the database holds. The next run decides from the database's check
//!   value: sealed under the old key, the rotation never took effect and the stale `.next`
//!   goes; sealed under the staged key, it committed, and the run moves the staged key into
//!   place (start-up meanwhile adopts it, see `startup::adopt_staged_key`). At no point does
//!   the database name a key that exists nowhere on disk.
//! - **Environment only** (`GATEHOUSE_MASTER_KEY`, no previous): the command cannot write the
//!   operator's secret store, so it prints the new key once on stdout, *before* the commit,
//!   so that a crash after the commit cannot lose it. It is never logged. Should the
//!   transaction report an error, the command reads the check value and says which key the
//!   database is sealed under.

use std::io::Write;
use std::path::Path;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{repo, Db};
use crate::keys::encryption::{self, MasterKey};
use crate::keys::reseal::{self, ResealReport};
use crate::startup;

pub async fn rotate(settings: &Settings, keep_previous: bool) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    let file_mode = settings.master_key.is_none();
    let path = settings.master_key_file.clone();
    if file_mode {
        if let Some(finished) = finish_interrupted(&path, &db, keep_previous).await? {
            println!(
                "finished an interrupted rotation: {} now holds master key {}, which the database is sealed with",
                path.display(),
                finished.key_id
            );
            print_previous(&path, keep_previous, finished.old_key_kept);
            return Ok(());
        }
    }
    // Also proves that the configured key (or the previous one) opens the database.
    let configured = startup::load_master_keys(settings, &db).await?;
    let now = Clock::system().now();

    if let Some(previous) = configured.previous.clone() {
        let report = reseal_all(
            &db,
            vec![previous],
            configured.current.clone(),
            now,
            "the configured master key",
            || Ok(()),
        )
        .await?;
        print_report(&report);
        println!(
            "every instance may now drop GATEHOUSE_MASTER_KEY_PREVIOUS; until they do, they keep \
             reading with it"
        );
        return Ok(());
    }

    let new = MasterKey::generate();
    let old = configured.current.clone();
    if !file_mode {
        {
            // Out and flushed before the transaction; the lock is let go before any await.
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "new master key (shown once; store it where GATEHOUSE_MASTER_KEY comes from before anything else):"
            )?;
            writeln!(out, "{}", new.to_base64().as_str())?;
            out.flush()?;
        }
        let report = reseal_all(
            &db,
            vec![old],
            new.clone(),
            now,
            "the new master key",
            || Ok(()),
        )
        .await;
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                eprintln!("{}", printed_key_outcome(&db, &new).await);
                return Err(e);
            }
        };
        print_report(&report);
        println!(
            "set GATEHOUSE_MASTER_KEY to the new key on every instance; an instance still running \
             with the old key keeps serving from memory, and one restarted before it has the new \
             key may set GATEHOUSE_MASTER_KEY_PREVIOUS to the old key meanwhile"
        );
        return Ok(());
    }

    let staged = encryption::next_path(&path);
    encryption::write_key_file(&staged, &new).map_err(|e| {
        anyhow::anyhow!(
            "cannot stage the new master key in {}: {e}",
            staged.display()
        )
    })?;
    let (check_path, new_id) = (staged.clone(), new.id().to_string());
    let still_staged = move || {
        // Another `master-key rotate` may have found this file stale and removed it; then
        // the database must not move to a key that is on disk nowhere.
        let on_disk = encryption::read_key_file(&check_path);
        match on_disk {
            Some(key) if key.id() == new_id => Ok(()),
            _ => Err(format!(
                "the staged key {} changed under us (another rotation running?)",
                check_path.display()
            )),
        }
    };
    let rerun = rerun_command(keep_previous);
    let report = reseal_all(
        &db,
        vec![old.clone()],
        new.clone(),
        now,
        "the new master key",
        still_staged,
    )
    .await
    .map_err(|e| {
        // Kept whatever the error: after the commit it is the only copy of the database's key.
        e.context(format!(
            "the new master key stays staged in {}; run `{rerun}` again: it finds out from \
             the database whether this rotation took effect, and finishes or discards it",
            staged.display()
        ))
    })?;
    // Committed: from here on the database opens only with the new key, which `.next` holds.
    if keep_previous {
        let previous = encryption::previous_path(&path);
        encryption::write_key_file(&previous, &old).map_err(|e| {
            anyhow::anyhow!(
                "the database is re-sealed, but the old key could not be kept in {}: {e}; \
                 the new key is in {}; run `{rerun}` again to finish",
                previous.display(),
                staged.display()
            )
        })?;
    }
    encryption::write_key_file(&path, &new).map_err(|e| {
        anyhow::anyhow!(
            "the database is re-sealed, but {} could not be replaced: {e}; the new key is in {} \
             and the server uses it from there; run `{rerun}` again to finish",
            path.display(),
            staged.display()
        )
    })?;
    remove_staged(&staged)?;
    print_report(&report);
    println!(
        "{} now holds the new master key; restart every server that reads it (until then they \
         serve from memory, but cannot load a signing key promoted later)",
        path.display()
    );
    print_previous(&path, keep_previous, keep_previous);
    Ok(())
}

fn rerun_command(keep_previous: bool) -> &'static str {
    if keep_previous {
        "gatehouse master-key rotate --keep-previous"
    } else {
        "gatehouse master-key rotate"
    }
}

/// The re-seal behind a spinner. `GATEHOUSE_TEST_FAIL_AFTER_COMMIT` (tests only, read by this
/// command alone) makes one that committed report an error anyway, as PostgreSQL can when
/// the connection is lost during COMMIT.
async fn reseal_all(
    db: &Db,
    from: Vec<MasterKey>,
    to: MasterKey,
    now: i64,
    to_what: &str,
    precondition: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> anyhow::Result<ResealReport> {
    let spinner =
        crate::commands::progress::spinner(format!("re-sealing the private keys under {to_what}"));
    let report = reseal::reseal_all(db, from, to, now, precondition).await;
    spinner.finish_and_clear();
    let report = report?;
    if std::env::var_os("GATEHOUSE_TEST_FAIL_AFTER_COMMIT").is_some() {
        anyhow::bail!("the connection was lost during COMMIT (GATEHOUSE_TEST_FAIL_AFTER_COMMIT)");
    }
    Ok(report)
}

/// Which key the database holds after a re-seal under the printed key reported an error: the
/// check value says, since the error may have come after the commit.
async fn printed_key_outcome(db: &Db, printed: &MasterKey) -> &'static str {
    let key = printed.clone();
    let sealed_under_printed = db
        .run(move |conn| reseal::check_value_opens(conn, &key))
        .await;
    match sealed_under_printed {
        Ok(true) => {
            "the database is sealed under the new key printed above (the error came after the \
             commit): set GATEHOUSE_MASTER_KEY to it on every instance"
        }
        Ok(false) => {
            "the key printed above was NOT put to use; the database stays sealed under the \
             current master key"
        }
        Err(_) => {
            "cannot tell whether the database is sealed under the key printed above or the \
             current one: keep both until `gatehouse check` with each says which opens it"
        }
    }
}

fn print_report(report: &ResealReport) {
    println!(
        "master key rotated: {} -> {}; {} private keys re-sealed ({} already were), {} grace-window records and {} TOTP secrets re-sealed",
        report.from_id.as_deref().unwrap_or("-"),
        report.to_id,
        report.keys_resealed,
        report.keys_already,
        report.successors_resealed,
        report.totp_secrets_resealed
    );
    if report.successors_dropped > 0 {
        println!(
            "{} grace-window records opened with no configured key and were dropped (a replay \
             of their token now counts as reuse)",
            report.successors_dropped
        );
    }
}

/// Where the old key went, once `path` holds the new one.
fn print_previous(path: &Path, keep_previous: bool, kept: bool) {
    let previous = encryption::previous_path(path);
    match (keep_previous, kept) {
        (true, true) => println!(
            "the old key is kept in {} for backups taken before now; move it to where backups' keys live",
            previous.display()
        ),
        (true, false) => println!(
            "the old key could not be kept: {} no longer held it when this run started (if the \
             interrupted run was given --keep-previous, {} holds the old key)",
            path.display(),
            previous.display()
        ),
        (false, _) => println!(
            "backups taken before now need the old master key; it is no longer on this machine"
        ),
    }
}

/// An interrupted rotation that this run finished.
struct Finished {
    key_id: String,
    /// The old key was written to `MASTER_KEY_FILE.previous` by this run.
    old_key_kept: bool,
}

/// Deals with `MASTER_KEY_FILE.next` left by a run that stopped or failed. The database's
/// check value decides, not what that run saw (a COMMIT can fail after it went through):
/// under the staged key, the transaction committed and only the files are left, which this
/// finishes, first keeping the old key in `.previous` when asked; under any other key, it
/// never took effect and the staged file is removed. Under the rotation lock, so a rotation
/// running right now is either finished (and found complete) or not yet committed (and then
/// refuses to commit, its staged file gone).
async fn finish_interrupted(
    path: &Path,
    db: &Db,
    keep_previous: bool,
) -> anyhow::Result<Option<Finished>> {
    let path = path.to_path_buf();
    let staged = encryption::next_path(&path);
    if !staged.exists() {
        return Ok(None);
    }
    db.write(move |conn| {
        repo::meta::lock_key_rotation(conn)?;
        let Some(new) = encryption::read_key_file(&staged) else {
            anyhow::bail!(
                "{} cannot be read as a master key; it may be the only copy of the key the \
                 database is sealed with, so it is left alone: check its owner and mode",
                staged.display()
            );
        };
        if !reseal::check_value_opens(conn, &new)? {
            // Staged by a run that stopped before its commit: it never sealed anything (the
            // check value moves in the same transaction as every sealed value).
            remove_staged(&staged)?;
            return Ok(None);
        }
        // The key file still holds the old key unless the interrupted run got as far as
        // replacing it (after writing `.previous`, when it was asked to).
        let old =
            encryption::read_key_file(&path).filter(|old| keep_previous && old.id() != new.id());
        if let Some(old) = &old {
            encryption::write_key_file(&encryption::previous_path(&path), old)?;
        }
        encryption::write_key_file(&path, &new)?;
        remove_staged(&staged)?;
        Ok(Some(Finished {
            key_id: new.id().to_string(),
            old_key_kept: old.is_some(),
        }))
    })
    .await
}

fn remove_staged(staged: &Path) -> anyhow::Result<()> {
    std::fs::remove_file(staged)?;
    if let Some(dir) = staged.parent().filter(|d| !d.as_os_str().is_empty()) {
        encryption::sync_dir(dir)?;
    }
    Ok(())
}
