//! `gatehouse user import FILE`: Django's `dumpdata auth.user` JSON, in batches, with a
//! progress bar on a terminal for large files. Each skipped record is reported on stderr
//! with its position; the summary goes to stdout; any skip makes the exit status 1.

use std::path::Path;

use super::progress;
use crate::accounts::import::{parse_dump, parse_record, AdminsFrom, DjangoUser, Imported};
use crate::accounts::Accounts;
use crate::django_passwords::Format;

/// Users written per transaction.
const BATCH: usize = 200;
/// Below this many records a file imports in a blink: no bar.
const BAR_FROM: usize = 1000;

#[derive(Default)]
struct Tally {
    created: usize,
    unchanged: usize,
    skipped: usize,
    without_password: usize,
}

pub async fn run(accounts: &Accounts, file: &Path, admins_from: AdminsFrom) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let records = parse_dump(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    drop(text);
    let bar = if records.len() >= BAR_FROM {
        progress::bar(records.len() as u64, "importing users")
    } else {
        indicatif::ProgressBar::hidden()
    };
    let report = |position: usize, what: &str| {
        bar.suspend(|| eprintln!("record {position}: {what}; skipped"));
    };
    let mut tally = Tally::default();
    for (batch_no, batch) in records.chunks(BATCH).enumerate() {
        let mut users: Vec<(usize, DjangoUser)> = Vec::with_capacity(batch.len());
        for (i, record) in batch.iter().enumerate() {
            let position = batch_no * BATCH + i + 1;
            match parse_record(record, admins_from) {
                Ok(user) => users.push((position, user)),
                Err(why) => {
                    let pk = record
                        .get("pk")
                        .map(|p| format!(" (pk {p})"))
                        .unwrap_or_default();
                    report(position, &format!("{why}{pk}"));
                    tally.skipped += 1;
                }
            }
        }
        let outcomes = accounts
            .import_django_users(users.iter().map(|(_, u)| u.clone()).collect())
            .await?;
        for ((position, user), outcome) in users.iter().zip(outcomes) {
            match outcome {
                Imported::Created => {
                    tally.created += 1;
                    if user.format == Format::Unusable {
                        tally.without_password += 1;
                    }
                }
                Imported::Unchanged => tally.unchanged += 1,
                Imported::Conflict(why) => {
                    report(*position, &why);
                    tally.skipped += 1;
                }
            }
        }
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    println!(
        "imported {} users, {} already imported and left unchanged, {} skipped",
        tally.created, tally.unchanged, tally.skipped
    );
    if tally.without_password > 0 {
        println!(
            "{} imported users have no usable password (Django's unusable password); \
             give them one with `gatehouse user set-password NAME`",
            tally.without_password
        );
    }
    if tally.skipped > 0 {
        anyhow::bail!(
            "{} of {} records were skipped (see above); the others are imported",
            tally.skipped,
            records.len()
        );
    }
    Ok(())
}
