//! The JSON admin API under `/admin`: keys, users, clients. Every call needs a bearer access
//! token of an enabled admin user carrying scope `admin`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::body;
use super::error::ApiError;
use super::schemas::{
    AuditPage, AuditQuery, Client, ClientList, ClientSecret, CreatedClient, ErrorBody,
    IssuedResetLink, Key, KeyList, ListQuery, RotationOutcome, User, UserList,
};
use super::userinfo::bearer_token;
use crate::accounts::email::Verified;
use crate::accounts::{LastAdmin, NewClientRequest, NewUserRequest};
use crate::audit::{self, AuditFilter};
use crate::keys::rotation::RotationKind;
use crate::keys::Alg;
use crate::paging::ListRequest;
use crate::passwords::Password;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use super::resource;
    use web::{delete, get, post};
    cfg.service(resource("/admin/keys", "GET").route(get().to(list_keys)))
        .service(resource("/admin/keys/rotate", "POST").route(post().to(rotate_keys)))
        .service(resource("/admin/keys/{kid}/revoke", "POST").route(post().to(revoke_key)))
        .service(
            resource("/admin/users", "GET, POST")
                .route(get().to(list_users))
                .route(post().to(create_user)),
        )
        .service(
            resource("/admin/users/{username}", "GET, DELETE")
                .route(get().to(get_user))
                .route(delete().to(delete_user)),
        )
        .service(resource("/admin/users/{username}/disable", "POST").route(post().to(disable_user)))
        .service(resource("/admin/users/{username}/enable", "POST").route(post().to(enable_user)))
        .service(
            resource("/admin/users/{username}/reset-link", "POST")
                .route(post().to(issue_reset_link)),
        )
        .service(
            resource("/admin/users/{username}/email", "PUT").route(web::put().to(set_user_email)),
        )
        .service(
            resource("/admin/users/{username}/email/verification", "POST")
                .route(post().to(resend_verification)),
        )
        .service(
            resource("/admin/clients", "GET, POST")
                .route(get().to(list_clients))
                .route(post().to(create_client)),
        )
        .service(
            resource("/admin/clients/{id}", "GET, DELETE")
                .route(get().to(get_client))
                .route(delete().to(delete_client)),
        )
        .service(resource("/admin/clients/{id}/disable", "POST").route(post().to(disable_client)))
        .service(resource("/admin/clients/{id}/enable", "POST").route(post().to(enable_client)))
        .service(
            resource("/admin/clients/{id}/rotate-secret", "POST")
                .route(post().to(rotate_client_secret)),
        )
        .service(resource("/admin/audit", "GET").route(get().to(list_audit)));
}

/// 401 without a valid token; 403 for a valid token without admin rights. The admin is
/// the actor of what the request changes (audit trail).
pub(super) async fn require_admin(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let auth = state.tokens.authenticate(bearer_token(req)).await?;
    auth.require_admin()?;
    // RFC 9470: under MFA_FOR_ADMINS, an admin token of a password-only sign-in is refused.
    auth.require_assurance(state.tokens.policy.mfa_for_admins)?;
    if let Some(admin) = &auth.user {
        audit::set_actor(&admin.username);
    }
    Ok(())
}

pub(super) async fn json_body<T: for<'de> Deserialize<'de>>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let bytes = body::read(req, payload).await?;
    if bytes.is_empty() {
        return serde_json::from_str("{}").map_err(|e| ApiError::bad_request(e.to_string()));
    }
    if !body::is_json(req) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "Content-Type must be application/json",
        ));
    }
    Ok(body::parse(req, &bytes, false)?)
}

