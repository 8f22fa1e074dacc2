//! The `gatehouse` command line. Every command takes the same settings as `serve` and works
//! against the same database, also while a server runs.

use std::io::{BufRead, IsTerminal};

use clap::{Arg, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::accounts::{clients_file, Accounts, LastAdmin, NewClientRequest, NewUserRequest};
use crate::audit::{self, AuditFilter, RequestContext};
use crate::clock::Clock;
use crate::config::{Settings, SettingsArgs};
use crate::domain::utc_datetime;
use crate::keys::rotation::{self, RotationKind};
use crate::paging::ListRequest;
use crate::passwords::{Hasher, Password};
use crate::startup::{self, Application};

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
pub enum UserCommand {
    /// Create a user; the password is read from stdin or a no-echo prompt.
    Add {
        /// The username (the login name).
        name: String,
        /// The user's email address (in id_tokens and userinfo with scope email).
        #[arg(long)]
        email: Option<String>,
        /// May get tokens with scope admin and use the admin API and the console.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of stdin, without a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users, by username: name, sub, email, flags.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Stop a user signing in; ends their refresh tokens and sessions.
    Disable {
        /// The username.
        name: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        /// The username.
        name: String,
    },
    /// Delete a user, with their refresh tokens and sessions.
    Delete {
        /// The username.
        name: String,
    },
    /// Set a new password (ends the user's refresh families).
    SetPassword {
        /// The username.
        name: String,
        /// Read the password from the first line of stdin, without a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a single-use link that lets the user set a new password, to hand over by other
    /// means; a newer link voids it. Setting the password signs the user out everywhere.
    ResetLink {
        /// The username.
        name: String,
        /// How long the link stays valid: 30m unless given, at most 7d.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Set, change or remove a user's email address. A new address is unverified until the
    /// user follows the link mailed to it (with SMTP_URL set), unless --verified.
    Email(crate::commands::email::EmailArgs),
    /// Import users from Django's `manage.py dumpdata auth.user` JSON; they keep their
    /// passwords and primary keys. Running it again changes nothing.
    Import {
        /// The JSON file `dumpdata auth.user` wrote.
        file: std::path::PathBuf,
        /// Which Django users become Gatehouse admins (key rotation, user and client
        /// management, the console): `superuser` (`is_superuser`), or `staff` (`is_staff`
        /// too, Django's support staff included).
        #[arg(long, value_enum, default_value_t = crate::accounts::import::AdminsFrom::Superuser)]
        admins_from: crate::accounts::import::AdminsFrom,
    },
}

/// One page of a listing; where a next page starts is printed on stderr.
#[derive(clap::Args, Debug)]
pub struct PageArgs {
    /// Only those whose name (a user's also their email) starts with this.
    #[arg(long)]
    prefix: Option<String>,
    /// Start after this name: the cursor a previous page named.
    #[arg(long)]
    after: Option<String>,
    /// How many (1 to 500).
    #[arg(long, default_value_t = crate::paging::DEFAULT_LIMIT)]
    limit: i64,
}

impl PageArgs {
    fn request(self) -> ListRequest {
        ListRequest {
            after: self.after,
            prefix: self.prefix,
            limit: Some(self.limit),
        }
    }
}

/// Tells where the next page starts, on stderr, so stdout holds only the rows.
fn more_after(next: Option<String>) {
    if let Some(next) = next {
        eprintln!("more: --after {next}");
    }
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register a client; prints a confidential client's secret once.
    Add {
        /// The client_id: letters, digits and -._~
        id: String,
        /// Where /authorize may send the browser back (exact match); needed for the
        /// authorization_code grant.
        #[arg(long = "redirect-uri", num_args = 1..)]
        redirect_uris: Vec<String>,
        /// Where /logout may send the browser afterwards (exact match).
        #[arg(long = "post-logout-redirect-uri", num_args = 1..)]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (a browser or mobile app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// Grants the client may use (default: authorization_code refresh_token).
        #[arg(long = "grant", num_args = 1.., value_parser = ["authorization_code", "refresh_token", "client_credentials", "password"])]
        grants: Vec<String>,
        /// Scopes the client may ask for (default: openid profile email offline_access).
        #[arg(long = "scope", num_args = 1..)]
        scopes: Vec<String>,
        /// Ask the user's consent before the first sign-in to this client.
        #[arg(long)]
        consent: bool,
        /// A resource server that may introspect tokens issued to other clients.
        #[arg(long)]
        introspect_any: bool,
        /// Print {"client_id","client_secret"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List clients, by client_id: id, kind, state, grants, redirect URIs.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Refuse the client at every endpoint; ends its refresh tokens.
    Disable {
        /// The client_id.
        id: String,
    },
    /// Accept a disabled client again.
    Enable {
        /// The client_id.
        id: String,
    },
    /// Delete a client, with its refresh tokens.
    Delete {
        /// The client_id.
        id: String,
    },
    /// Give a confidential client a new secret (printed once); the old one stops working.
    RotateSecret {
        /// The client_id.
        id: String,
        /// Print {"client_id","client_secret"} as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClientsCommand {
    /// Create and update the clients a TOML file declares, mark them managed, and disable
    /// (and unmanage) the managed clients it no longer declares; in one transaction.
    Apply {
        /// The clients file (TOML), as for CLIENTS_FILE.
        file: std::path::PathBuf,
        /// Print the changes and make none.
        #[arg(long)]
        dry_run: bool,
    },
}

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
    },
    /// Revoke one key, whatever its state: it leaves the JWKS and its tokens stop
    /// verifying; the keys behind it move up; its refresh families end.
    Revoke {
        /// The key id, as `keys list` and the JWKS show it.
        kid: String,
        /// Why (recorded in the audit trail with who did it).
        #[arg(long)]
        reason: String,
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
        Command::User(cmd) => user(&settings, cmd).await?,
        Command::Client(cmd) => client(&settings, cmd).await?,
        Command::Clients(ClientsCommand::Apply { file, dry_run }) => {
            apply_clients(&settings, &file, dry_run).await?
        }
        Command::Keys(cmd) => keys(&settings, cmd).await?,
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

/// One line from stdin, or a no-echo prompt (twice) on a terminal. Never from argv.
fn read_password(from_stdin: bool) -> anyhow::Result<Password> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let trimmed = line.trim_end_matches(['\n', '\r']).to_string();
        zeroize::Zeroize::zeroize(&mut line);
        return Ok(Password::new(trimmed));
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Password (again): ")?;
    if first != second {
        anyhow::bail!("the passwords do not match");
    }
    Ok(Password::new(first))
}

async fn user(settings: &Settings, cmd: UserCommand) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    let accounts = Accounts::new(
        db,
        Hasher::new(1),
        Clock::system(),
        settings.password_policy,
    )
    .with_mail(settings.smtp.is_some());
    match cmd {
        UserCommand::Add {
            name,
            email,
            admin,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let user = accounts
                .create_user(NewUserRequest {
                    username: name,
                    email,
                    password,
                    is_admin: admin,
                })
                .await?;
            println!(
                "created user {} (sub {}){}",
                user.username,
                user.id,
                if user.is_admin { ", admin" } else { "" }
            );
        }
        UserCommand::List { page } => {
            let page = accounts.list_users(page.request()).await?;
            for u in page.items {
                let flags = [(u.is_admin, "admin"), (u.disabled, "disabled")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, f)| *f)
                    .collect::<Vec<_>>()
                    .join(",");
                println!(
                    "{}\t{}\t{}\t{}",
                    u.username,
                    u.id,
                    u.email.as_deref().unwrap_or("-"),
                    flags
                );
            }
            more_after(page.next);
        }
        UserCommand::Disable { name } => {
            accounts
                .set_user_disabled(&name, true, LastAdmin::MayRemove)
                .await?;
            println!("disabled user {name}; their refresh tokens are revoked");
        }
        UserCommand::Enable { name } => {
            accounts
                .set_user_disabled(&name, false, LastAdmin::MayRemove)
                .await?;
            println!("enabled user {name}");
        }
        UserCommand::Delete { name } => {
            accounts.delete_user(&name, LastAdmin::MayRemove).await?;
            println!("deleted user {name}");
        }
        UserCommand::SetPassword {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            accounts.set_password(&name, password).await?;
            println!("password of {name} changed; their refresh tokens are revoked");
        }
        UserCommand::ResetLink { name, ttl } => {
            let link = accounts.issue_reset_link(&name, ttl.as_deref()).await?;
            println!("{}", link.url(&settings.issuer));
            eprintln!(
                "single-use link for {name}, valid until {}; a newer link voids it",
                utc_datetime(link.expires_at)
            );
        }
        UserCommand::Email(args) => crate::commands::email::run(&accounts, args).await?,
        UserCommand::Import { file, admins_from } => {
            crate::commands::import::run(&accounts, &file, admins_from).await?
        }
    }
    Ok(())
}

async fn client(settings: &Settings, cmd: ClientCommand) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    // Client commands hash no password: a hasher of one worker is never used.
    let accounts = Accounts::new(
        db,
        Hasher::new(1),
        Clock::system(),
        settings.password_policy,
    );
    match cmd {
        ClientCommand::Add {
            id,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            grants,
            scopes,
            consent,
            introspect_any,
            json,
        } => {
            let req = NewClientRequest {
                introspect_any,
                client_id: id,
                public,
                redirect_uris,
                post_logout_redirect_uris,
                grants,
                scopes,
                consent,
            };
            let (client, secret) = accounts.create_client(req).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "client_id": client.client_id, "client_secret": secret })
                );
            } else {
                println!(
                    "created client {} (grants: {}; scopes: {})",
                    client.client_id,
                    client.grants.join(" "),
                    client.scopes.join(" ")
                );
                if let Some(secret) = secret {
                    println!("client secret (shown once, store it now): {secret}");
                }
            }
        }
        ClientCommand::List { page } => {
            let page = accounts.list_clients(page.request()).await?;
            for c in page.items {
                let kind = if c.public { "public" } else { "confidential" };
                let state = if c.disabled { "disabled" } else { "enabled" };
                println!(
                    "{}\t{kind}\t{state}\t{}\t{}",
                    c.client_id,
                    c.grants.join(","),
                    c.redirect_uris.join(",")
                );
            }
            more_after(page.next);
        }
        ClientCommand::Disable { id } => {
            accounts.set_client_disabled(&id, true).await?;
            println!("disabled client {id}");
        }
        ClientCommand::Enable { id } => {
            accounts.set_client_disabled(&id, false).await?;
            println!("enabled client {id}");
        }
        ClientCommand::Delete { id } => {
            accounts.delete_client(&id).await?;
            println!("deleted client {id}");
        }
        ClientCommand::RotateSecret { id, json } => {
            let secret = accounts.rotate_client_secret(&id).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "client_id": id, "client_secret": secret })
                );
            } else {
                println!("new client secret for {id} (shown once): {secret}");
            }
        }
    }
    Ok(())
}

