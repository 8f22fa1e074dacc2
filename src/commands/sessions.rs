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
    /// Print the sessions as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `gatehouse client logout`.
#[derive(clap::Args, Debug)]
pub struct ClientLogoutArgs {
    /// The client_id.
    pub id: String,
    /// Where the client receives back-channel logout tokens (POST logout_token=…); https
    /// unless the issuer is http on loopback. An empty value removes it.
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// The client wants `sid` in logout tokens (Gatehouse always sends it).
    #[arg(long)]
    pub backchannel_logout_session_required: bool,
    /// A page the logout page loads in a hidden iframe (with iss and sid) for clients that
    /// cannot receive a back-channel POST. An empty value removes it.
    #[arg(long)]
    pub frontchannel_logout_uri: Option<String>,
    /// Add `iss` and `sid` to the front-channel URI.
    #[arg(long)]
    pub frontchannel_logout_session_required: bool,
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(&sessions)?);
        return Ok(());
    }
    for s in &sessions {
        let clients: Vec<&str> = s.clients.iter().map(|c| c.client_id.as_str()).collect();
        println!(
            "{}  started {}  ends {}  applications: {}",
            s.sid,
            utc_datetime(s.created_at),
            utc_datetime(s.expires_at),
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
    Ok(())
}

pub async fn client_logout(settings: &Settings, args: ClientLogoutArgs) -> anyhow::Result<()> {
    let sso = sso(settings).await?;
    let changes = args.backchannel_logout_uri.is_some()
        || args.frontchannel_logout_uri.is_some()
        || args.backchannel_logout_session_required
        || args.frontchannel_logout_session_required;
    if changes {
        let current = sso.logout_endpoints(&args.id).await?;
        sso.set_logout_endpoints(LogoutEndpoints {
            client_id: args.id.clone(),
            backchannel_logout_uri: args
                .backchannel_logout_uri
                .or(current.backchannel_logout_uri),
            backchannel_logout_session_required: args.backchannel_logout_session_required
                || current.backchannel_logout_session_required,
            frontchannel_logout_uri: args
                .frontchannel_logout_uri
                .or(current.frontchannel_logout_uri),
            frontchannel_logout_session_required: args.frontchannel_logout_session_required
                || current.frontchannel_logout_session_required,
        })
        .await?;
    }
    let e = sso.logout_endpoints(&args.id).await?;
    println!(
        "{}: back-channel {}{}; front-channel {}{}",
        args.id,
        e.backchannel_logout_uri.as_deref().unwrap_or("none"),
        if e.backchannel_logout_session_required {
            " (session required)"
        } else {
            ""
        },
        e.frontchannel_logout_uri.as_deref().unwrap_or("none"),
        if e.frontchannel_logout_session_required {
            " (session required)"
        } else {
            ""
        },
    );
    Ok(())
}
