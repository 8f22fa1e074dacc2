//! RFC 6750 bearer tokens: from the Authorization header (or a form `access_token` at
//! /userinfo), verified, checked against revocation and the user's state.

use actix_web::http::header;
use actix_web::HttpRequest;

use super::error::ApiError;
use crate::db::repo;
use crate::db::repo::users::User;
use crate::keys::encryption::digest_hex;
use crate::state::AppState;
use crate::tokens::claims::AccessClaims;

pub fn header_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A verified access token and the user it names (none for client_credentials tokens).
pub struct Authenticated {
    pub claims: AccessClaims,
    pub user: Option<User>,
}

pub async fn authenticate(
    state: &AppState,
    token: Option<&str>,
) -> Result<Authenticated, ApiError> {
    let token = token.ok_or_else(ApiError::token_required)?;
    let keys = state.keys.store.snapshot();
    let claims = state
        .verifier(&keys, state.clock.now())
        .access(token)
        .map_err(|e| ApiError::invalid_token(e.to_string()))?;
    let (hash, sub, is_user) = (
        digest_hex(&claims.jti),
        claims.sub.clone(),
        claims.user_id.is_some(),
    );
    let (revoked, user) = state
        .db
        .run(move |conn| {
            let revoked = repo::refresh::access_revoked(conn, &hash)?;
            let user = if is_user {
                repo::users::find_by_id(conn, &sub)?
            } else {
                None
            };
            Ok::<_, crate::db::DbError>((revoked, user))
        })
        .await?;
    if revoked {
        return Err(ApiError::invalid_token("token has been revoked"));
    }
    if is_user && user.as_ref().is_none_or(|u| u.disabled) {
        return Err(ApiError::invalid_token(
            "the token's user is disabled or gone",
        ));
    }
    Ok(Authenticated { claims, user })
}

impl Authenticated {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.claims.scope.split(' ').any(|s| s == scope)
    }
}
