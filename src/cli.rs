//! The `gatehouse` command line. Every command takes the same settings as `serve` and works
//! against the same database, also while a server runs.

use std::io::IsTerminal;

use clap::{Arg, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::audit::{self, AuditFilter, RequestContext};
use crate::commands::{self, more_after};
use crate::config::{Settings, SettingsArgs};
use crate::domain::utc_datetime;
use crate::startup::{self, Application};

pub use crate::commands::client::{ClientCommand, ClientsCommand};
pub use crate::commands::keys::KeysCommand;
pub use crate::commands::user::UserCommand;
pub use crate::commands::PageArgs;

#[derive(Parser, Debug)]
#[command(
    name = "gatehouse",
    version,
    about = "An OAuth2 / OpenID Connect identity provider"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Log lines on a terminal too (`-v` info, `-vv` debug); `serve` always logs.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Clients declared in a file (CLIENTS_FILE).
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the master key that seals the private signing keys.
    #[command(subcommand)]
    MasterKey(MasterKeyCommand),
    /// Read the audit trail (admin actions and security events), newest first.
    Audit {
        /// One JSON object per line, for scripts.
        #[arg(long)]
        json: bool,
        /// Only this kind, e.g. sign_in, key.rotated, user.deleted.
        #[arg(long)]
        kind: Option<String>,
        /// Only events of this actor (an admin's username, or cli:USER).
        #[arg(long)]
        actor: Option<String>,
        /// How many events (1 to 500).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Older events than those shown: the cursor a previous page named.
        #[arg(long)]
        after: Option<String>,
    },
    /// Check the settings, the database, the master key and the signing keys; changes
    /// nothing. Exit status 1 when something would stop the server.
    Check,
    /// Write a consistent copy of the SQLite database to FILE while the server runs (on
    /// PostgreSQL use pg_dump). The master key is not in it: keep that apart.
    Backup {
        /// The new file to write; refused if it exists.
        file: std::path::PathBuf,
    },
    /// Put a backup in place of the SQLite database, with the server stopped, after
    /// checking that it opens, that its migrations are known and that the master key opens
    /// its keys. The replaced file is kept beside it.
    Restore {
        /// A file written by `gatehouse backup`.
        file: std::path::PathBuf,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell the script is for.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
pub enum MasterKeyCommand {
    /// Re-seal every private key under a new master key, in one transaction. With
    /// GATEHOUSE_MASTER_KEY_PREVIOUS set, the configured key is the new one; otherwise a new
    /// key is generated and replaces the key file, or, when the key comes from
    /// GATEHOUSE_MASTER_KEY, is printed once on stdout.
    Rotate {
        /// Keep the old key file as MASTER_KEY_FILE.previous (for restoring older backups).
        #[arg(long)]
        keep_previous: bool,
    },
}

/// The command line to parse. The global options (every setting, `-v`) are still accepted
/// after any subcommand, but listed once, in `gatehouse --help`: each subcommand's help
/// shows its own options and says where the others are.
pub fn clap_command() -> clap::Command {
    let command = Cli::command();
    let globals: Vec<Arg> = command
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    hide_globals_below(command, &globals)
}

/// Gives every subcommand, at every depth, hidden copies of `globals`: clap copies a global
/// option into a subcommand only when the subcommand has none of that name.
fn hide_globals_below(command: clap::Command, globals: &[Arg]) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    names.iter().fold(command, |command, name| {
        command.mut_subcommand(name, |sub| {
            let sub = globals
                .iter()
                .fold(sub, |sub, arg| sub.arg(arg.clone().hide(true)))
                .after_help(
                    "Settings (--config, --database-url, ...) and -v apply to every command: \
                     see gatehouse --help.",
                );
            hide_globals_below(sub, globals)
        })
    })
}

/// Parses the process's arguments (exits with clap's message on a mistake or for --help).
pub fn parse() -> Cli {
    Cli::from_arg_matches(&clap_command().get_matches()).unwrap_or_else(|e| e.exit())
}

/// The log filter: `GATEHOUSE_LOG` when set; `info` for the server; for the other
/// commands nothing on a terminal (their results go to stdout) unless `-v` asks, and
/// warnings elsewhere.
pub fn log_filter(cli: &Cli) -> String {
    if let Ok(filter) = std::env::var("GATEHOUSE_LOG") {
        return filter;
    }
    let serving = matches!(cli.command, None | Some(Command::Serve));
    match cli.verbose {
        0 if serving => "info",
        0 if std::io::stderr().is_terminal() => "off",
        0 => "warn",
        1 => "info",
        _ => "debug",
    }
    .into()
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // These two read no settings: a completion script or a report on bad settings must
    // come out whatever the configuration says.
    match &cli.command {
        Some(Command::Completions { shell }) => {
            let mut command = Cli::command();
            // Into memory first: clap_complete panics on a write error, such as a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut command, "gatehouse", &mut script);
            return match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            };
        }
        Some(Command::Check) => return crate::commands::check::run(&cli.settings).await,
        _ => {}
    }
    let settings = Settings::from_args(&cli.settings)?;
    // What a command changes is recorded with the operator as its actor.
    let operator = crate::os_user::operator_name();
    let context = RequestContext {
        actor: Some(format!("cli:{operator}")),
        ..Default::default()
    };
    audit::within(
        context,
        command(settings, cli.command.unwrap_or(Command::Serve)),
    )
    .await
}

