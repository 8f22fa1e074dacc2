//! The authorization code grant (RFC 6749 §4.1.3, OIDC Core §3.1.3): redeem the code once,
//! issue an access token, a refresh token with `offline_access`, and an id_token with
//! `openid`.

use super::password::user_subject;
use super::{require_grant, GrantError};
use crate::db::repo;
use crate::db::repo::clients::Client;
use crate::domain::split_scope;
use crate::keys::store::TokenType;
use crate::metrics::TokenKind;
use crate::sso::code::{self, CodeError};
use crate::sso::id_token::{at_hash, IdClaims};
use crate::tokens::issue::IssueError;
use crate::tokens::refresh::Pair;
use crate::tokens::Tokens;

pub struct CodeRequest<'a> {
    pub code: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

/// What a redeemed code issued.
pub struct CodeTokens {
    pub pair: Pair,
    pub id_token: Option<String>,
}

pub async fn grant(
    tokens: &Tokens,
    client: &Client,
    req: CodeRequest<'_>,
) -> Result<CodeTokens, GrantError> {
    require_grant(client, "authorization_code")?;
    let code_value = req
        .code
        .ok_or_else(|| GrantError::InvalidRequest("code is required".into()))?;
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
    let subject = user_subject(tokens, &user, client, record.scope.clone());
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
        let claims = IdClaims {
            iss: tokens.policy.issuer.clone(),
            sub: user.id.clone(),
            aud: client.client_id.clone(),
            exp: now + tokens.policy.id_token_ttl,
            iat: now,
            auth_time: record.auth_time,
            nonce: record.nonce.clone(),
            sid: record.sid.clone(),
            at_hash: Some(at_hash(&pair.access, client.id_token_alg)),
            preferred_username: has("profile").then(|| user.username.clone()),
            email: if has("email") {
                user.email.clone()
            } else {
                None
            },
            email_verified: (has("email") && user.email.is_some()).then_some(user.email_verified),
        };
        let keys = tokens.keys.snapshot();
        let signer = keys.signer(client.id_token_alg).ok_or(IssueError::NoKey)?;
        let signed = signer
            .sign(TokenType::Id, &claims)
            .map_err(IssueError::from)?;
        tokens.metrics.token_issued(TokenKind::IdToken);
        Some(signed)
    } else {
        None
    };
    Ok(CodeTokens { pair, id_token })
}
