//! OIDC Core §5.3 userinfo: the claims the token's scopes allow.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::body;
use super::error::ApiError;
use super::schemas::{ErrorBody, UserInfo};
use crate::sso::userinfo;
use crate::state::AppState;

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub(super) struct Form {
    access_token: Option<String>,
}

/// RFC 6750 §2.1: the token from `Authorization: Bearer`.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[utoipa::path(
    get,
    path = "/userinfo",
    tag = "oauth",
    responses(
        (status = 200, description = "The claims the token's scopes allow", body = UserInfo),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 403, description = "insufficient_scope", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    answer(&state, bearer_token(&req)).await
}

/// RFC 6750 §2.2: a POST may carry the token in a form body instead of the header.
#[utoipa::path(
    post,
    path = "/userinfo",
    tag = "oauth",
    operation_id = "userinfo_post",
    request_body(content = Form, content_type = "application/x-www-form-urlencoded", description = "Without an Authorization header: the token as `access_token`"),
    responses(
        (status = 200, description = "The claims the token's scopes allow", body = UserInfo),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 403, description = "insufficient_scope", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn userinfo_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = bearer_token(&req) {
        return answer(&state, Some(token)).await;
    }
    let bytes = body::read(&req, payload).await?;
    let form = body::parse::<Form>(&req, &bytes, true)?;
    answer(&state, form.access_token.as_deref()).await
}

async fn answer(state: &AppState, token: Option<&str>) -> Result<HttpResponse, ApiError> {
    let auth = state.tokens.authenticate(token).await?;
    let claims = userinfo::claims(&auth)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(UserInfo::from(claims)))
}
