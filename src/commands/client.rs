//! `gatehouse client …` and `gatehouse clients apply`: the arguments and the bodies of the
//! client commands.

use clap::Subcommand;

use super::sessions::{endpoints_line, LogoutArgs};
use super::{more_after, PageArgs};
use crate::accounts::{clients_file, Accounts, NewClientRequest};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::alg::AlgSet;
use crate::passwords::Hasher;
use crate::sso::Sso;
use crate::startup;

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
        /// Sign its access and refresh tokens with RS256, ES256 or EdDSA (one of
        /// SIGNING_ALGS; default ACCESS_TOKEN_ALG).
        // Not `access_token_alg`: that is the setting's id (`--default-access-token-alg`).
        #[arg(long = "access-token-alg")]
        access_alg: Option<crate::keys::Alg>,
        /// Sign its id_tokens with RS256, ES256 or EdDSA (one of SIGNING_ALGS; default RS256).
        #[arg(long)]
        id_token_alg: Option<crate::keys::Alg>,
        /// Every user signing in to it must pass a second factor (set one up first if they
        /// have none).
        #[arg(long)]
        require_mfa: bool,
        /// Where the client hears that a session ended (back-channel, front-channel).
        #[command(flatten)]
        logout: LogoutArgs,
        /// Print {"client_id","client_secret"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a client's logout endpoints (the other fields: delete and add it again, or
    /// declare it in CLIENTS_FILE); an absent flag leaves the value as it is.
    Update {
        /// The client_id.
        id: String,
        #[command(flatten)]
        logout: LogoutArgs,
    },
    /// Show one client: kind, state, grants, scopes, URIs and logout endpoints.
    Show {
        /// The client_id.
        id: String,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List clients, by client_id: id, kind, state, grants, redirect URIs, back-channel
    /// logout URI.
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
    /// Show or register the client's logout endpoints (back-channel, front-channel).
    Logout(crate::commands::sessions::ClientLogoutArgs),
    /// Require a second factor of everyone who signs in to the client (policy): a user
    /// without one sets it up at the sign-in; the password grant refuses. --off lifts it.
    RequireMfa {
        /// The client_id.
        id: String,
        /// No longer require it.
        #[arg(long)]
        off: bool,
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

pub async fn client(settings: &Settings, cmd: ClientCommand) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    let sso = Sso::new(
        db.clone(),
        Clock::system(),
        crate::policies::sso_policy(settings),
    );
    // Client commands hash no password: a hasher of one worker is never used.
    let accounts = Accounts::new(
        db,
        Hasher::new(1),
        Clock::system(),
        settings.password_policy,
        AlgSet::of(&settings.signing_algs),
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
            access_alg,
            id_token_alg,
            require_mfa,
            logout,
            json,
        } => {
            let req = NewClientRequest {
                introspect_any,
                access_token_alg: access_alg,
                id_token_alg,
                client_id: id,
                public,
                redirect_uris,
                post_logout_redirect_uris,
                grants,
                scopes,
                consent,
            };
            let logout = logout.applied_to(Default::default());
            let (client, secret) = accounts
                .create_client_with_logout(req, logout, &settings.issuer, require_mfa)
                .await?;
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
        ClientCommand::Update { id, logout } => {
            let current = sso.logout_endpoints(&id).await?;
            if logout.any() {
                sso.set_logout_endpoints(logout.applied_to(current)).await?;
            }
            let e = sso.logout_endpoints(&id).await?;
            println!("{id}: {}", endpoints_line(&e));
        }
        ClientCommand::Show { id, json } => {
            let client = accounts.find_client(&id).await?;
            let e = sso.logout_endpoints(&id).await?;
            show_client(&client, &e, json)?;
        }
        ClientCommand::List { page } => {
            let page = accounts.list_clients(page.request()).await?;
            let ids = page.items.iter().map(|c| c.client_id.clone()).collect();
            let registered = sso.logout_endpoints_of(ids).await?;
            for c in page.items {
                let kind = if c.public { "public" } else { "confidential" };
                let state = if c.disabled { "disabled" } else { "enabled" };
                let backchannel = registered
                    .iter()
                    .find(|e| e.client_id == c.client_id)
                    .and_then(|e| e.backchannel_logout_uri.as_deref())
                    .unwrap_or("-");
                println!(
                    "{}\t{kind}\t{state}\t{}\t{}\t{backchannel}",
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
        ClientCommand::Logout(args) => {
            crate::commands::sessions::client_logout(settings, args).await?;
        }
        ClientCommand::RequireMfa { id, off } => {
            crate::commands::factors::require_of_client(&accounts, &id, !off).await?
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

/// `client show`: one `field: value` a line, or JSON (never the secret's digest).
fn show_client(
    c: &crate::accounts::clients::Client,
    e: &crate::sso::backchannel::endpoints::LogoutEndpoints,
    json: bool,
) -> anyhow::Result<()> {
    let kind = if c.public { "public" } else { "confidential" };
    let state = if c.disabled { "disabled" } else { "enabled" };
    let access_alg = c.access_token_alg.map_or("default", |a| a.as_str());
    if json {
        let shown = serde_json::json!({
            "client_id": c.client_id,
            "kind": kind,
            "disabled": c.disabled,
            "managed": c.managed,
            "grants": c.grants,
            "scopes": c.scopes,
            "redirect_uris": c.redirect_uris,
            "post_logout_redirect_uris": c.post_logout_redirect_uris,
            "consent": c.consent,
            "introspect_any": c.introspect_any,
            "access_token_alg": c.access_token_alg.map(|a| a.as_str()),
            "id_token_alg": c.id_token_alg.as_str(),
            "backchannel_logout_uri": e.backchannel_logout_uri,
            "backchannel_logout_session_required": e.backchannel_logout_session_required,
            "frontchannel_logout_uri": e.frontchannel_logout_uri,
            "frontchannel_logout_session_required": e.frontchannel_logout_session_required,
        });
        println!("{}", serde_json::to_string_pretty(&shown)?);
        return Ok(());
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(" ")
        }
    };
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    let lines = [
        ("client_id", c.client_id.clone()),
        ("kind", kind.into()),
        ("state", state.into()),
        ("managed", c.managed.to_string()),
        ("grants", list(&c.grants)),
        ("scopes", list(&c.scopes)),
        ("redirect_uris", list(&c.redirect_uris)),
        (
            "post_logout_redirect_uris",
            list(&c.post_logout_redirect_uris),
        ),
        ("consent", c.consent.to_string()),
        ("introspect_any", c.introspect_any.to_string()),
        ("access_token_alg", access_alg.into()),
        ("id_token_alg", c.id_token_alg.as_str().into()),
        ("backchannel_logout_uri", or_none(&e.backchannel_logout_uri)),
        (
            "backchannel_logout_session_required",
            e.backchannel_logout_session_required.to_string(),
        ),
        (
            "frontchannel_logout_uri",
            or_none(&e.frontchannel_logout_uri),
        ),
        (
            "frontchannel_logout_session_required",
            e.frontchannel_logout_session_required.to_string(),
        ),
    ];
    for (field, value) in lines {
        println!("{field}: {value}");
    }
    Ok(())
}

pub async fn apply_clients(
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
        AlgSet::of(&settings.signing_algs),
    );
    let env = |name: &str| std::env::var(name).ok();
    let declared = clients_file::read(
        file,
        &env,
        accounts.clock.now(),
        accounts.signing_algs,
        &settings.issuer,
    )?;
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
