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
//!   file goes. A crash before the commit leaves the database under the old key, which the
//!   file still holds (the stale `.next` is removed by the next run); a crash after it leaves
//!   the database under the staged key, which start-up adopts from `.next` (see
//!   `startup::adopt_staged_key`) and the next run moves into place. At no point does the
//!   database name a key that exists nowhere on disk.
//! - **Environment only** (`GATEHOUSE_MASTER_KEY`, no previous): the command cannot write the
//!   operator's secret store, so it prints the new key once on stdout, *before* the commit,
//!   so that a crash after the commit cannot lose it. It is never logged. Should the
//!   transaction fail, the command says that the printed key was not put to use.

use std::io::Write;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{repo, Db};
use crate::keys::encryption::{self, MasterKey};
use crate::keys::reseal::{self, ResealReport};
use crate::startup;

pub async fn rotate(settings: &Settings, keep_previous: bool) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    let file_mode = settings.master_key.is_none();
    if file_mode {
        if let Some(id) = finish_interrupted(settings, &db).await? {
            println!(
                "finished an interrupted rotation: {} now holds master key {id}, which the database is sealed with",
                settings.master_key_file.display()
            );
            return Ok(());
        }
    }
    // Also proves that the configured key (or the previous one) opens the database.
    let configured = startup::load_master_keys(settings, &db).await?;
    let now = Clock::system().now();

    if let Some(previous) = configured.previous.clone() {
        let spinner = crate::commands::progress::spinner(
            "re-sealing the private keys under the configured master key".into(),
        );
        let report =
            reseal::reseal_all(&db, vec![previous], configured.current.clone(), now, || {
                Ok(())
            })
            .await;
        spinner.finish_and_clear();
        let report = report?;
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
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "new master key (shown once; store it where GATEHOUSE_MASTER_KEY comes from before anything else):"
        )?;
        writeln!(out, "{}", new.to_base64().as_str())?;
        out.flush()?;
        let spinner = crate::commands::progress::spinner(
            "re-sealing the private keys under the new master key".into(),
        );
        let report = reseal::reseal_all(&db, vec![old], new.clone(), now, || Ok(())).await;
        spinner.finish_and_clear();
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                eprintln!(
                    "the key printed above was NOT put to use; the database stays sealed under \
                     the current master key"
                );
                return Err(e.into());
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

    let path = settings.master_key_file.clone();
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
        let on_disk = std::fs::read_to_string(&check_path)
            .ok()
            .and_then(|text| MasterKey::from_base64(&text).ok());
        match on_disk {
            Some(key) if key.id() == new_id => Ok(()),
            _ => Err(format!(
                "the staged key {} changed under us (another rotation running?)",
                check_path.display()
            )),
        }
    };
    let spinner = crate::commands::progress::spinner(
        "re-sealing the private keys under the new master key".into(),
    );
    let report = reseal::reseal_all(&db, vec![old.clone()], new.clone(), now, still_staged).await;
    spinner.finish_and_clear();
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e.into());
        }
    };
    // Committed: from here on the database opens only with the new key, which `.next` holds.
    if keep_previous {
        let previous = encryption::previous_path(&path);
        encryption::write_key_file(&previous, &old).map_err(|e| {
            anyhow::anyhow!(
                "the database is re-sealed, but the old key could not be kept in {}: {e}; \
                 the new key is in {}; run `gatehouse master-key rotate` again to finish",
                previous.display(),
                staged.display()
            )
        })?;
    }
    encryption::write_key_file(&path, &new).map_err(|e| {
        anyhow::anyhow!(
            "the database is re-sealed, but {} could not be replaced: {e}; the new key is in {} \
             and the server uses it from there; run `gatehouse master-key rotate` again to finish",
            path.display(),
            staged.display()
        )
    })?;
    remove_staged(&staged)?;
    print_report(&report);
    println!("{} now holds the new master key", path.display());
    if keep_previous {
        println!(
            "the old key is kept in {} for backups taken before now; move it to where backups' keys live",
            encryption::previous_path(&path).display()
        );
    } else {
        println!(
            "backups taken before now need the old master key; it is no longer on this machine"
        );
    }
    Ok(())
}

fn print_report(report: &ResealReport) {
    println!(
        "master key rotated: {} -> {}; {} private keys re-sealed ({} already were), {} grace-window records re-sealed",
        report.from_id.as_deref().unwrap_or("-"),
        report.to_id,
        report.keys_resealed,
        report.keys_already,
        report.successors_resealed
    );
    if report.successors_dropped > 0 {
        println!(
            "{} grace-window records opened with no configured key and were dropped (a replay \
             of their token now counts as reuse)",
            report.successors_dropped
        );
    }
}

/// Deals with `MASTER_KEY_FILE.next` left by a run that stopped: when the database names it,
/// the transaction committed and only the file move is left, which this finishes (returning
/// the key id); otherwise it never took effect and is removed. Under the rotation lock, so a
/// rotation running right now is either finished (and found complete) or not yet committed
/// (and then refuses to commit, its staged file gone).
async fn finish_interrupted(settings: &Settings, db: &Db) -> anyhow::Result<Option<String>> {
    let path = settings.master_key_file.clone();
    let staged = encryption::next_path(&path);
    if !staged.exists() {
        return Ok(None);
    }
    db.write(move |conn| {
        repo::meta::lock_key_rotation(conn)?;
        let stored = repo::meta::get(conn, "master_key_id")?;
        let key = std::fs::read_to_string(&staged)
            .ok()
            .and_then(|text| MasterKey::from_base64(&text).ok());
        match key {
            Some(key) if stored.as_deref() == Some(key.id()) => {
                encryption::write_key_file(&path, &key)?;
                remove_staged(&staged)?;
                Ok(Some(key.id().to_string()))
            }
            _ => {
                remove_staged(&staged)?;
                Ok(None)
            }
        }
    })
    .await
}

fn remove_staged(staged: &std::path::Path) -> anyhow::Result<()> {
    std::fs::remove_file(staged)?;
    if let Some(dir) = staged.parent().filter(|d| !d.as_os_str().is_empty()) {
        encryption::sync_dir(dir)?;
    }
    Ok(())
}
