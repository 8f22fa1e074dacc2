//! The grants of `POST /token` (RFC 6749), one per file, and the password exchange of
//! `/api/token/`. Each takes the authenticated client and the parsed request and returns
//! what was issued; errors carry the RFC 6749 §5.2 meaning, not an HTTP shape.

pub mod authorization_code;
pub mod client_credentials;
pub mod password;
pub mod refresh_token;
pub mod request;
#[cfg(test)]
mod testing;

pub use request::{TokenFields, TokenRequest};

use crate::accounts::login_guard::{GuardError, LoginGuard};
use crate::db::repo::clients::Client;
use crate::db::DbError;
use crate::domain::split_scope;
use crate::error::Internal;
use crate::sso::code::CodeError;
use crate::tokens::issue::IssueError;
use crate::tokens::refresh::Pair;
use crate::tokens::refresh::{RefreshError, RefreshRefusal};
use crate::tokens::verify::TokenError;
use crate::tokens::Tokens;

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
    #[error("{0}")]
    UnsupportedGrantType(String),
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

/// What a token request issued: the pair and, for a code with scope `openid`, the id_token.
pub struct Issued {
    pub pair: Pair,
    pub id_token: Option<String>,
}

/// Issues what `request` asks of `client` (the one entry of `POST /token`).
pub async fn issue(
    tokens: &Tokens,
    guard: &LoginGuard,
    client: &Client,
    request: TokenRequest,
) -> Result<Issued, GrantError> {
    let pair = match request {
        TokenRequest::Password {
            username,
            password,
            scope,
            client_addr,
        } => {
            let request = password::PasswordRequest {
                username,
                password,
                scope,
                client_addr,
            };
            password::grant(tokens, guard, client, request).await?
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => refresh_token::grant(tokens, client, &refresh_token, scope.as_deref()).await?,
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::grant(tokens, client, scope.as_deref()).await?
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let request = authorization_code::CodeRequest {
                code: &code,
                redirect_uri: redirect_uri.as_deref(),
                code_verifier: code_verifier.as_deref(),
            };
            return authorization_code::grant(tokens, client, request).await;
        }
    };
    Ok(Issued {
        pair,
        id_token: None,
    })
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
