//! The refresh token grant (RFC 6749 §6): spends the presented token and issues its
//! successor pair (see [`crate::tokens::refresh`] for families, reuse and grace).

use super::GrantError;
use crate::db::repo::clients::Client;
use crate::domain::split_scope;
use crate::tokens::refresh::Pair;
use crate::tokens::Tokens;

pub async fn grant(
    tokens: &Tokens,
    client: &Client,
    refresh_token: &str,
    scope: Option<&str>,
) -> Result<Pair, GrantError> {
    if let Some(requested) = scope.filter(|s| !s.trim().is_empty()) {
        // §6: a refresh may not widen the scope. Narrowing is not offered yet.
        let original = tokens.verify_refresh(refresh_token)?;
        if split_scope(requested) != split_scope(&original.scope) {
            return Err(GrantError::InvalidScope(
                "a refresh keeps the originally granted scope".into(),
            ));
        }
    }
    Ok(tokens
        .rotate(refresh_token, Some(&client.client_id))
        .await?)
}
