//! The resource owner password credentials grant (RFC 6749 §4.3), for registered clients
//! only (RFC 9700 discourages it; it is kept for simplejwt users), and the simplejwt password
//! exchange of `/api/token/`, which issues to the built-in `simplejwt` client.

use super::{resolve_scope, GrantError};
use crate::accounts::login_guard::{LoginGuard, PasswordSurface};
use crate::accounts::MAX_PASSWORD_BYTES;
use crate::db::repo;
use crate::db::repo::clients::Client;
use crate::db::repo::users::User;
use crate::passwords::Password;
use crate::tokens::claims::Subject;
use crate::tokens::refresh::Pair;
use crate::tokens::Tokens;

/// The built-in client that `/api/token/` issues to (created by the migrations).
pub const SIMPLEJWT_CLIENT: &str = "simplejwt";

pub struct PasswordRequest {
    pub username: String,
    pub password: Password,
    pub scope: Option<String>,
    /// The caller's address, for the per-address failure window.
    pub client_addr: String,
}

/// `grant_type=password` at `/token`, for a client [`super::TokenRequest::parse`] allowed it.
pub async fn grant(
    tokens: &Tokens,
    guard: &LoginGuard,
    client: &Client,
    req: PasswordRequest,
) -> Result<Pair, GrantError> {
    let (username, password) = (req.username, req.password);
    if password.expose().len() > MAX_PASSWORD_BYTES || username.len() > 150 * 4 {
        return Err(GrantError::BadCredentials);
    }
    let scopes = resolve_scope(client, req.scope.as_deref(), &["admin", "offline_access"])?;
    let user = guard
        .check_password(
            &username,
            password,
            &req.client_addr,
            PasswordSurface::PasswordGrant,
        )
        .await?;
    if scopes.iter().any(|s| s == "admin") && !user.is_admin {
        return Err(GrantError::InvalidScope(
            "scope admin is only for admin users".into(),
        ));
    }
    let subject = user_subject(tokens, &user, client, scopes.join(" "));
    Ok(tokens
        .issue_pair(&subject, client.allows_grant("refresh_token"))
        .await?)
}

/// Why `/api/token/` issued nothing.
#[derive(Debug, thiserror::Error)]
pub enum ObtainError {
    /// An operator disabled the built-in `simplejwt` client.
    #[error("the simplejwt endpoints are disabled")]
    Disabled,
    #[error(transparent)]
    Grant(#[from] GrantError),
}

/// `POST /api/token/`: a pair for the `simplejwt` client with its registered scopes.
pub async fn obtain_simplejwt(
    tokens: &Tokens,
    guard: &LoginGuard,
    username: &str,
    password: Password,
    client_addr: &str,
) -> Result<Pair, ObtainError> {
    let client = tokens
        .db
        .run(|conn| repo::clients::find(conn, SIMPLEJWT_CLIENT))
        .await
        .map_err(GrantError::from)?
        .filter(|c| !c.disabled)
        .ok_or(ObtainError::Disabled)?;
    let user = guard
        .check_password(username, password, client_addr, PasswordSurface::SimpleJwt)
        .await
        .map_err(GrantError::from)?;
    let subject = user_subject(tokens, &user, &client, client.scopes.join(" "));
    Ok(tokens
        .issue_pair(&subject, true)
        .await
        .map_err(GrantError::from)?)
}

/// Whom a user's tokens are for.
pub fn user_subject(tokens: &Tokens, user: &User, client: &Client, scope: String) -> Subject {
    Subject {
        sub: user.id.clone(),
        user_id: Some(user.user_id().to_string()),
        client_id: client.client_id.clone(),
        scope,
        audience: tokens.policy.default_audience.clone(),
        alg: tokens.access_alg(client),
    }
}
