//! `POST /token` (RFC 6749 §4.1.3, §4.3, §4.4, §6), `POST /revoke` (RFC 7009) and
//! `POST /introspect` (RFC 7662): parse the form, authenticate the client, call the grant.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::body;
use super::client_addr::client_addr;
use super::client_auth::authenticate;
use super::error::OAuthError;
use super::schemas::{ErrorBody, Introspection, TokenResponse};
use crate::grants::{self, TokenFields, TokenRequest};
use crate::state::AppState;
use crate::tokens::refresh::Pair;

/// The fields of `POST /token` (public so that the micro-benchmarks can parse one).
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct TokenForm {
    #[schema(
        required = true,
        pattern = "^(password|refresh_token|client_credentials|authorization_code)$"
    )]
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

async fn read_form<T: for<'de> Deserialize<'de>>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, OAuthError> {
    let bytes = body::read(req, payload).await?;
    Ok(body::parse(req, &bytes, true)?)
}

fn required(value: Option<String>, name: &str) -> Result<String, OAuthError> {
    value.ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

#[utoipa::path(
    post,
    path = "/token",
    tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens (an id_token for the authorization-code grant with scope openid)", body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant, unsupported_grant_type, …", body = ErrorBody),
        (status = 401, description = "invalid_client (with a Basic challenge when Basic was sent)", body = ErrorBody),
        (status = "4XX", description = "Other client errors (body too large, wrong content type, throttled)", body = ErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After", body = ErrorBody),
    ),
    security((), ("client_basic" = []))
)]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let form: TokenForm = read_form(&req, payload).await?;
    let grant = required(form.grant_type.clone(), "grant_type")?;
    let client = authenticate(
        &state,
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    let fields = TokenFields {
        username: form.username,
        password: form.password,
        refresh_token: form.refresh_token,
        scope: form.scope,
        code: form.code,
        redirect_uri: form.redirect_uri,
        code_verifier: form.code_verifier,
    };
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let request = TokenRequest::parse(&grant, &client, fields, addr)?;
    let issued = grants::issue(&state.tokens, &state.guard, &client, request).await?;
    let mut body = token_body(issued.pair);
    body.id_token = issued.id_token;
    Ok(no_store(body))
}

/// §5.1: the access token response.
fn token_body(pair: Pair) -> TokenResponse {
    TokenResponse {
        access_token: pair.access,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        scope: pair.scope,
        refresh_token: pair.refresh,
        id_token: None,
    }
}

fn no_store(body: TokenResponse) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct TokenParam {
    #[schema(required = true)]
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// RFC 7009: revoking an invalid or unknown token is still 200 (§2.2).
#[utoipa::path(
    post,
    path = "/revoke",
    tag = "oauth",
    request_body(content = TokenParam, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or the token was not valid (RFC 7009 §2.2)"),
        (status = 400, description = "invalid_request, invalid_grant, unsupported_grant_type, …", body = ErrorBody),
        (status = 401, description = "invalid_client (with a Basic challenge when Basic was sent)", body = ErrorBody),
        (status = "4XX", description = "Other client errors (body too large, wrong content type, throttled)", body = ErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After", body = ErrorBody),
    ),
    security((), ("client_basic" = []))
)]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let form: TokenParam = read_form(&req, payload).await?;
    let client = authenticate(
        &state,
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    let token = required(form.token, "token")?;
    state
        .tokens
        .revoke(&client, &token, form.token_type_hint.as_deref())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// RFC 7662: active only for a valid, unrevoked token of a user still enabled.
#[utoipa::path(
    post,
    path = "/introspect",
    tag = "oauth",
    request_body(content = TokenParam, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token's state (RFC 7662 §2.2)", body = Introspection),
        (status = 400, description = "invalid_request, invalid_grant, unsupported_grant_type, …", body = ErrorBody),
        (status = 401, description = "invalid_client (with a Basic challenge when Basic was sent)", body = ErrorBody),
        (status = "4XX", description = "Other client errors (body too large, wrong content type, throttled)", body = ErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After", body = ErrorBody),
    ),
    security((), ("client_basic" = []))
)]
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let form: TokenParam = read_form(&req, payload).await?;
    let client = authenticate(
        &state,
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    let found = state
        .tokens
        .introspect(&client, form.token.as_deref())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Introspection::from(found)))
}
