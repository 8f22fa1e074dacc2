//! The admin API of single logout: a user's sessions (list, end one, end all), the
//! applications' offline access that outlives them (list, revoke one) and a client's logout
//! endpoints (show, register).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::admin::{json_body, require_admin};
use super::error::ApiError;
use super::schemas::{EndedSessions, ErrorBody, OfflineAccess, UserSessions};
use crate::sso::backchannel::endpoints::{EndpointError, LogoutEndpoints};
use crate::sso::sessions::{Ending, SessionError};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use super::resource;
    use web::{delete, get, put};
    cfg.service(
        resource("/admin/users/{username}/sessions", "GET, DELETE")
            .route(get().to(list_sessions))
            .route(delete().to(end_all_sessions)),
    )
    .service(
        resource("/admin/users/{username}/sessions/{sid}", "DELETE")
            .route(delete().to(end_session)),
    )
    .service(
        resource("/admin/users/{username}/offline-access", "GET")
            .route(get().to(list_offline_access)),
    )
    .service(
        resource("/admin/users/{username}/offline-access/{id}", "DELETE")
            .route(delete().to(revoke_offline_access)),
    )
    .service(
        resource("/admin/clients/{id}/logout", "GET, PUT")
            .route(get().to(get_logout_endpoints))
            .route(put().to(set_logout_endpoints)),
    );
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::UnknownUser(_) | SessionError::UnknownSession => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            SessionError::Db(db) => db.into(),
        }
    }
}

impl From<EndpointError> for ApiError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::UnknownClient => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "client not found")
            }
            EndpointError::Invalid(m) => ApiError::bad_request(m),
            EndpointError::Managed(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            EndpointError::Db(db) => db.into(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/admin/users/{username}/sessions",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    responses(
        (status = 200, description = "The user's live sessions, newest first: sid, created_at, last_used_at (at most a minute behind), expires_at, address and browser (a short description, e.g. \"Firefox 128 on Linux\") it signed in from, the clients signed in (client_id, last_at)"),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let sessions = state.sso.user_sessions(&path).await?;
    Ok(HttpResponse::Ok().json(UserSessions { sessions }))
}

#[utoipa::path(
    delete,
    path = "/admin/users/{username}/sessions",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    responses(
        (status = 200, description = "Every live session of the user ended (`ended`: how many); their applications are notified"),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn end_all_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let ended = state.sso.end_user_sessions(&path, Ending::All).await?;
    Ok(HttpResponse::Ok().json(EndedSessions { ended }))
}

#[utoipa::path(
    delete,
    path = "/admin/users/{username}/sessions/{sid}",
    tag = "admin",
    params(
        ("username" = String, Path, description = "The user's username"),
        ("sid" = String, Path, description = "The session's sid"),
    ),
    responses(
        (status = 204, description = "The session ended; its applications are notified"),
        (status = 404, description = "No such user, or no such live session of the user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn end_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let (username, sid) = path.into_inner();
    state
        .sso
        .end_user_sessions(&username, Ending::One(&sid))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/admin/users/{username}/offline-access",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    responses(
        (status = 200, description = "`offline_access`: the applications' live refresh families (id, client_id, created_at, expires_at), newest first; a logout leaves them alone"),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_offline_access(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let offline_access = state.sso.offline_grants(&path).await?;
    Ok(HttpResponse::Ok().json(OfflineAccess { offline_access }))
}

#[utoipa::path(
    delete,
    path = "/admin/users/{username}/offline-access/{id}",
    tag = "admin",
    params(
        ("username" = String, Path, description = "The user's username"),
        ("id" = String, Path, description = "The refresh family's id, as listed"),
    ),
    responses(
        (status = 204, description = "Revoked: its refresh tokens and their access tokens stop working"),
        (status = 404, description = "No such user, or no such live family of the user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn revoke_offline_access(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let (username, id) = path.into_inner();
    state.sso.revoke_offline_grant(&username, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/admin/clients/{id}/logout",
    tag = "admin",
    params(("id" = String, Path, description = "The client_id")),
    responses(
        (status = 200, description = "The client's logout endpoints: backchannel_logout_uri, backchannel_logout_session_required, frontchannel_logout_uri, frontchannel_logout_session_required"),
        (status = 404, description = "No such client", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn get_logout_endpoints(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    Ok(HttpResponse::Ok().json(state.sso.logout_endpoints(&path).await?))
}

/// The body of `PUT /admin/clients/{id}/logout`; an absent or empty URI removes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointsBody {
    backchannel_logout_uri: Option<String>,
    #[serde(default)]
    backchannel_logout_session_required: bool,
    frontchannel_logout_uri: Option<String>,
    #[serde(default)]
    frontchannel_logout_session_required: bool,
}

#[utoipa::path(
    put,
    path = "/admin/clients/{id}/logout",
    tag = "admin",
    params(("id" = String, Path, description = "The client_id")),
    request_body(content = serde_json::Value, description = "backchannel_logout_uri, backchannel_logout_session_required, frontchannel_logout_uri, frontchannel_logout_session_required; https only (http while the issuer is http on loopback)"),
    responses(
        (status = 200, description = "The client's logout endpoints, as stored"),
        (status = 400, description = "A URI breaks the rule", body = ErrorBody),
        (status = 404, description = "No such client", body = ErrorBody),
        (status = 409, description = "The client is declared in the clients file", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn set_logout_endpoints(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let b: EndpointsBody = json_body(&req, payload).await?;
    state
        .sso
        .set_logout_endpoints(LogoutEndpoints {
            client_id: path.to_string(),
            backchannel_logout_uri: b.backchannel_logout_uri,
            backchannel_logout_session_required: b.backchannel_logout_session_required,
            frontchannel_logout_uri: b.frontchannel_logout_uri,
            frontchannel_logout_session_required: b.frontchannel_logout_session_required,
        })
        .await?;
    Ok(HttpResponse::Ok().json(state.sso.logout_endpoints(&path).await?))
}
