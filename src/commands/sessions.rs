//! `gatehouse user sessions NAME` (list a user's live sessions, end one or all) and
//! `gatehouse client logout ID` (show or register a client's logout endpoints): the same use
//! cases as the admin API and the console. A session ended here is notified by the running
//! servers' outbox delivery (their next poll picks the notifications up).

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::utc_datetime;
use crate::sso::backchannel::endpoints::LogoutEndpoints;
use crate::sso::sessions::Ending;
use crate::sso::Sso;
use crate::startup;

/// `gatehouse user sessions`.
#[derive(clap::Args, Debug)]
pub struct SessionsArgs {
    /// The username.
    pub name: String,
    /// End this session (its sid, as listed); its applications are notified.
    #[arg(long, conflicts_with = "end_all")]
    pub end: Option<String>,
    /// End every live session of the user; their applications are notified.
    #[arg(long)]
    pub end_all: bool,
    /// End one application's offline access (its refresh family, by the id listed under
    /// "offline access"), which no logout ends.
    #[arg(long, value_name = "ID", conflicts_with_all = ["end", "end_all"])]
    pub revoke_offline: Option<String>,
    /// Print the sessions as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `gatehouse client logout` (the same as `client update` with logout flags only).
#[derive(clap::Args, Debug)]
pub struct ClientLogoutArgs {
    /// The client_id.
    pub id: String,
    #[command(flatten)]
    pub logout: LogoutArgs,
}

/// A client's logout endpoints as `client add`, `client update` and `client logout` take
/// them; an absent flag leaves the stored value as it is.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct LogoutArgs {
    /// Where the client receives back-channel logout tokens (POST logout_token=…); https
    /// unless the issuer is http on loopback; no fragment. An empty value removes it.
    #[arg(long, value_name = "URL")]
    pub backchannel_logout_uri: Option<String>,
    /// The client wants `sid` in logout tokens (Gatehouse always sends it); `=false` clears it.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub backchannel_logout_session_required: Option<bool>,
    /// A page the logout page loads in a hidden iframe, for a client that cannot receive a
    /// back-channel POST; same rule as the back-channel URI. An empty value removes it.
    #[arg(long, value_name = "URL")]
    pub frontchannel_logout_uri: Option<String>,
    /// Add `iss` and `sid` to the front-channel URI; `=false` clears it.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub frontchannel_logout_session_required: Option<bool>,
}

impl LogoutArgs {
    /// Whether any flag was given.
    pub fn any(&self) -> bool {
        self.backchannel_logout_uri.is_some()
            || self.backchannel_logout_session_required.is_some()
            || self.frontchannel_logout_uri.is_some()
            || self.frontchannel_logout_session_required.is_some()
    }

    /// `current` with the flags given applied; removing a URI ("") clears its
    /// session-required flag unless that flag is given too.
    pub fn applied_to(self, current: LogoutEndpoints) -> LogoutEndpoints {
        let removed = |uri: &Option<String>| uri.as_deref().is_some_and(|u| u.trim().is_empty());
        let (back_removed, front_removed) = (
            removed(&self.backchannel_logout_uri),
            removed(&self.frontchannel_logout_uri),
        );
        LogoutEndpoints {
            backchannel_logout_uri: self
                .backchannel_logout_uri
                .or(current.backchannel_logout_uri),
            backchannel_logout_session_required: self
                .backchannel_logout_session_required
                .unwrap_or(current.backchannel_logout_session_required && !back_removed),
            frontchannel_logout_uri: self
                .frontchannel_logout_uri
                .or(current.frontchannel_logout_uri),
            frontchannel_logout_session_required: self
                .frontchannel_logout_session_required
                .unwrap_or(current.frontchannel_logout_session_required && !front_removed),
            client_id: current.client_id,
        }
    }
}

/// A client's logout endpoints on one line, as `client show`, `client update` and `client
/// logout` print them.
pub fn endpoints_line(e: &LogoutEndpoints) -> String {
    let required = |yes: bool| if yes { " (session required)" } else { "" };
    format!(
        "back-channel {}{}; front-channel {}{}",
        e.backchannel_logout_uri.as_deref().unwrap_or("none"),
        required(e.backchannel_logout_session_required),
        e.frontchannel_logout_uri.as_deref().unwrap_or("none"),
        required(e.frontchannel_logout_session_required),
    )
}

async fn sso(settings: &Settings) -> anyhow::Result<Sso> {
    let db = startup::open_database(settings).await?;
    Ok(Sso::new(
        db,
        Clock::system(),
        crate::policies::sso_policy(settings),
    ))
}

pub async fn user_sessions(settings: &Settings, args: SessionsArgs) -> anyhow::Result<()> {
    let sso = sso(settings).await?;
    if let Some(id) = &args.revoke_offline {
        sso.revoke_offline_grant(&args.name, id).await?;
        println!("ended offline access {id} of {}", args.name);
        return Ok(());
    }
    if args.end_all || args.end.is_some() {
        let which = match args.end.as_deref() {
            Some(sid) => Ending::One(sid),
            None => Ending::All,
        };
        let ended = sso.end_user_sessions(&args.name, which).await?;
        println!("ended {ended} session(s) of {}", args.name);
        return Ok(());
    }
    let sessions = sso.user_sessions(&args.name).await?;
    let offline = sso.offline_grants(&args.name).await?;
    if args.json {
        let both = serde_json::json!({ "sessions": sessions, "offline_access": offline });
        println!("{}", serde_json::to_string_pretty(&both)?);
        return Ok(());
    }
    for s in &sessions {
        let clients: Vec<&str> = s.clients.iter().map(|c| c.client_id.as_str()).collect();
        println!(
            "{}  started {}  last used {}  ends {}  from {} ({})  applications: {}",
            s.sid,
            utc_datetime(s.created_at),
            utc_datetime(s.last_used_at),
            utc_datetime(s.expires_at),
            s.address.as_deref().unwrap_or("-"),
            s.browser.as_deref().unwrap_or("-"),
            if clients.is_empty() {
                "-".to_string()
            } else {
                clients.join(", ")
            }
        );
    }
    if sessions.is_empty() {
        eprintln!("{} has no live session", args.name);
    }
    if !offline.is_empty() {
        println!("offline access (outlives a logout; --revoke-offline ID ends one):");
        for g in &offline {
            println!(
                "{}  {}  since {}  ends {}",
                g.id,
                g.client_id,
                utc_datetime(g.created_at),
                utc_datetime(g.expires_at)
            );
        }
    }
    Ok(())
}

pub async fn client_logout(settings: &Settings, args: ClientLogoutArgs) -> anyhow::Result<()> {
    let sso = sso(settings).await?;
    if args.logout.any() {
        let current = sso.logout_endpoints(&args.id).await?;
        sso.set_logout_endpoints(args.logout.applied_to(current))
            .await?;
    }
    let e = sso.logout_endpoints(&args.id).await?;
    println!("{}: {}", args.id, endpoints_line(&e));
    Ok(())
}
