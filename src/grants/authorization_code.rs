//! The authorization code grant (RFC 6749 §4.1.3, OIDC Core §3.1.3): redeem the code once,
//! issue an access token, a refresh token with `offline_access`, and an id_token with
//! `openid`.

use super::password::user_subject;
use super::{GrantError, Issued};
use crate::db::repo;
use crate::db::repo::clients::Client;
use crate::domain::split_scope;
use crate::sso::code::{self, CodeError};
use crate::sso::id_token;
use crate::tokens::Tokens;

pub struct CodeRequest<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

/// For a client [`super::TokenRequest::parse`] allowed the grant.
pub async fn grant(
    tokens: &Tokens,
    client: &Client,
    req: CodeRequest<'_>,
) -> Result<Issued, GrantError> {
    let code_value = req.code;
    let now = tokens.clock.now();
    let record = code::check(
        &tokens.db,
        code_value,
        &client.client_id,
        req.redirect_uri,
        req.code_verifier,
        now,
    )
    .await?;
    let uid = record.user_id.clone();
    let user = tokens
        .db
        .run(move |conn| repo::users::find_by_id(conn, &uid))
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| GrantError::InvalidGrant("the user is disabled or gone".into()))?;
    let scopes = split_scope(&record.scope);
    let has = |s: &str| scopes.iter().any(|x| x == s);
    // Checked again here: the user may have lost admin rights since the code was issued.
    if has("admin") && !user.is_admin {
        return Err(GrantError::InvalidScope(
            "scope admin is only for admin users".into(),
        ));
    }
    let auth = code::authentication(&record);
    let subject = user_subject(tokens, &user, client, record.scope.clone(), auth);
    let with_refresh = has("offline_access") && client.allows_grant("refresh_token");
    // Signed first; spending the code and storing what it issued is one transaction.
    let minted = tokens.mint_pair(&subject, with_refresh)?;
    let (spent, minted) = {
        let code = record.clone();
        tokens
            .db
            .write(move |conn| code::spend(conn, &code, &minted, now).map(|won| (won, minted)))
            .await?
    };
    if !spent {
        // Another redemption of the same code won: this one is a replay.
        code::revoke_after_replay(&tokens.db, &record, now).await?;
        return Err(CodeError::Replayed.into());
    }
    tokens.count_issued(&minted.pair);
    let pair = minted.pair;

    let id_token = if has("openid") {
        let claims = id_token::claims(&tokens.policy, &user, client, &record, &pair.access, now);
        Some(id_token::sign(tokens, client.id_token_alg, &claims)?)
    } else {
        None
    };
    Ok(Issued { pair, id_token })
}

#[cfg(test)]
mod tests {
    use crate::grants::testing::{refusal, Context};
    use crate::grants::TokenFields;

    fn code(code: Option<&str>) -> TokenFields {
        TokenFields {
            code: code.map(str::to_string),
            redirect_uri: Some("https://app.example/cb".into()),
            ..TokenFields::default()
        }
    }

    #[tokio::test]
    async fn each_refusal_of_the_authorization_code_grant() {
        let ctx = Context::new().await;
        let unknown = "c".repeat(43);
        // (row, presenting client, fields, the refusal it must get)
        let rows = [
            (
                "a client not registered for the grant",
                &ctx.machine,
                code(Some(&unknown)),
                "unauthorized_client: client is not allowed the authorization_code grant",
            ),
            (
                "no code",
                &ctx.all_grants,
                code(None),
                "invalid_request: code is required",
            ),
            (
                "an empty code",
                &ctx.all_grants,
                code(Some("")),
                "invalid_grant: ",
            ),
            (
                "a code longer than any issued",
                &ctx.all_grants,
                code(Some(&"c".repeat(101))),
                "invalid_grant: ",
            ),
            (
                "a code never issued",
                &ctx.all_grants,
                code(Some(&unknown)),
                "invalid_grant: ",
            ),
        ];
        for (row, client, fields, expected) in rows {
            let got = refusal(ctx.issue(client, "authorization_code", fields).await);
            assert!(got.starts_with(expected), "{row}: {got}");
        }
    }
}
