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
    use crate::grants::testing::{refusal, Context, CODE_TTL, REDIRECT_URI};
    use crate::grants::TokenFields;
    use crate::tokens::TokenCheck;

    /// RFC 7636 Appendix B: a verifier and its S256 challenge.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn code(code: Option<&str>) -> TokenFields {
        TokenFields {
            code: code.map(str::to_string),
            redirect_uri: Some(REDIRECT_URI.into()),
            ..TokenFields::default()
        }
    }

    /// A redemption of `code` with `redirect_uri` and `verifier` as given.
    fn redeem(code: &str, redirect_uri: Option<&str>, verifier: Option<&str>) -> TokenFields {
        TokenFields {
            code: Some(code.into()),
            redirect_uri: redirect_uri.map(str::to_string),
            code_verifier: verifier.map(str::to_string),
            ..TokenFields::default()
        }
    }

    #[tokio::test]
    async fn each_refusal_of_the_authorization_code_grant() {
        let ctx = Context::new().await;
        let unknown = "c".repeat(43);
        let (all, public) = (&ctx.all_grants, &ctx.public);
        let scope = "openid offline_access";
        let fresh = |client| ctx.code(client, scope, Some(CHALLENGE), 0);
        // Redeemed once before the table: the row that presents it again is a replay.
        let used = fresh(all).await;
        let first = ctx
            .issue(
                all,
                "authorization_code",
                redeem(&used, Some(REDIRECT_URI), Some(VERIFIER)),
            )
            .await
            .expect("the first redemption")
            .pair;
        let first_refresh = first
            .refresh
            .clone()
            .expect("offline_access: a refresh token");
        assert_eq!(
            ctx.tokens.check(&first.access).await.expect("check"),
            TokenCheck::Valid
        );
        let of_public = fresh(public).await;
        // (row, presenting client, fields, the refusal it must get)
        let rows = [
            (
                "a client not registered for the grant",
                &ctx.machine,
                code(Some(&unknown)),
                "unauthorized_client: client is not allowed the authorization_code grant",
            ),
            ("no code", all, code(None), "invalid_request: code is required"),
            ("an empty code", all, code(Some("")), "invalid_grant: "),
            (
                "a code longer than any issued",
                all,
                code(Some(&"c".repeat(101))),
                "invalid_grant: ",
            ),
            ("a code never issued", all, code(Some(&unknown)), "invalid_grant: "),
            (
                "an expired code",
                all,
                redeem(
                    &ctx.code(all, scope, Some(CHALLENGE), CODE_TTL).await,
                    Some(REDIRECT_URI),
                    Some(VERIFIER),
                ),
                "invalid_grant: the authorization code is invalid or expired",
            ),
            (
                "a code issued to another client",
                all,
                redeem(&of_public, Some(REDIRECT_URI), Some(VERIFIER)),
                "invalid_grant: the authorization code was issued to another client",
            ),
            (
                "no redirect_uri",
                all,
                redeem(&fresh(all).await, None, Some(VERIFIER)),
                "invalid_grant: redirect_uri does not match the authorization request",
            ),
            (
                "another redirect_uri than the authorization request's",
                all,
                redeem(&fresh(all).await, Some("https://app.example/other"), Some(VERIFIER)),
                "invalid_grant: redirect_uri does not match the authorization request",
            ),
            (
                "no code_verifier for a code bound to a challenge",
                all,
                redeem(&fresh(all).await, Some(REDIRECT_URI), None),
                "invalid_grant: the PKCE code_verifier is missing or wrong",
            ),
            (
                "a wrong code_verifier",
                all,
                redeem(&fresh(all).await, Some(REDIRECT_URI), Some(&"v".repeat(43))),
                "invalid_grant: the PKCE code_verifier is missing or wrong",
            ),
            (
                "the plain method: a verifier equal to its challenge",
                all,
                redeem(
                    &ctx.code(all, scope, Some(VERIFIER), 0).await,
                    Some(REDIRECT_URI),
                    Some(VERIFIER),
                ),
                "invalid_grant: the PKCE code_verifier is missing or wrong",
            ),
            (
                "a code_verifier for a code issued without a challenge",
                all,
                redeem(
                    &ctx.code(all, scope, None, 0).await,
                    Some(REDIRECT_URI),
                    Some(VERIFIER),
                ),
                "invalid_grant: the PKCE code_verifier is missing or wrong",
            ),
            (
                "a code already redeemed",
                all,
                redeem(&used, Some(REDIRECT_URI), Some(VERIFIER)),
                "invalid_grant: the authorization code was already used; the tokens issued for it are revoked",
            ),
        ];
        for (row, client, fields, expected) in rows {
            let got = refusal(ctx.issue(client, "authorization_code", fields).await);
            assert!(got.starts_with(expected), "{row}: {got}");
        }
        // RFC 6749 §4.1.2: the replay revoked what the first redemption issued.
        assert_eq!(
            ctx.tokens.check(&first.access).await.expect("check"),
            TokenCheck::Revoked,
            "the first redemption's access token after a replay"
        );
        let again = TokenFields {
            refresh_token: Some(first_refresh),
            ..TokenFields::default()
        };
        let got = refusal(ctx.issue(all, "refresh_token", again).await);
        assert!(got.starts_with("refresh: "), "its refresh token: {got}");
        // RFC 9700 §4.5: a code presented by another client is spent on the spot; the client
        // it was issued to cannot redeem it afterwards.
        let rightful = redeem(&of_public, Some(REDIRECT_URI), Some(VERIFIER));
        let got = refusal(ctx.issue(public, "authorization_code", rightful).await);
        assert!(
            got.starts_with("invalid_grant: the authorization code was already used"),
            "the rightful client after an injection: {got}"
        );
        // And a code with everything right is still redeemed.
        let right = redeem(&fresh(all).await, Some(REDIRECT_URI), Some(VERIFIER));
        let got = refusal(ctx.issue(all, "authorization_code", right).await);
        assert_eq!(got, "issued");
    }
}
