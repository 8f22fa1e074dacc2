//! The endpoints djangorestframework-simplejwt clients know: `/api/token/`,
//! `/api/token/refresh/`, `/api/token/verify/`, `/api/token/blacklist/`. JSON or form bodies;
//! answers and errors in simplejwt's shapes. Tokens go to the built-in `simplejwt` client.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::body::{self, BodyError};
use super::client_addr::client_addr;
use super::error::SimpleJwtError;
use crate::accounts::MAX_PASSWORD_BYTES;
use crate::db::repo;
use crate::passwords::Password;
use crate::sso::throttle::{self, GuardedLoginError};
use crate::state::AppState;
use crate::tokens::claims::Subject;
use crate::tokens::refresh::{self, RefreshError};
use crate::tokens::verify::TokenError;

pub const CLIENT_ID: &str = "simplejwt";

async fn read<T: for<'de> Deserialize<'de>>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, SimpleJwtError> {
    let bytes = body::read(req, payload).await.map_err(body_error)?;
    body::parse(req, &bytes, false).map_err(body_error)
}

fn body_error(e: BodyError) -> SimpleJwtError {
    match e {
        BodyError::TooLarge => {
            SimpleJwtError::parse_error(e.to_string(), StatusCode::PAYLOAD_TOO_LARGE)
        }
        BodyError::UnsupportedType => {
            SimpleJwtError::parse_error(e.to_string(), StatusCode::UNSUPPORTED_MEDIA_TYPE)
        }
        BodyError::Malformed(_) => {
            SimpleJwtError::parse_error(e.to_string(), StatusCode::BAD_REQUEST)
        }
    }
}

/// Like DRF: `{"field": ["This field is required."]}` for each missing or blank field.
fn required(fields: &[(&str, &Option<String>)]) -> Result<(), SimpleJwtError> {
    let mut errors = serde_json::Map::new();
    for (name, value) in fields {
        match value.as_deref() {
            None => {
                errors.insert(name.to_string(), json!(["This field is required."]));
            }
            Some(v) if v.trim().is_empty() => {
                errors.insert(name.to_string(), json!(["This field may not be blank."]));
            }
            _ => {}
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let names: Vec<&String> = errors.keys().collect();
    let detail = format!(
        "missing or blank: {}",
        names
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Err(SimpleJwtError::invalid(
        detail,
        Some(serde_json::Value::Object(errors)),
    ))
}

fn ok(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

#[derive(Deserialize)]
struct Credentials {
    username: Option<String>,
    password: Option<String>,
}

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
        let fields = json!({ "username": ["Ensure this field has no more than 150 characters."] });
        return Err(SimpleJwtError::invalid(
            "username is longer than 150 characters",
            Some(fields),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        let fields = json!({ "password": [format!("Ensure this field has no more than {MAX_PASSWORD_BYTES} characters.")] });
        return Err(SimpleJwtError::invalid(
            "password is too long",
            Some(fields),
        ));
    }
    let client = state
        .db
        .run(|conn| repo::clients::find(conn, CLIENT_ID))
        .await?
        .filter(|c| !c.disabled)
        .ok_or_else(|| SimpleJwtError::Client {
            status: StatusCode::FORBIDDEN,
            detail: "the simplejwt endpoints are disabled".into(),
            code: "disabled",
            fields: None,
        })?;
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let user = match throttle::check_password_guarded(
        &state,
        &username,
        Password::new(password),
        &addr,
        "simplejwt",
    )
    .await
    {
        Ok(u) => u,
        Err(GuardedLoginError::BadCredentials) => return Err(SimpleJwtError::no_active_account()),
        Err(GuardedLoginError::Throttled(wait)) => return Err(SimpleJwtError::Throttled(wait)),
        Err(GuardedLoginError::Db(e)) => return Err(e.into()),
        Err(GuardedLoginError::Hash(e)) => return Err(e.into()),
    };
    let subject = Subject {
        sub: user.id.clone(),
        user_id: Some(user.user_id().to_string()),
        client_id: client.client_id.clone(),
        scope: client.scopes.join(" "),
        audience: state.settings.default_audience.clone(),
    };
    let pair = refresh::issue_pair(&state, &subject, true)
        .await
        .map_err(refresh_error)?;
    Ok(ok(
        json!({ "access": pair.access, "refresh": pair.refresh }),
    ))
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh: Option<String>,
}

fn refresh_error(e: RefreshError) -> SimpleJwtError {
    match e {
        RefreshError::Db(db) => db.into(),
        RefreshError::Issue(i) => i.into(),
        RefreshError::Reused | RefreshError::Revoked => {
            SimpleJwtError::token_not_valid("Token is blacklisted")
        }
        RefreshError::Token(TokenError::Expired) => {
            SimpleJwtError::token_not_valid("Token is expired")
        }
        RefreshError::Token(TokenError::WrongType) => {
            SimpleJwtError::token_not_valid("Token has wrong type")
        }
        _ => SimpleJwtError::token_not_valid("Token is invalid"),
    }
}

/// `POST /api/token/refresh/`: spends the refresh token and returns a new pair.
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, SimpleJwtError> {
    let body: RefreshBody = read(&req, payload).await?;
    required(&[("refresh", &body.refresh)])?;
    let pair = refresh::rotate(
        &state,
        body.refresh.as_deref().unwrap_or_default(),
        Some(CLIENT_ID),
    )
    .await
    .map_err(refresh_error)?;
    Ok(ok(
        json!({ "access": pair.access, "refresh": pair.refresh }),
    ))
}

#[derive(Deserialize)]
struct VerifyBody {
    token: Option<String>,
}

/// `POST /api/token/verify/`: 200 `{}` for a valid access or live refresh token.
pub async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, SimpleJwtError> {
    let body: VerifyBody = read(&req, payload).await?;
    required(&[("token", &body.token)])?;
    let token = body.token.unwrap_or_default();
    let keys = state.keys.store.snapshot();
    let verifier = state.verifier(&keys, state.clock.now());
    let invalid = || SimpleJwtError::token_not_valid("Token is invalid or expired");
    match verifier.access(&token) {
        Ok(_) => return Ok(ok(json!({}))),
        Err(TokenError::WrongType) => {}
        Err(_) => return Err(invalid()),
    }
    let claims = verifier.refresh(&token).map_err(|_| invalid())?;
    if refresh::is_live(&state, &claims).await? {
        Ok(ok(json!({})))
    } else {
        Err(SimpleJwtError::token_not_valid("Token is blacklisted"))
    }
}

/// `POST /api/token/blacklist/`: revokes the refresh token (and its family).
pub async fn blacklist(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, SimpleJwtError> {
    let body: RefreshBody = read(&req, payload).await?;
    required(&[("refresh", &body.refresh)])?;
    let claims = refresh::verify_refresh(&state, body.refresh.as_deref().unwrap_or_default())
        .map_err(|e| refresh_error(RefreshError::Token(e)))?;
    if refresh::revoke_family_of(&state, &claims, "blacklisted").await? {
        Ok(ok(json!({})))
    } else {
        Err(SimpleJwtError::token_not_valid("Token is blacklisted"))
    }
}
