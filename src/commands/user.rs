//! `gatehouse user …`: the arguments and the bodies of the user commands.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;

use super::{more_after, PageArgs};
use crate::accounts::{Accounts, LastAdmin, NewUserRequest};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::alg::AlgSet;
use crate::domain::utc_datetime;
use crate::passwords::{Hasher, Password};
use crate::startup;

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
    /// List a user's live sessions (started, ends, applications signed in); end one or all,
    /// notifying their applications.
    Sessions(crate::commands::sessions::SessionsArgs),
    /// Show a user's second factors (an authenticator app, recovery codes left); never a
    /// secret.
    Factors {
        /// The username.
        name: String,
    },
    /// Remove a user's authenticator app and recovery codes (a lost phone): their password
    /// alone signs them in until they set up an app again.
    RemoveFactors {
        /// The username.
        name: String,
    },
    /// Require a second factor of a user (policy): without one, their next browser sign-in
    /// sets up an authenticator app before going on; the password grant and /api/token/
    /// refuse them until then. --off lifts the requirement.
    RequireMfa {
        /// The username.
        name: String,
        /// No longer require it.
        #[arg(long)]
        off: bool,
    },
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

/// One line from stdin, or a no-echo prompt (twice) on a terminal. Never from argv.
pub fn read_password(from_stdin: bool) -> anyhow::Result<Password> {
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

pub async fn user(settings: &Settings, cmd: UserCommand) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    let accounts = Accounts::new(
        db,
        Hasher::new(1),
        Clock::system(),
        settings.password_policy,
        AlgSet::of(&settings.signing_algs),
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
                let flags = [
                    (u.is_admin, "admin"),
                    (u.disabled, "disabled"),
                    (u.require_mfa, "mfa-required"),
                ]
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
        UserCommand::Sessions(args) => {
            crate::commands::sessions::user_sessions(settings, args).await?;
        }
        UserCommand::Factors { name } => crate::commands::factors::show(&accounts, &name).await?,
        UserCommand::RemoveFactors { name } => {
            crate::commands::factors::remove(&accounts, &name).await?
        }
        UserCommand::RequireMfa { name, off } => {
            crate::commands::factors::require_of_user(&accounts, &name, !off).await?
        }
        UserCommand::Import { file, admins_from } => {
            crate::commands::import::run(&accounts, &file, admins_from).await?
        }
    }
    Ok(())
}