#[utoipa::path(
    get,
    path = "/admin/keys",
    tag = "admin",
    responses(
        (status = 200, description = "Signing keys, with state and times", body = KeyList),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_keys(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let keys = state.keys.list().await?;
    Ok(HttpResponse::Ok().json(KeyList {
        keys: keys.into_iter().map(Key::from).collect(),
    }))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RotateBody {
    #[serde(default)]
    emergency: bool,
    /// Rotate only this algorithm's keys (`RS256`, `ES256`, `EdDSA`; one of
    /// `SIGNING_ALGS`); without it, every algorithm's.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    alg: Option<Alg>,
}

#[utoipa::path(
    post,
    path = "/admin/keys/rotate",
    tag = "admin",
    request_body(content = RotateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "What the rotation did: the first line rotated, the others (without `alg`) in `also`", body = RotationOutcome),
        (status = 400, description = "An algorithm not in SIGNING_ALGS, or an unknown one", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn rotate_keys(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let body: RotateBody = json_body(&req, payload).await?;
    let kind = if body.emergency {
        RotationKind::Emergency
    } else {
        RotationKind::Manual
    };
    let outcomes = state.keys.rotate(body.alg, kind).await?;
    Ok(HttpResponse::Ok().json(RotationOutcome::from(
        crate::keys::rotation::RotationOutcome::combined(outcomes),
    )))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RevokeBody {
    /// Why the key is revoked: one line, at most 500 characters; recorded in the audit
    /// trail with the admin's name.
    reason: String,
}

#[utoipa::path(
    post,
    path = "/admin/keys/{kid}/revoke",
    tag = "admin",
    params(("kid" = String, Path, description = "The key's id")),
    request_body(content = RevokeBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The key is revoked: what changed", body = RotationOutcome),
        (status = 400, description = "No reason, or not one line of at most 500 characters", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = 404, description = "No key has this kid", body = ErrorBody),
        (status = 409, description = "The key is already revoked", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn revoke_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    kid: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let body: RevokeBody = json_body(&req, payload).await?;
    let outcome = state.keys.revoke(&kid, &body.reason).await?;
    Ok(HttpResponse::Ok().json(RotationOutcome::from(outcome)))
}

#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of users by username", body = UserList),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_users(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let page = state.accounts.list_users(list_request(&req)?).await?;
    Ok(HttpResponse::Ok().json(UserList {
        users: page.items.into_iter().map(User::from).collect(),
        next: page.next,
    }))
}

/// `?after=&prefix=&limit=` of a listing; anything else is a 400.
fn list_request(req: &HttpRequest) -> Result<ListRequest, ApiError> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|_| ApiError::bad_request("the list query is malformed"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUserBody {
    username: String,
    password: String,
    email: Option<String>,
    #[serde(default)]
    is_admin: bool,
}

#[utoipa::path(
    post,
    path = "/admin/users",
    tag = "admin",
    request_body(content = NewUserBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The user", body = User),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn create_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let b: NewUserBody = json_body(&req, payload).await?;
    let user = state
        .accounts
        .create_user(NewUserRequest {
            username: b.username,
            email: b.email,
            password: Password::new(b.password),
            is_admin: b.is_admin,
        })
        .await?;
    Ok(HttpResponse::Created().json(User::from(user)))
}

#[utoipa::path(
    get,
    path = "/admin/users/{username}",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn get_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    Ok(HttpResponse::Ok().json(User::from(state.accounts.find_user(&path).await?)))
}

#[utoipa::path(
    delete,
    path = "/admin/users/{username}",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    responses(
        (status = 204, description = "Deleted, with their sessions and refresh families"),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The last enabled admin is kept", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn delete_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    state.accounts.delete_user(&path, LastAdmin::Keep).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/admin/users/{username}/disable",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    responses(
        (status = 200, description = "The user, disabled; their sessions and families ended", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The last enabled admin is kept", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn disable_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let user = state
        .accounts
        .set_user_disabled(&path, true, LastAdmin::Keep)
        .await?;
    Ok(HttpResponse::Ok().json(User::from(user)))
}

#[utoipa::path(
    post,
    path = "/admin/users/{username}/enable",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    responses(
        (status = 200, description = "The user, enabled", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn enable_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let user = state
        .accounts
        .set_user_disabled(&path, false, LastAdmin::Keep)
        .await?;
    Ok(HttpResponse::Ok().json(User::from(user)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ResetLinkBody {
    /// How long the link stays valid: `30m` unless given, at most `7d`.
    ttl: Option<String>,
}

#[utoipa::path(
    post,
    path = "/admin/users/{username}/reset-link",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    request_body(content = Option<ResetLinkBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "A single-use link to set a new password, shown once; the user's earlier links are voided", body = IssuedResetLink),
        (status = 400, description = "A malformed ttl, or the user is disabled", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn issue_reset_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let b: ResetLinkBody = json_body(&req, payload).await?;
    let link = state
        .accounts
        .issue_reset_link(&path, b.ttl.as_deref())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(IssuedResetLink {
            url: link.url(&state.settings.issuer),
            expires_at: link.expires_at,
        }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EmailBody {
    /// The new address, or `null` to remove it.
    email: Option<String>,
    /// The admin vouches for the address: stored verified, no mail sent (default false: a
    /// verification link is mailed when mail is configured).
    #[serde(default)]
    verified: bool,
}

#[utoipa::path(
    put,
    path = "/admin/users/{username}/email",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    request_body(content = EmailBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The user with the new address: unverified (a verification link is mailed when mail is configured) unless `verified`; the user's reset and verification links are voided; a verified address replaced or removed is told so by mail", body = User),
        (status = 400, description = "Not a valid address", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn set_user_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let b: EmailBody = json_body(&req, payload).await?;
    let verified = if b.verified {
        Verified::Vouched
    } else {
        Verified::ByMail
    };
    let user = state.accounts.set_email(&path, b.email, verified).await?;
    Ok(HttpResponse::Ok().json(user))
}

#[utoipa::path(
    post,
    path = "/admin/users/{username}/email/verification",
    tag = "admin",
    params(("username" = String, Path, description = "The user's username")),
    responses(
        (status = 202, description = "A new verification link is queued for the user's unverified address (the earlier links are voided when it is sent)"),
        (status = 400, description = "No address, verified already, or no mail configured", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn resend_verification(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    state.accounts.resend_verification(&path, None).await?;
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(
    get,
    path = "/admin/clients",
    tag = "admin",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of clients by client_id", body = ClientList),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_clients(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let page = state.accounts.list_clients(list_request(&req)?).await?;
    Ok(HttpResponse::Ok().json(ClientList {
        clients: page.items.into_iter().map(Client::from).collect(),
        next: page.next,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewClientBody {
    client_id: String,
    #[serde(default)]
    public: bool,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    grants: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    consent: bool,
    #[serde(default)]
    introspect_any: bool,
    /// `RS256`, `ES256` or `EdDSA`, one of `SIGNING_ALGS`; absent: `ACCESS_TOKEN_ALG`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    access_token_alg: Option<Alg>,
    /// The client's `id_token_signed_response_alg`, one of `SIGNING_ALGS`; absent: RS256.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    id_token_alg: Option<Alg>,
    /// Everyone who signs in to it needs a second factor.
    #[serde(default)]
    require_mfa: bool,
}

#[utoipa::path(
    post,
    path = "/admin/clients",
    tag = "admin",
    request_body(content = NewClientBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The client, with its secret shown once", body = CreatedClient),
        (status = 409, description = "The client_id is taken", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn create_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let b: NewClientBody = json_body(&req, payload).await?;
    let (client, secret) = state
        .accounts
        .create_client_requiring_mfa(
            NewClientRequest {
                client_id: b.client_id,
                public: b.public,
                redirect_uris: b.redirect_uris,
                post_logout_redirect_uris: b.post_logout_redirect_uris,
                grants: b.grants,
                scopes: b.scopes,
                consent: b.consent,
                introspect_any: b.introspect_any,
                access_token_alg: b.access_token_alg,
                id_token_alg: b.id_token_alg,
            },
            b.require_mfa,
        )
        .await?;
    let body = CreatedClient {
        client: client.into(),
        client_secret: secret,
    };
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

#[utoipa::path(
    get,
    path = "/admin/clients/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The client_id")),
    responses(
        (status = 200, description = "The client", body = Client),
        (status = 404, description = "No such client", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn get_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    Ok(HttpResponse::Ok().json(Client::from(state.accounts.find_client(&path).await?)))
}

#[utoipa::path(
    delete,
    path = "/admin/clients/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The client_id")),
    responses(
        (status = 204, description = "Deleted, with its tokens"),
        (status = 404, description = "No such client", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn delete_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    state.accounts.delete_client(&path).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/admin/clients/{id}/disable",
    tag = "admin",
    params(("id" = String, Path, description = "The client_id")),
    responses(
        (status = 200, description = "The client, disabled", body = Client),
        (status = 404, description = "No such client", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn disable_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let client = state.accounts.set_client_disabled(&path, true).await?;
    Ok(HttpResponse::Ok().json(Client::from(client)))
}

#[utoipa::path(
    post,
    path = "/admin/clients/{id}/enable",
    tag = "admin",
    params(("id" = String, Path, description = "The client_id")),
    responses(
        (status = 200, description = "The client, enabled", body = Client),
        (status = 404, description = "No such client", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn enable_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let client = state.accounts.set_client_disabled(&path, false).await?;
    Ok(HttpResponse::Ok().json(Client::from(client)))
}

#[utoipa::path(
    post,
    path = "/admin/clients/{id}/rotate-secret",
    tag = "admin",
    params(("id" = String, Path, description = "The client_id")),
    responses(
        (status = 200, description = "The new secret, shown once", body = ClientSecret),
        (status = 404, description = "No such client", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn rotate_client_secret(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let secret = state.accounts.rotate_client_secret(&path).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(ClientSecret {
            client_id: path.into_inner(),
            client_secret: secret,
        }))
}

/// `GET /admin/audit?kind=&actor=&since=&until=&after=&limit=`: newest first; `after` is
/// the `next` of the previous page (absent on the last page).
#[utoipa::path(
    get,
    path = "/admin/audit",
    tag = "admin",
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of the audit trail, newest first", body = AuditPage),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's with scope admin", body = ErrorBody),
        (status = "4XX", description = "Other client errors", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_audit(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &req).await?;
    let filter: AuditFilter = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| ApiError::bad_request("the audit query is malformed"))?;
    let page = audit::page(&state.db, filter).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(AuditPage::from(page)))
}
