//! RFC 7009 token revocation: a client revokes its own refresh token (the whole family, and
//! with it the access tokens it issued) or access token. An invalid or unknown token is not
//! an error (§2.2); another client's genuine token is refused (§2.1).

use super::Tokens;
use crate::db::repo::clients::Client;
use crate::db::{repo, DbError};
use crate::digest::digest_hex;
use crate::error::Internal;

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// §2.2.1: a `token_type_hint` we do not know.
    #[error("token_type_hint {0:?} is not supported")]
    UnsupportedTokenType(String),
    /// §2.1: the server verifies the token was issued to the client asking; if not, "the
    /// request is refused and the client is informed of the error".
    #[error("the token was not issued to this client")]
    NotYours,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<DbError> for RevokeError {
    fn from(e: DbError) -> Self {
        RevokeError::Internal(e.into())
    }
}

impl Tokens {
    pub async fn revoke(
        &self,
        client: &Client,
        token: &str,
        hint: Option<&str>,
    ) -> Result<(), RevokeError> {
        if let Some(hint) = hint {
            if hint != "access_token" && hint != "refresh_token" {
                let shown: String = hint.chars().take(64).collect();
                return Err(RevokeError::UnsupportedTokenType(shown));
            }
        }
        if let Ok(claims) = self.verify_refresh(token) {
            if claims.client_id != client.client_id {
                return Err(RevokeError::NotYours);
            }
            self.revoke_family_of(&claims, "revoked by client").await?;
        } else if let Ok(claims) = self.verify_access(token) {
            if claims.client_id != client.client_id {
                return Err(RevokeError::NotYours);
            }
            let (hash, exp) = (digest_hex(&claims.jti), claims.exp);
            self.db
                .write(move |conn| repo::refresh::revoke_access(conn, &hash, exp))
                .await?;
        }
        Ok(())
    }
}
