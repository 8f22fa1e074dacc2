//! RFC 7662 token introspection: active only for a live token (see [`super::live`]). A client learns only
//! about its own tokens, unless it is registered as a resource server that may introspect
//! others' (`introspect_any`, §4: the server decides what to reveal to whom).

use serde_json::{json, Value};

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

fn body_str(claims: &Value, name: &str) -> String {
    claims[name].as_str().unwrap_or_default().to_string()
}

/// The answer of §2.2: `{"active": false}`, or the claims with `active`, `token_type` and,
/// for a user's token, `username`.
pub fn inactive() -> Value {
    json!({ "active": false })
}

impl Tokens {
    pub async fn introspect(
        &self,
        client: &Client,
        token: Option<&str>,
    ) -> Result<Value, IntrospectError> {
        if client.public {
            return Err(IntrospectError::PublicClient);
        }
        let token = token.ok_or(IntrospectError::TokenRequired)?;
        let (claims, token_type) = match self.live_access(token).await? {
            Ok(c) => (serde_json::to_value(&c).unwrap_or_default(), "Bearer"),
            Err(NotLive::Invalid(TokenError::WrongType)) => match self.live_refresh(token).await? {
                Ok(c) => (
                    serde_json::to_value(&c).unwrap_or_default(),
                    "refresh_token",
                ),
                Err(_) => return Ok(inactive()),
            },
            Err(_) => return Ok(inactive()),
        };
        if body_str(&claims, "client_id") != client.client_id && !client.introspect_any {
            return Ok(inactive());
        }
        let mut body = claims;
        // Only user-bound tokens name a user; RFC 7662 §2.2 has `username` a string.
        if body.get("user_id").is_some() {
            let sub = body_str(&body, "sub");
            let user = self
                .db
                .run(move |conn| repo::users::find_by_id(conn, &sub))
                .await?;
            match user {
                Some(u) if !u.disabled => body["username"] = json!(u.username),
                _ => return Ok(inactive()),
            }
        }
        body["active"] = json!(true);
        body["token_type"] = json!(token_type);
        Ok(body)
    }
}
