//! The client credentials grant (RFC 6749 §4.4): a confidential client's own access token,
//! with `sub` = the client id and no refresh token (§4.4.3).

use super::{resolve_scope, GrantError};
use crate::db::repo::clients::Client;
use crate::tokens::claims::Subject;
use crate::tokens::refresh::Pair;
use crate::tokens::Tokens;

/// Scopes that only make sense for a user.
const USER_SCOPES: [&str; 3] = ["openid", "offline_access", "admin"];

/// For a confidential client [`super::TokenRequest::parse`] allowed the grant.
pub async fn grant(
    tokens: &Tokens,
    client: &Client,
    scope: Option<&str>,
) -> Result<Pair, GrantError> {
    let scopes = resolve_scope(
        client,
        scope,
        &["openid", "profile", "email", "offline_access", "admin"],
    )?;
    if scopes.iter().any(|s| USER_SCOPES.contains(&s.as_str())) {
        return Err(GrantError::InvalidScope(
            "openid, offline_access and admin need a user".into(),
        ));
    }
    let subject = Subject {
        sub: client.client_id.clone(),
        user_id: None,
        client_id: client.client_id.clone(),
        scope: scopes.join(" "),
        audience: tokens.policy.default_audience.clone(),
        alg: tokens.access_alg(client),
        auth: None,
    };
    Ok(tokens.issue_pair(&subject, false).await?)
}

#[cfg(test)]
mod tests {
    use crate::grants::testing::{refusal, Context};
    use crate::grants::TokenFields;

    fn scope(scope: Option<&str>) -> TokenFields {
        TokenFields {
            scope: scope.map(str::to_string),
            ..TokenFields::default()
        }
    }

    #[tokio::test]
    async fn each_refusal_of_the_client_credentials_grant() {
        let ctx = Context::new().await;
        // (row, presenting client, fields, the refusal it must get)
        let rows = [
            (
                "a public client",
                &ctx.public,
                scope(None),
                "unauthorized_client: public clients cannot use client_credentials",
            ),
            (
                "a scope that needs a user",
                &ctx.machine,
                scope(Some("openid")),
                "invalid_scope: openid, offline_access and admin need a user",
            ),
            (
                "a scope the client is not registered for",
                &ctx.machine,
                scope(Some("payroll")),
                "invalid_scope: scope \"payroll\" is not registered for this client",
            ),
            (
                "a registered scope",
                &ctx.machine,
                scope(Some("api")),
                "issued",
            ),
        ];
        for (row, client, fields, expected) in rows {
            let got = refusal(ctx.issue(client, "client_credentials", fields).await);
            assert_eq!(got, expected, "{row}");
        }
    }
}
