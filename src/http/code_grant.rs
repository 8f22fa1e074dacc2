//! The authorization code grant at `/token` (RFC 6749 §4.1.3, OIDC Core §3.1.3): redeem
//! the code, issue access (+ refresh with `offline_access`) and id_token.

use serde_json::json;

use super::error::OAuthError;
use crate::db::repo;
use crate::db::repo::clients::Client;
use crate::keys::store::TokenType;
use crate::metrics::TokenKind;
use crate::sso::code::{self, CodeError};
use crate::sso::id_token::{at_hash, IdClaims};
use crate::state::AppState;
use crate::tokens::claims::Subject;
use crate::tokens::issue::IssueError;
use crate::tokens::refresh;

pub struct CodeForm<'a> {
    pub code: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

impl From<CodeError> for OAuthError {
    fn from(e: CodeError) -> Self {
        match e {
            CodeError::Db(db) => db.into(),
            other => OAuthError::invalid_grant(other.to_string()),
        }
    }
}

pub async fn exchange(
    state: &AppState,
    client: &Client,
    form: CodeForm<'_>,
) -> Result<serde_json::Value, OAuthError> {
    if !client.allows_grant("authorization_code") {
        return Err(OAuthError::unauthorized_client(
            "client is not allowed the authorization_code grant",
        ));
    }
    let code_value = form
        .code
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let now = state.clock.now();
    let record = code::redeem(
        &state.db,
        code_value,
        &client.client_id,
        form.redirect_uri,
        form.code_verifier,
        now,
    )
    .await?;
    let uid = record.user_id.clone();
    let user = state
        .db
        .run(move |conn| repo::users::find_by_id(conn, &uid))
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| OAuthError::invalid_grant("the user is disabled or gone"))?;
    let scopes = crate::domain::split_scope(&record.scope);
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let subject = Subject {
        sub: user.id.clone(),
        user_id: Some(user.user_id().to_string()),
        client_id: client.client_id.clone(),
        scope: record.scope.clone(),
        audience: state.settings.default_audience.clone(),
    };
    let with_refresh = has("offline_access") && client.allows_grant("refresh_token");
    let pair = refresh::issue_pair(state, &subject, with_refresh).await?;
    let access_exp = now + pair.expires_in;
    code::record_issued(
        &state.db,
        &record,
        pair.family_id.clone(),
        &pair.jti,
        access_exp,
    )
    .await?;

    let mut body = json!({
        "access_token": pair.access,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "scope": pair.scope,
    });
    if let Some(r) = &pair.refresh {
        body["refresh_token"] = json!(r);
    }
    if has("openid") {
        let claims = IdClaims {
            iss: state.settings.issuer.clone(),
            sub: user.id.clone(),
            aud: client.client_id.clone(),
            exp: now + state.settings.id_token_ttl.as_secs() as i64,
            iat: now,
            auth_time: record.auth_time,
            nonce: record.nonce.clone(),
            sid: record.sid.clone(),
            at_hash: Some(at_hash(&pair.access)),
            preferred_username: has("profile").then(|| user.username.clone()),
            email: if has("email") {
                user.email.clone()
            } else {
                None
            },
            email_verified: (has("email") && user.email.is_some()).then_some(user.email_verified),
        };
        let keys = state.keys.store.snapshot();
        let signer = keys.signer.as_ref().ok_or(IssueError::NoKey)?;
        let id_token = signer
            .sign(TokenType::Id, &claims)
            .map_err(IssueError::from)?;
        body["id_token"] = json!(id_token);
        state.metrics.token_issued(TokenKind::IdToken);
    }
    Ok(body)
}
