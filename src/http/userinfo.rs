//! OIDC Core §5.3 userinfo: the claims the token's scopes allow.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::body;
use super::error::ApiError;
use crate::sso::userinfo;
use crate::state::AppState;

#[derive(serde::Deserialize)]
struct Form {
    access_token: Option<String>,
}

/// RFC 6750 §2.1: the token from `Authorization: Bearer`.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // RFC 6750 §2.2: a POST may carry the token in a form body instead of the header.
    let form_token =
        if req.method() == actix_web::http::Method::POST && bearer_token(&req).is_none() {
            let bytes = body::read(&req, payload).await?;
            body::parse::<Form>(&req, &bytes, true)?.access_token
        } else {
            None
        };
    let token = bearer_token(&req).map(str::to_string).or(form_token);
    let auth = state.tokens.authenticate(token.as_deref()).await?;
    let body = userinfo::claims(&auth)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}
