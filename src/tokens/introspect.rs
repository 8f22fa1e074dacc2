//! RFC 7662 token introspection: active only for a valid, unrevoked token whose client still
//! exists and is enabled, and whose user (for user-bound tokens) too. A client learns only
//! about its own tokens, unless it is registered as a resource server that may introspect
//! others' (`introspect_any`, §4: the server decides what to reveal to whom).

use serde_json::{json, Value};

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
        let (claims, token_type, live) = if let Ok(c) = self.verify_access(token) {
            let revoked = self.access_revoked(&c).await?;
            (
                serde_json::to_value(&c).unwrap_or_default(),
                "Bearer",
                !revoked,
            )
        } else if let Ok(c) = self.verify_refresh(token) {
            let live = self.is_live(&c).await?;
            (
                serde_json::to_value(&c).unwrap_or_default(),
                "refresh_token",
                live,
            )
        } else {
            return Ok(inactive());
        };
        let token_client = body_str(&claims, "client_id");
        if !live || (token_client != client.client_id && !client.introspect_any) {
            return Ok(inactive());
        }
        let owner = self
            .db
            .run(move |conn| repo::clients::find(conn, &token_client))
            .await?;
        if owner.is_none_or(|c| c.disabled) {
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
