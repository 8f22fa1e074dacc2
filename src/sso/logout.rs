//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): with a valid
//! `id_token_hint` that belongs to the browser's current session (same `sub` and `sid`) the
//! session ends at once; without one, or with someone else's, the user confirms first, so
//! neither an `<img src=/logout>` nor a link carrying an attacker's own id_token logs the
//! victim out. The browser is sent on only to a URI registered for the client.

use super::{authorize, session, Sso};
use crate::db::{repo, DbError};
use crate::error::Internal;
use crate::tokens::Tokens;

/// The parameters of `/logout`, as sent.
#[derive(Debug, Default, Clone)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("client_id does not match the id_token_hint.")]
    ClientMismatch,
    #[error("The post_logout_redirect_uri is not registered for this application.")]
    UnregisteredRedirect,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<DbError> for LogoutError {
    fn from(e: DbError) -> Self {
        LogoutError::Internal(e.into())
    }
}

/// What `GET /logout` does.
pub enum Logout {
    /// The session ended; send the browser here, or show "signed out"; first load the
    /// front-channel logout URIs of its clients, if any.
    Ended {
        redirect: Option<String>,
        frontchannel: Vec<String>,
    },
    /// Ask the user to confirm (a POST with a CSRF token); the client named by the request
    /// or its id_token_hint, whose registered URI the confirmation may go on to.
    Confirm {
        client_id: Option<String>,
        /// Where the confirmed logout will send the browser (already validated).
        redirect: Option<String>,
    },
}

impl Sso {
    /// `GET /logout`.
    pub async fn logout(
        &self,
        tokens: &Tokens,
        req: &LogoutRequest,
        session_cookie: Option<&str>,
    ) -> Result<Logout, LogoutError> {
        let keys = tokens.keys.snapshot();
        let hint = req
            .id_token_hint
            .as_deref()
            .and_then(|t| tokens.verifier(&keys).id_token_hint(t).ok());
        if let Some(claims) = &hint {
            if req.client_id.as_deref().is_some_and(|c| c != claims.aud) {
                return Err(LogoutError::ClientMismatch);
            }
        }
        // The hint names the client when the request does not.
        let client_id = req
            .client_id
            .clone()
            .or(hint.as_ref().map(|c| c.aud.clone()));
        // Validated now, so that the confirmation cannot be abused as a redirector either.
        let redirect = self.logout_target(client_id.as_deref(), req).await?;
        let now = self.clock.now();
        let current = match session_cookie {
            Some(c) => session::find(&self.db, c, now).await?,
            None => None,
        };
        let ours = match (&hint, &current) {
            (Some(claims), Some((session, user))) => {
                claims.sub == user.id && claims.sid == session.sid
            }
            _ => false,
        };
        if !ours {
            return Ok(Logout::Confirm {
                client_id,
                redirect,
            });
        }
        let frontchannel = self.end_session(session_cookie, None).await?;
        Ok(Logout::Ended {
            redirect,
            frontchannel,
        })
    }

    /// `POST /logout`: the user confirmed (the caller checked the CSRF token). Where to send
    /// the browser, and the front-channel URIs to load first.
    pub async fn logout_confirmed(
        &self,
        req: &LogoutRequest,
        session_cookie: Option<&str>,
    ) -> Result<(Option<String>, Vec<String>), LogoutError> {
        let client_id = req.client_id.as_deref().filter(|c| !c.is_empty());
        let redirect = self.logout_target(client_id, req).await?;
        let frontchannel = self.end_session(session_cookie, None).await?;
        Ok((redirect, frontchannel))
    }

    /// Where to send the browser after logout: only a URI registered for the client.
    async fn logout_target(
        &self,
        client_id: Option<&str>,
        req: &LogoutRequest,
    ) -> Result<Option<String>, LogoutError> {
        let uri = req
            .post_logout_redirect_uri
            .as_deref()
            .filter(|u| !u.is_empty());
        let (Some(cid), Some(uri)) = (client_id, uri) else {
            return Ok(None);
        };
        let cid = cid.to_string();
        let client = self
            .db
            .run(move |conn| repo::clients::find(conn, &cid))
            .await?;
        match client {
            Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => {
                let state = req.state.as_deref().filter(|s| !s.is_empty());
                Ok(Some(match state {
                    Some(s) => authorize::redirect_with(uri, &[("state", s)]),
                    None => uri.to_string(),
                }))
            }
            _ => Err(LogoutError::UnregisteredRedirect),
        }
    }

    /// Ends the browser's session and, with an id_token's `sid`, that session too; returns
    /// the front-channel logout URIs of the browser's session's clients.
    async fn end_session(
        &self,
        cookie: Option<&str>,
        sid: Option<&str>,
    ) -> Result<Vec<String>, DbError> {
        let now = self.clock.now();
        let hash = cookie.map(crate::digest::digest_hex);
        let sid = sid.map(str::to_string);
        let issuer = self.issuer.clone();
        let frontchannel = self
            .db
            .write(move |conn| {
                let mut sids: Vec<String> = sid.into_iter().collect();
                let mut frontchannel = vec![];
                if let Some(hash) = hash {
                    if let Some(s) = repo::logout::open_session_by_hash(conn, &hash)? {
                        frontchannel =
                            super::backchannel::frontchannel_uris(conn, &s.sid, &issuer)?;
                        sids.push(s.sid);
                    }
                }
                super::backchannel::end_sessions(conn, &sids, now)?;
                Ok::<_, DbError>(frontchannel)
            })
            .await?;
        self.outbox.wake();
        Ok(frontchannel)
    }
}
