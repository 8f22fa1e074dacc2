//! The grants of `POST /token` (RFC 6749), one per file, and the password exchange of
//! `/api/token/`. Each takes the authenticated client and the parsed request and returns
//! what was issued; errors carry the RFC 6749 §5.2 meaning, not an HTTP shape.

pub mod authorization_code;
pub mod client_credentials;
pub mod password;
pub mod refresh_token;

use crate::accounts::login_guard::GuardError;
use crate::db::repo::clients::Client;
use crate::db::DbError;
use crate::domain::split_scope;
use crate::error::Internal;
use crate::sso::code::CodeError;
use crate::tokens::issue::IssueError;
use crate::tokens::refresh::{RefreshError, RefreshRefusal};
use crate::tokens::verify::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    /// Wrong password, unknown or disabled user: one answer for all.
    #[error("invalid username or password")]
    BadCredentials,
    /// Too many failed sign-ins for the username or the client address; seconds to wait.
    #[error("too many failed sign-ins")]
    Throttled(i64),
    /// A refresh token that is spent (reuse), revoked, expired or otherwise not live.
    #[error("{0}")]
    Refresh(RefreshRefusal),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<DbError> for GrantError {
    fn from(e: DbError) -> Self {
        GrantError::Internal(e.into())
    }
}

impl From<IssueError> for GrantError {
    fn from(e: IssueError) -> Self {
        GrantError::Internal(e.into())
    }
}

impl From<GuardError> for GrantError {
    fn from(e: GuardError) -> Self {
        match e {
            GuardError::BadCredentials => GrantError::BadCredentials,
            GuardError::Throttled(wait) => GrantError::Throttled(wait),
            GuardError::Internal(i) => GrantError::Internal(i),
        }
    }
}

impl From<RefreshError> for GrantError {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::Refused(refusal) => GrantError::Refresh(refusal),
            RefreshError::Db(db) => db.into(),
            RefreshError::Issue(i) => i.into(),
        }
    }
}

impl From<TokenError> for GrantError {
    fn from(e: TokenError) -> Self {
        GrantError::Refresh(RefreshRefusal::Token(e))
    }
}

impl From<CodeError> for GrantError {
    fn from(e: CodeError) -> Self {
        match e {
            CodeError::Db(db) => db.into(),
            other => GrantError::InvalidGrant(other.to_string()),
        }
    }
}

/// The client must be registered for the grant (RFC 6749 §5.2 `unauthorized_client`).
pub fn require_grant(client: &Client, grant: &str) -> Result<(), GrantError> {
    if client.allows_grant(grant) {
        Ok(())
    } else {
        Err(GrantError::UnauthorizedClient(format!(
            "client is not allowed the {grant} grant"
        )))
    }
}

/// The granted scope: the request's (each token registered for the client) or, by
/// default, the client's scopes minus those that must be asked for by name.
pub fn resolve_scope(
    client: &Client,
    requested: Option<&str>,
    default_excludes: &[&str],
) -> Result<Vec<String>, GrantError> {
    match requested {
        Some(s) if !s.trim().is_empty() => {
            let scopes = split_scope(s);
            if let Some(bad) = scopes.iter().find(|s| !client.allows_scope(s)) {
                return Err(GrantError::InvalidScope(format!(
                    "scope {:?} is not registered for this client",
                    truncate(bad)
                )));
            }
            Ok(scopes)
        }
        _ => Ok(client
            .scopes
            .iter()
            .filter(|s| !default_excludes.contains(&s.as_str()))
            .cloned()
            .collect()),
    }
}

/// At most 64 characters of something the client sent, for an error description.
pub fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
