//! A user's sessions as an admin sees and ends them (`gatehouse user sessions`, the admin
//! API, the console): when each started, was last used and ends, where it signed in from
//! (address, browser), and the applications signed in through it. Each end is audited and notifies those applications (see `backchannel`).

use super::{backchannel, Sso};
use crate::audit::{self, Event, Kind};
use crate::db::{repo, DbError};

/// One live session.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionView {
    /// The session id the applications know (the `sid` of their id_tokens).
    pub sid: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// When it was last used (at most a minute behind; its start when not since).
    pub last_used_at: i64,
    /// The client address it signed in from (`None` for sessions older than the record).
    pub address: Option<String>,
    /// A short description of its browser, e.g. "Firefox 128 on Linux".
    pub browser: Option<String>,
    /// The applications signed in through it, first signed in first.
    pub clients: Vec<SessionClient>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionClient {
    pub client_id: String,
    /// When the session last signed in to it.
    pub last_at: i64,
}

/// Which of a user's sessions to end.
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    One(&'a str),
    All,
    /// Every one but this (the session asking).
    AllBut(&'a str),
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("user {0} not found")]
    UnknownUser(String),
    #[error("session not found")]
    UnknownSession,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl Sso {
    /// The user's live sessions, newest first.
    pub async fn user_sessions(&self, username: &str) -> Result<Vec<SessionView>, SessionError> {
        let name = username.to_string();
        let now = self.clock.now();
        self.db
            .run(move |conn| {
                let user = repo::users::find_by_username(conn, &name)?
                    .ok_or(SessionError::UnknownUser(name))?;
                let mut out = vec![];
                for s in repo::logout::live_sessions_of_user(conn, &user.id, now)? {
                    let clients = repo::logout::session_clients(conn, &s.sid)?
                        .into_iter()
                        .map(|(client_id, last_at)| SessionClient { client_id, last_at })
                        .collect();
                    out.push(SessionView {
                        sid: s.sid,
                        created_at: s.created_at,
                        expires_at: s.expires_at,
                        last_used_at: s.last_used_at.unwrap_or(s.created_at),
                        address: s.address,
                        browser: s.browser,
                        clients,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// Ends the user's live sessions that `which` names; returns how many ended. A sid that
    /// is not a live session of this user is `UnknownSession`.
    pub async fn end_user_sessions(
        &self,
        username: &str,
        which: Ending<'_>,
    ) -> Result<usize, SessionError> {
        let name = username.to_string();
        let which = match which {
            Ending::One(sid) => (Some(sid.to_string()), None),
            Ending::All => (None, None),
            Ending::AllBut(sid) => (None, Some(sid.to_string())),
        };
        let now = self.clock.now();
        let ctx = audit::current_context();
        let ended = self
            .db
            .write(move |conn| {
                let user = repo::users::find_by_username(conn, &name)?
                    .ok_or_else(|| SessionError::UnknownUser(name.clone()))?;
                let live = repo::logout::live_sids_of_user(conn, &user.id, now)?;
                let chosen: Vec<String> = match &which {
                    (Some(sid), _) if live.contains(sid) => vec![sid.clone()],
                    (Some(_), _) => return Err(SessionError::UnknownSession),
                    (None, Some(keep)) => live.into_iter().filter(|s| s != keep).collect(),
                    (None, None) => live,
                };
                let ended = backchannel::end_sessions(conn, &chosen, now)?;
                for sid in &ended {
                    audit::record_in(
                        conn,
                        &ctx,
                        now,
                        Event::success(Kind::SessionEnded, &name).detail(format!("session {sid}")),
                    )?;
                }
                Ok(ended.len())
            })
            .await?;
        self.outbox.wake();
        Ok(ended)
    }
}