async fn apply_clients(
    settings: &Settings,
    file: &std::path::Path,
    dry_run: bool,
) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    let accounts = Accounts::new(
        db,
        Hasher::new(1),
        Clock::system(),
        settings.password_policy,
    );
    let env = |name: &str| std::env::var(name).ok();
    let declared = clients_file::read(file, &env, accounts.clock.now())?;
    let plan = accounts.apply_clients_file(declared, dry_run).await?;
    if dry_run {
        println!("dry run: nothing is changed");
    }
    for change in &plan.changes {
        println!("{change}");
    }
    if !plan.unchanged.is_empty() {
        println!("unchanged: {}", plan.unchanged.join(", "));
    }
    Ok(())
}

async fn keys(settings: &Settings, cmd: KeysCommand) -> anyhow::Result<()> {
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
            println!("KID\tSTATE\tBITS\tPUBLISHED\tACTIVATED\tRETIRED\tREMOVE_AFTER");
            let show = |t: Option<i64>| t.map(utc_datetime).unwrap_or_else(|| "-".into());
            for k in keys.list().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    k.kid,
                    k.state.as_str(),
                    k.bits,
                    utc_datetime(k.created_at),
                    show(k.activated_at),
                    show(k.retired_at.or(k.revoked_at)),
                    show(k.remove_after)
                );
            }
        }
        KeysCommand::Rotate { emergency } => {
            let kind = if emergency {
                RotationKind::Emergency
            } else {
                RotationKind::Manual
            };
            let outcome = keys.rotate(kind).await;
            spinner.finish_and_clear();
            print_key_change(&outcome?)?;
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
}
