//! RFC 7662 token introspection: active only for a live token (see [`super::live`]). A client learns only
//! about its own tokens, unless it is registered as a resource server that may introspect
//! others' (`introspect_any`, §4: the server decides what to reveal to whom).

use super::claims::{AccessClaims, RefreshClaims};
use super::live::NotLive;
use super::verify::TokenError;
use super::Tokens;
use crate::db::repo::clients::Client;
use crate::db::{repo, DbError};
use crate::error::Internal;

#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    /// §2.1, §4: a public client presents no credentials, so naming one (the built-in
    /// `simplejwt` client, say) authenticates nobody and would open the endpoint to token
    /// scanning.
    #[error("public clients may not introspect")]
    PublicClient,
    #[error("token is required")]
    TokenRequired,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<DbError> for IntrospectError {
    fn from(e: DbError) -> Self {
        IntrospectError::Internal(e.into())
    }
}

/// The answer of §2.2: nothing about an inactive token; a live one's claims, its type and,
/// for a user's token, the user's name.
pub enum Introspected {
    Inactive,
    /// Boxed: the claims are large, and most answers of a scan are inactive.
    Active(Box<ActiveClaims>),
}

pub struct ActiveClaims {
    /// An access token's claims, or a refresh token's (the same names).
    pub claims: AccessClaims,
    /// `Bearer` or `refresh_token`.
    pub token_type: &'static str,
    pub username: Option<String>,
}

/// A refresh token's claims under the names introspection shares with access tokens.
fn as_access_claims(c: RefreshClaims) -> AccessClaims {
    AccessClaims {
        iss: c.iss,
        sub: c.sub,
        aud: c.aud,
        client_id: c.client_id,
        exp: c.exp,
        iat: c.iat,
        jti: c.jti,
        scope: c.scope,
        token_type: c.token_type,
        user_id: c.user_id,
        auth_time: None,
        amr: None,
        acr: None,
    }
}

impl Tokens {
    pub async fn introspect(
        &self,
        client: &Client,
        token: Option<&str>,
    ) -> Result<Introspected, IntrospectError> {
        if client.public {
            return Err(IntrospectError::PublicClient);
        }
        let token = token.ok_or(IntrospectError::TokenRequired)?;
        let (claims, token_type) = match self.live_access(token).await? {
            Ok(c) => (c, "Bearer"),
            Err(NotLive::Invalid(TokenError::WrongType)) => match self.live_refresh(token).await? {
                Ok(c) => (as_access_claims(c), "refresh_token"),
                Err(_) => return Ok(Introspected::Inactive),
            },
            Err(_) => return Ok(Introspected::Inactive),
        };
        if claims.client_id != client.client_id && !client.introspect_any {
            return Ok(Introspected::Inactive);
        }
        // Only user-bound tokens name a user; RFC 7662 §2.2 has `username` a string.
        let mut username = None;
        if claims.user_id.is_some() {
            let sub = claims.sub.clone();
            let user = self
                .db
                .run(move |conn| repo::users::find_by_id(conn, &sub))
                .await?;
            match user {
                Some(u) if !u.disabled => username = Some(u.username),
                _ => return Ok(Introspected::Inactive),
            }
        }
        Ok(Introspected::Active(Box::new(ActiveClaims {
            claims,
            token_type,
            username,
        })))
    }
}
