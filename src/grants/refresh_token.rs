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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::grants::testing::{refusal, Context};
    use crate::grants::TokenFields;

    fn refresh(token: &str, scope: Option<&str>) -> TokenFields {
        TokenFields {
            refresh_token: Some(token.into()),
            scope: scope.map(str::to_string),
            ..TokenFields::default()
        }
    }

    #[tokio::test]
    async fn each_refusal_of_the_refresh_token_grant() {
        let ctx = Context::new().await;
        let (fresh, spent) = (
            ctx.refresh_token_of(&ctx.all_grants).await,
            ctx.refresh_token_of(&ctx.all_grants).await,
        );
        let first = ctx.issue(&ctx.all_grants, "refresh_token", refresh(&spent, None));
        assert_eq!(refusal(first.await), "issued");
        let others = ctx.refresh_token_of(&ctx.all_grants).await;
        // (row, presenting client, fields, the refusal it must get)
        let rows = [
            (
                "a client not registered for the grant",
                &ctx.machine,
                refresh(&fresh, None),
                "unauthorized_client: client is not allowed the refresh_token grant",
            ),
            (
                "no refresh_token",
                &ctx.all_grants,
                TokenFields::default(),
                "invalid_request: refresh_token is required",
            ),
            (
                "not a token",
                &ctx.all_grants,
                refresh("not-a-jwt", None),
                "refresh: ",
            ),
            (
                "a scope other than the one granted",
                &ctx.all_grants,
                refresh(&fresh, Some("openid api admin")),
                "invalid_scope: a refresh keeps the originally granted scope",
            ),
            (
                "another client's token",
                &ctx.public,
                refresh(&others, None),
                "refresh: refresh token was issued to another client",
            ),
            (
                "a token already spent",
                &ctx.all_grants,
                refresh(&spent, None),
                "refresh: refresh token was already used; its family is revoked",
            ),
        ];
        for (row, client, fields, expected) in rows {
            let got = refusal(ctx.issue(client, "refresh_token", fields).await);
            assert!(got.starts_with(expected), "{row}: {got}");
        }
        // Past its lifetime (the manual clock), the fresh token is refused too.
        ctx.clock.advance(Duration::from_secs(3601));
        let got = refusal(
            ctx.issue(&ctx.all_grants, "refresh_token", refresh(&fresh, None))
                .await,
        );
        assert!(got.starts_with("refresh: "), "an expired token: {got}");
    }
}
