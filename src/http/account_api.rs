//! A single-page app's enrolment of an authenticator app, with the user's bearer access
//! token (RFC 6750) and simplejwt's error shapes: `POST /api/account/totp/` with the password
//! starts it (`secret`, `otpauth_uri`), `POST /api/account/totp/confirm/` with one code
//! confirms it (the ten recovery codes, shown once), `DELETE /api/account/totp/` with the
//! password removes it. The same use cases as the account page.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::body;
use super::client_addr::client_addr;
use super::error::SimpleJwtError;
use super::schemas::{Empty, FieldErrors, RecoveryCodes, SimpleJwtErrorBody, TotpEnrolment};
use super::userinfo::bearer_token;
use crate::accounts::User;
use crate::passwords::Password;
use crate::state::AppState;
use crate::tokens::bearer::BearerError;

/// The body of `POST` and `DELETE /api/account/totp/`.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub(super) struct PasswordBody {
    /// The user's current password.
    #[schema(required = true)]
    password: Option<String>,
}

/// The body of `POST /api/account/totp/confirm/`.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub(super) struct CodeBody {
    /// Six digits of the new authenticator app.
    #[schema(required = true, max_length = 32)]
    code: Option<String>,
}

async fn read<T: serde::de::DeserializeOwned + Default>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, SimpleJwtError> {
    let bytes = body::read(req, payload).await?;
    if bytes.is_empty() {
        return Ok(T::default());
    }
    Ok(body::parse(req, &bytes, false)?)
}

/// The user of the bearer access token; simplejwt's `token_not_valid` otherwise.
async fn user_of(state: &AppState, req: &HttpRequest) -> Result<User, SimpleJwtError> {
    let refused = |detail: &str| SimpleJwtError::token_not_valid(detail.to_string());
    match state.tokens.authenticate(bearer_token(req)).await {
        Ok(auth) => auth.user.ok_or_else(|| refused("The token has no user")),
        Err(BearerError::Internal(i)) => Err(i.into()),
        Err(BearerError::Missing) => Err(refused("Authentication credentials were not provided.")),
        Err(_) => Err(refused("Token is invalid or expired")),
    }
}

/// A required field; a missing one is said in `detail` only (a field error under "code"
/// would replace simplejwt's error code).
fn field<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, SimpleJwtError> {
    match value.as_deref() {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(SimpleJwtError::invalid(
            format!("missing or blank: {name}"),
            FieldErrors::new(),
        )),
    }
}

fn ok(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

#[utoipa::path(
    post,
    path = "/api/account/totp/",
    tag = "account",
    request_body(content((PasswordBody = "application/json"), (PasswordBody = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The new secret, as text and as the URI an authenticator app reads; it counts only once confirmed", body = TotpEnrolment),
        (status = 400, description = "The password is missing or blank", body = SimpleJwtErrorBody),
        (status = 401, description = "No valid bearer access token of a user (`token_not_valid`), or the password is not right (`invalid_password`)", body = SimpleJwtErrorBody),
        (status = 409, description = "An authenticator app is set up already (`already_enrolled`)", body = SimpleJwtErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = SimpleJwtErrorBody),
        (status = "4XX", description = "Other client errors (body too large, wrong content type)", body = SimpleJwtErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After", body = SimpleJwtErrorBody),
    ),
    security(("bearer" = []))
)]
/// `POST /api/account/totp/`: `{"password"}` → `{"secret", "otpauth_uri"}`.
pub async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, SimpleJwtError> {
    let user = user_of(&state, &req).await?;
    let body: PasswordBody = read(&req, payload).await?;
    let password = Password::new(field(&body.password, "password")?.to_string());
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let enrolment = state.mfa.start_totp(&user, password, &addr).await?;
    Ok(ok(TotpEnrolment {
        secret: enrolment.secret.as_str(),
        otpauth_uri: enrolment.uri.as_str(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/account/totp/confirm/",
    tag = "account",
    request_body(content((CodeBody = "application/json"), (CodeBody = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The app is set up; the ten single-use recovery codes, shown this once", body = RecoveryCodes),
        (status = 400, description = "The code is missing, blank or not six digits", body = SimpleJwtErrorBody),
        (status = 401, description = "No valid bearer access token of a user (`token_not_valid`), or the code is not right, used already, or no app is being set up (`invalid_code`)", body = SimpleJwtErrorBody),
        (status = 409, description = "An authenticator app is set up already (`already_enrolled`)", body = SimpleJwtErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = SimpleJwtErrorBody),
        (status = "4XX", description = "Other client errors (body too large, wrong content type)", body = SimpleJwtErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After", body = SimpleJwtErrorBody),
    ),
    security(("bearer" = []))
)]
/// `POST /api/account/totp/confirm/`: `{"code"}` → `{"recovery_codes": […]}`.
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, SimpleJwtError> {
    let user = user_of(&state, &req).await?;
    let body: CodeBody = read(&req, payload).await?;
    let code = field(&body.code, "code")?;
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let codes = state.mfa.confirm_totp(&user, code, &addr).await?;
    let shown: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    Ok(ok(RecoveryCodes {
        recovery_codes: shown,
    }))
}

#[utoipa::path(
    delete,
    path = "/api/account/totp/",
    tag = "account",
    request_body(content((PasswordBody = "application/json"), (PasswordBody = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The app and its recovery codes are removed", body = Empty),
        (status = 400, description = "The password is missing or blank", body = SimpleJwtErrorBody),
        (status = 401, description = "No valid bearer access token of a user (`token_not_valid`), the password is not right (`invalid_password`), or no app is set up (`invalid_code`)", body = SimpleJwtErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = SimpleJwtErrorBody),
        (status = "4XX", description = "Other client errors (body too large, wrong content type)", body = SimpleJwtErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After", body = SimpleJwtErrorBody),
    ),
    security(("bearer" = []))
)]
/// `DELETE /api/account/totp/`: `{"password"}` → `{}`.
pub async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, SimpleJwtError> {
    let user = user_of(&state, &req).await?;
    let body: PasswordBody = read(&req, payload).await?;
    let password = Password::new(field(&body.password, "password")?.to_string());
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    state.mfa.remove_totp(&user, password, &addr).await?;
    Ok(ok(Empty {}))
}