async fn command(settings: Settings, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await?
        }
        Command::Migrate => {
            startup::open_database(&settings).await?;
            println!("migrations are up to date");
        }
        Command::User(cmd) => commands::user::user(&settings, cmd).await?,
        Command::Client(cmd) => commands::client::client(&settings, cmd).await?,
        Command::Clients(ClientsCommand::Apply { file, dry_run }) => {
            commands::client::apply_clients(&settings, &file, dry_run).await?
        }
        Command::Keys(cmd) => commands::keys::keys(&settings, cmd).await?,
        Command::MasterKey(MasterKeyCommand::Rotate { keep_previous }) => {
            crate::commands::master_key::rotate(&settings, keep_previous).await?
        }
        Command::Audit {
            json,
            kind,
            actor,
            limit,
            after,
        } => {
            let db = startup::open_database(&settings).await?;
            let filter = AuditFilter {
                kind,
                actor,
                limit: Some(limit),
                after,
                ..Default::default()
            };
            let page = audit::page(&db, filter).await?;
            for r in &page.records {
                if json {
                    println!("{}", serde_json::to_string(r)?);
                } else {
                    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        utc_datetime(r.at),
                        r.kind,
                        r.outcome,
                        show(&r.actor),
                        show(&r.subject),
                        show(&r.client_addr),
                        show(&r.detail)
                    );
                }
            }
            more_after(page.next);
        }
        Command::Backup { file } => crate::commands::backup::backup(&settings, &file).await?,
        Command::Restore { file } => crate::commands::backup::restore(&settings, &file).await?,
        Command::Check | Command::Completions { .. } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
        clap_command().debug_assert();
    }

    #[test]
    fn options_given_after_a_subcommand_still_count() {
        let matches = clap_command()
            .try_get_matches_from([
                "gatehouse",
                "user",
                "list",
                "--database-url",
                "sqlite://x.db",
                "-v",
            ])
            .unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        assert_eq!(cli.settings.database_url.as_deref(), Some("sqlite://x.db"));
        assert_eq!(cli.verbose, 1);
        assert!(matches!(
            cli.command,
            Some(Command::User(UserCommand::List { .. }))
        ));
    }

    /// RFC 7638 kids are base64url: one in 64 starts with '-' (a CI run met one).
    #[test]
    fn a_kid_that_starts_with_a_dash_is_revoked_like_any_other() {
        for args in [
            ["keys", "revoke", "-Ux3k", "--reason", "leaked"],
            ["keys", "revoke", "--reason", "leaked", "-Ux3k"],
        ] {
            let matches = clap_command()
                .try_get_matches_from(std::iter::once("gatehouse").chain(args))
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let cli = Cli::from_arg_matches(&matches).unwrap();
            match cli.command {
                Some(Command::Keys(crate::commands::keys::KeysCommand::Revoke { kid, reason })) => {
                    assert_eq!((kid.as_str(), reason.as_str()), ("-Ux3k", "leaked"));
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
    }
}
