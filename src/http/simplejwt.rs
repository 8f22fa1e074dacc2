//! The endpoints djangorestframework-simplejwt clients know: `/api/token/`,
//! `/api/token/refresh/`, `/api/token/verify/`, `/api/token/blacklist/`. JSON or form bodies;
//! answers and errors in simplejwt's shapes. Tokens go to the built-in `simplejwt` client.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::body;
use super::client_addr::client_addr;
use super::error::SimpleJwtError;
use super::schemas::{Empty, FieldErrors, SimpleJwtErrorBody, TokenPair};
use crate::accounts::MAX_PASSWORD_BYTES;
use crate::grants::password::{self, SIMPLEJWT_CLIENT};
use crate::passwords::Password;
use crate::state::AppState;
use crate::tokens::refresh::Pair;
use crate::tokens::TokenCheck;

async fn read<T: for<'de> Deserialize<'de>>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, SimpleJwtError> {
    let bytes = body::read(req, payload).await?;
    Ok(body::parse(req, &bytes, false)?)
}

/// Like DRF: `{"field": ["This field is required."]}` for each missing or blank field.
fn required(fields: &[(&str, &Option<String>)]) -> Result<(), SimpleJwtError> {
    let mut errors = FieldErrors::new();
    for (name, value) in fields {
        let message = match value.as_deref() {
            None => "This field is required.",
            Some(v) if v.trim().is_empty() => "This field may not be blank.",
            _ => continue,
        };
        errors.insert(name.to_string(), vec![message.to_string()]);
    }
    if errors.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = errors.keys().map(String::as_str).collect();
    let detail = format!("missing or blank: {}", names.join(", "));
    Err(SimpleJwtError::invalid(detail, errors))
}

