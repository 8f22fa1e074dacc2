//! The admin API of second factors: a user's factors (list; remove, for a lost phone) and
//! the policy that requires one, of a user or of everyone signing in to a client. Each
//! change is audited with the admin as actor.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::admin::{json_body, require_admin};
use super::error::ApiError;
use super::schemas::{Client, ErrorBody, User, UserFactors};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use super::resource;
    use web::{delete, get, put};
    cfg.service(
        resource("/admin/users/{username}/factors", "GET, DELETE")
            .route(get().to(list_factors))
            .route(delete().to(remove_factors)),
    )
    .service(
        resource("/admin/users/{username}/require-mfa", "PUT")
            .route(put().to(set_user_require_mfa)),
    )
    .service(
        resource("/admin/clients/{id}/require-mfa", "PUT").route(put().to(set_client_require_mfa)),
    );
}

/// Whether a second factor is required.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RequireMfaBody {
    required: bool,
}

#[utoipa::path(
    get,
    path = "/admin/users/{username}/factors",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    responses(
        (status = 200, description = "What the user has set up (never a secret), and whether a policy requires it", body = UserFactors),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_factors(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let user = state.accounts.find_user(&path).await?;
    let summary = state.accounts.user_factors(&path).await?;
    let required = state.sso.policy_requires_mfa(&user, false);
    Ok(HttpResponse::Ok().json(UserFactors::of(user.username, summary, required)))
}

#[utoipa::path(
    delete,
    path = "/admin/users/{username}/factors",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    responses(
        (status = 204, description = "The authenticator app and the recovery codes are removed: the password alone signs the user in until they set up an app again (at once, when a policy requires one)"),
        (status = 404, description = "No such user, or no second factor", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn remove_factors(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let user = state.accounts.find_user(&path).await?;
    if !state.mfa.remove_by_admin(&user).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{} has no second factor", user.username),
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    put,
    path = "/admin/users/{username}/require-mfa",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    request_body(content = RequireMfaBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The user; one without a second factor sets one up at the next browser sign-in", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn set_user_require_mfa(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let b: RequireMfaBody = json_body(&req, payload).await?;
    let user = state
        .accounts
        .set_user_require_mfa(&path, b.required)
        .await?;
    Ok(HttpResponse::Ok().json(User::from(user)))
}

#[utoipa::path(
    put,
    path = "/admin/clients/{id}/require-mfa",
    tag = "admin",
    params(("id" = String, Path, description = "The client_id")),
    request_body(content = RequireMfaBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The client; everyone signing in to it needs a second factor", body = Client),
        (status = 404, description = "No such client", body = ErrorBody),
        (status = 409, description = "The client is declared in CLIENTS_FILE", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn set_client_require_mfa(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let b: RequireMfaBody = json_body(&req, payload).await?;
    let client = state
        .accounts
        .set_client_require_mfa(&path, b.required)
        .await?;
    Ok(HttpResponse::Ok().json(Client::from(client)))
}
