//! `gatehouse keys …`: the arguments and the bodies of the signing-key commands.

use clap::Subcommand;

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::utc_datetime;
use crate::keys::rotation::{self, RotationKind};
use crate::startup;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Every key with its state and times (UTC).
    List,
    /// standby -> next -> current -> retired; with --emergency the current key is revoked
    /// at once (as `keys revoke` would).
    Rotate {
        /// Revoke the current key at once (tokens it signed stop verifying).
        #[arg(long)]
        emergency: bool,
        /// Rotate only this algorithm's keys (RS256, ES256 or EdDSA); every algorithm of
        /// SIGNING_ALGS without it.
        #[arg(long)]
        alg: Option<crate::keys::Alg>,
    },
    /// Revoke one key, whatever its state: it leaves the JWKS and its tokens stop
    /// verifying; the keys behind it move up; its refresh families end.
    Revoke {
        /// The key id, as `keys list` and the JWKS show it.
        // A thumbprint kid starts with '-' one time in 64: it is a value, not an option.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Why (recorded in the audit trail with who did it).
        #[arg(long)]
        reason: String,
    },
}

pub async fn keys(settings: &Settings, cmd: KeysCommand) -> anyhow::Result<()> {
    // Big keys take a while to generate (a first start makes two, a rotation one): a
    // person at a terminal sees that something is happening; a pipe sees nothing.
    let spinner = match (settings.key_size >= 4096, &cmd) {
        (false, _) => indicatif::ProgressBar::hidden(),
        (true, KeysCommand::Rotate { .. } | KeysCommand::Revoke { .. }) => {
            crate::commands::progress::spinner(format!(
                "generating a {}-bit RSA key",
                settings.key_size
            ))
        }
        (true, KeysCommand::List) => crate::commands::progress::spinner(format!(
            "loading the keys (generating {}-bit ones if there are none)",
            settings.key_size
        )),
    };
    let keys = startup::prepare(settings, Clock::system(), rotation::generator()).await;
    if keys.is_err() || matches!(cmd, KeysCommand::List) {
        spinner.finish_and_clear();
    }
    let keys = keys?;
    match cmd {
        KeysCommand::List => {
            // ALG last: scripts that read the first columns keep working.
            println!("KID\tSTATE\tBITS\tPUBLISHED\tACTIVATED\tRETIRED\tREMOVE_AFTER\tALG");
            let show = |t: Option<i64>| t.map(utc_datetime).unwrap_or_else(|| "-".into());
            for k in keys.list().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    k.kid,
                    k.state.as_str(),
                    k.bits,
                    utc_datetime(k.created_at),
                    show(k.activated_at),
                    show(k.retired_at.or(k.revoked_at)),
                    show(k.remove_after),
                    k.alg,
                );
            }
        }
        KeysCommand::Rotate { emergency, alg } => {
            let kind = if emergency {
                RotationKind::Emergency
            } else {
                RotationKind::Manual
            };
            let outcomes = keys.rotate(alg, kind).await;
            spinner.finish_and_clear();
            print_key_change(&rotation::RotationOutcome::combined(outcomes?))?;
        }
        KeysCommand::Revoke { kid, reason } => {
            let outcome = keys.revoke(&kid, &reason).await;
            spinner.finish_and_clear();
            print_key_change(&outcome?)?;
        }
    }
    Ok(())
}

/// What a rotation or revocation did: JSON on stdout for scripts; on stderr, in words, the
/// key revoked, the key that signs now and when it was published, and any warning.
fn print_key_change(outcome: &rotation::RotationOutcome) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(outcome)?);
    for line in std::iter::once(outcome).chain(&outcome.also) {
        say_key_change(line);
    }
    Ok(())
}

fn say_key_change(outcome: &rotation::RotationOutcome) {
    if let Some(alg) = outcome.alg {
        eprintln!("{alg}:");
    }
    if let Some(revoked) = &outcome.revoked {
        eprintln!(
            "revoked {revoked} ({} refresh families ended)",
            outcome.families_revoked
        );
    }
    match (&outcome.current, outcome.current_published_at) {
        (Some(kid), Some(at)) => eprintln!("{kid} signs now, published {}", utc_datetime(at)),
        _ => eprintln!("no key signs now"),
    }
    if let Some(w) = &outcome.warning {
        eprintln!("warning: {w}");
    }
}