fn ok(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn pair(pair: Pair) -> HttpResponse {
    ok(TokenPair {
        access: pair.access,
        // A simplejwt pair always carries its refresh token.
        refresh: pair.refresh.unwrap_or_default(),
    })
}

/// One field's one message, as DRF reports it.
fn field_error(name: &str, message: String) -> FieldErrors {
    FieldErrors::from([(name.to_string(), vec![message])])
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct Credentials {
    #[schema(required = true, max_length = 150)]
    username: Option<String>,
    #[schema(required = true, format = Password)]
    password: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/token/",
    tag = "simplejwt",
    request_body(content((Credentials = "application/json"), (Credentials = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "An access/refresh pair", body = TokenPair),
        (status = 400, description = "A field is missing, blank, too long or malformed", body = SimpleJwtErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = SimpleJwtErrorBody),
        (status = 401, description = "No active account with these credentials; or (`code: mfa_required`) the password was right and a second factor is due: `mfa_token` and `methods` beside, for `/api/token/mfa/`", body = SimpleJwtErrorBody),
        (status = "4XX", description = "Other client errors (body too large, wrong content type)", body = SimpleJwtErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After", body = SimpleJwtErrorBody),
    )
)]
/// `POST /api/token/`: username and password for an access/refresh pair.
pub async fn obtain(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, SimpleJwtError> {
    let creds: Credentials = read(&req, payload).await?;
    required(&[("username", &creds.username), ("password", &creds.password)])?;
    let (username, password) = (
        creds.username.unwrap_or_default(),
        creds.password.unwrap_or_default(),
    );
    if username.chars().count() > 150 {
        let fields = field_error(
            "username",
            "Ensure this field has no more than 150 characters.".into(),
        );
        return Err(SimpleJwtError::invalid(
            "username is longer than 150 characters",
            fields,
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        let fields = field_error(
            "password",
            format!("Ensure this field has no more than {MAX_PASSWORD_BYTES} characters."),
        );
        return Err(SimpleJwtError::invalid("password is too long", fields));
    }
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let issued = password::obtain_simplejwt(
        &state.tokens,
        &state.mfa,
        &username,
        Password::new(password),
        &addr,
    )
    .await?;
    Ok(pair(issued))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct MfaBody {
    /// The `mfa_token` of the `mfa_required` answer of `/api/token/`.
    #[schema(required = true)]
    mfa_token: Option<String>,
    /// Six digits of the authenticator app, or a recovery code.
    #[schema(required = true, max_length = 32)]
    code: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/token/mfa/",
    tag = "simplejwt",
    request_body(content((MfaBody = "application/json"), (MfaBody = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "An access/refresh pair; the mfa_token is spent", body = TokenPair),
        (status = 400, description = "A field is missing, blank or malformed", body = SimpleJwtErrorBody),
        (status = 401, description = "The mfa_token is invalid, expired or used (`token_not_valid`), or the code is wrong or used (`invalid_code`)", body = SimpleJwtErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = SimpleJwtErrorBody),
        (status = "4XX", description = "Other client errors (body too large, wrong content type)", body = SimpleJwtErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After", body = SimpleJwtErrorBody),
    )
)]
/// `POST /api/token/mfa/`: the second step of `/api/token/` for a user with a second factor.
pub async fn obtain_mfa(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, SimpleJwtError> {
    let body: MfaBody = read(&req, payload).await?;
    // A missing `code` is said in `detail` only: a field error under "code" would replace
    // simplejwt's error code.
    required(&[("mfa_token", &body.mfa_token)])?;
    if body.code.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(SimpleJwtError::invalid(
            "missing or blank: code",
            FieldErrors::new(),
        ));
    }
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let issued = password::complete_simplejwt_mfa(
        &state.tokens,
        &state.mfa,
        body.mfa_token.as_deref().unwrap_or_default(),
        body.code.as_deref().unwrap_or_default(),
        &addr,
    )
    .await?;
    Ok(pair(issued))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct RefreshBody {
    #[schema(required = true)]
    refresh: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/token/refresh/",
    tag = "simplejwt",
    request_body(content((RefreshBody = "application/json"), (RefreshBody = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "A new pair; the refresh token is spent", body = TokenPair),
        (status = 400, description = "A field is missing, blank, too long or malformed", body = SimpleJwtErrorBody),
        (status = 401, description = "Refused", body = SimpleJwtErrorBody),
        (status = "4XX", description = "Other client errors (body too large, wrong content type)", body = SimpleJwtErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After", body = SimpleJwtErrorBody),
    )
)]
/// `POST /api/token/refresh/`: spends the refresh token and returns a new pair.
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, SimpleJwtError> {
    let body: RefreshBody = read(&req, payload).await?;
    required(&[("refresh", &body.refresh)])?;
    let token = body.refresh.unwrap_or_default();
    let issued = state.tokens.rotate(&token, Some(SIMPLEJWT_CLIENT)).await?;
    Ok(pair(issued))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct VerifyBody {
    #[schema(required = true)]
    token: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/token/verify/",
    tag = "simplejwt",
    request_body(content((VerifyBody = "application/json"), (VerifyBody = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The token is valid", body = Empty),
        (status = 400, description = "A field is missing, blank, too long or malformed", body = SimpleJwtErrorBody),
        (status = 401, description = "Refused", body = SimpleJwtErrorBody),
        (status = "4XX", description = "Other client errors (body too large, wrong content type)", body = SimpleJwtErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After", body = SimpleJwtErrorBody),
    )
)]
/// `POST /api/token/verify/`: 200 `{}` for a live access or refresh token (see `tokens::live`).
pub async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, SimpleJwtError> {
    let body: VerifyBody = read(&req, payload).await?;
    required(&[("token", &body.token)])?;
    let token = body.token.unwrap_or_default();
    match state.tokens.check(&token).await? {
        TokenCheck::Valid => Ok(ok(Empty {})),
        TokenCheck::Invalid => Err(SimpleJwtError::token_not_valid(
            "Token is invalid or expired",
        )),
        TokenCheck::Revoked => Err(SimpleJwtError::token_not_valid("Token is blacklisted")),
    }
}

#[utoipa::path(
    post,
    path = "/api/token/blacklist/",
    tag = "simplejwt",
    request_body(content((RefreshBody = "application/json"), (RefreshBody = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The refresh token and its family are revoked", body = Empty),
        (status = 400, description = "A field is missing, blank, too long or malformed", body = SimpleJwtErrorBody),
        (status = 401, description = "Refused", body = SimpleJwtErrorBody),
        (status = "4XX", description = "Other client errors (body too large, wrong content type)", body = SimpleJwtErrorBody),
        (status = 503, description = "The database is unavailable; see Retry-After", body = SimpleJwtErrorBody),
    )
)]
/// `POST /api/token/blacklist/`: revokes the refresh token (and its family).
pub async fn blacklist(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, SimpleJwtError> {
    let body: RefreshBody = read(&req, payload).await?;
    required(&[("refresh", &body.refresh)])?;
    let claims = state
        .tokens
        .verify_refresh(body.refresh.as_deref().unwrap_or_default())?;
    if state
        .tokens
        .revoke_family_of(&claims, "blacklisted")
        .await?
    {
        Ok(ok(Empty {}))
    } else {
        Err(SimpleJwtError::token_not_valid("Token is blacklisted"))
    }
}
