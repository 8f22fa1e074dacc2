//! Errors map once, per surface: OAuth JSON (RFC 6749 §5.2), simplejwt's `{detail, code}`,
//! and the admin API's JSON. A 5xx logs its cause and sends an opaque body; a 401 carries
//! `WWW-Authenticate`; an unreachable database is a 503.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::db::DbError;
use crate::keys::manager::KeyError;
use crate::passwords::HashError;
use crate::tokens::issue::IssueError;
use crate::tokens::refresh::RefreshError;

/// Failures that are never the client's fault.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Other(String),
}

impl From<DbError> for Internal {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(m) => Internal::Unavailable(m),
            other => Internal::Other(other.to_string()),
        }
    }
}
impl From<HashError> for Internal {
    fn from(e: HashError) -> Self {
        Internal::Other(e.to_string())
    }
}
impl From<IssueError> for Internal {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::NoKey => Internal::Unavailable("no signing key loaded".into()),
            other => Internal::Other(other.to_string()),
        }
    }
}
impl From<KeyError> for Internal {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Db(db) => db.into(),
            other => Internal::Other(other.to_string()),
        }
    }
}

impl Internal {
    fn status(&self) -> StatusCode {
        match self {
            Internal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Internal::Other(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn log(&self) {
        tracing::error!(error = %self, "request failed");
    }
    fn describe(&self) -> &'static str {
        match self {
            Internal::Unavailable(_) => "the service is temporarily unavailable; try again shortly",
            Internal::Other(_) => "internal server error",
        }
    }
}

/// An RFC 6749 §5.2 error.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{error}: {description}")]
    Client {
        status: StatusCode,
        error: &'static str,
        description: String,
        basic_challenge: bool,
    },
    /// Too many failed sign-ins for the username or the client address: 429 with
    /// `Retry-After` (seconds).
    #[error("throttled")]
    Throttled(i64),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl OAuthError {
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "invalid_scope", d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "unauthorized_client", d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }
    pub fn unsupported_token_type(d: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "unsupported_token_type", d)
    }
    /// §5.2: 401 with a Basic challenge when the client tried HTTP Basic.
    pub fn invalid_client(basic_challenge: bool) -> Self {
        OAuthError::Client {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: "client authentication failed".into(),
            basic_challenge,
        }
    }
    fn client(status: StatusCode, error: &'static str, d: impl Into<String>) -> Self {
        OAuthError::Client {
            status,
            error,
            description: d.into(),
            basic_challenge: false,
        }
    }
}

macro_rules! internal_from {
    ($($t:ty),*) => {$(
        impl From<$t> for OAuthError { fn from(e: $t) -> Self { OAuthError::Internal(e.into()) } }
        impl From<$t> for SimpleJwtError { fn from(e: $t) -> Self { SimpleJwtError::Internal(e.into()) } }
        impl From<$t> for ApiError { fn from(e: $t) -> Self { ApiError::Internal(e.into()) } }
    )*};
}
internal_from!(DbError, HashError, IssueError, KeyError);

impl From<RefreshError> for OAuthError {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::Db(db) => db.into(),
            RefreshError::Issue(i) => i.into(),
            other => OAuthError::invalid_grant(other.to_string()),
        }
    }
}

/// One message whether or not the account exists.
const THROTTLED: &str = "too many failed sign-ins; try again later";

/// Adds `Retry-After` (at least 1 s) to a 429 or 503.
pub(crate) fn with_retry_after(mut resp: HttpResponse, seconds: i64) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&seconds.max(1).to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn json_response(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            OAuthError::Client { status, .. } => *status,
            OAuthError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::Internal(i) => i.status(),
        }
    }
    fn error_response(&self) -> HttpResponse {
        match self {
            OAuthError::Client {
                status,
                error,
                description,
                basic_challenge,
            } => {
                let mut resp = json_response(
                    *status,
                    json!({ "error": error, "error_description": description }),
                );
                if *basic_challenge {
                    resp.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        header::HeaderValue::from_static("Basic realm=\"gatehouse\""),
                    );
                }
                resp
            }
            OAuthError::Throttled(wait) => with_retry_after(
                json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({ "error": "invalid_grant", "error_description": THROTTLED }),
                ),
                *wait,
            ),
            OAuthError::Internal(i) => {
                i.log();
                let error = if i.status() == StatusCode::SERVICE_UNAVAILABLE {
                    "temporarily_unavailable"
                } else {
                    "server_error"
                };
                json_response(
                    i.status(),
                    json!({ "error": error, "error_description": i.describe() }),
                )
            }
        }
    }
}

/// An error of the simplejwt-compatible endpoints: `{"detail", "code"}` like DRF.
#[derive(Debug, thiserror::Error)]
pub enum SimpleJwtError {
    #[error("{detail}")]
    Client {
        status: StatusCode,
        detail: String,
        code: &'static str,
        fields: Option<serde_json::Value>,
    },
    /// Like [`OAuthError::Throttled`], in DRF's shape (`code: "throttled"`).
    #[error("throttled")]
    Throttled(i64),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl SimpleJwtError {
    pub fn token_not_valid(detail: impl Into<String>) -> Self {
        SimpleJwtError::Client {
            status: StatusCode::UNAUTHORIZED,
            detail: detail.into(),
            code: "token_not_valid",
            fields: None,
        }
    }
    pub fn no_active_account() -> Self {
        SimpleJwtError::Client {
            status: StatusCode::UNAUTHORIZED,
            detail: "No active account found with the given credentials".into(),
            code: "no_active_account",
            fields: None,
        }
    }
    /// DRF's field errors (`{"username": ["This field is required."]}`) beside detail/code.
    pub fn invalid(detail: impl Into<String>, fields: Option<serde_json::Value>) -> Self {
        SimpleJwtError::Client {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
            code: "invalid",
            fields,
        }
    }
    pub fn parse_error(detail: impl Into<String>, status: StatusCode) -> Self {
        SimpleJwtError::Client {
            status,
            detail: detail.into(),
            code: "parse_error",
            fields: None,
        }
    }
}

impl ResponseError for SimpleJwtError {
    fn status_code(&self) -> StatusCode {
        match self {
            SimpleJwtError::Client { status, .. } => *status,
            SimpleJwtError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            SimpleJwtError::Internal(i) => i.status(),
        }
    }
    fn error_response(&self) -> HttpResponse {
        match self {
            SimpleJwtError::Client {
                status,
                detail,
                code,
                fields,
            } => {
                let mut body = json!({ "detail": detail, "code": code });
                if let (Some(serde_json::Value::Object(f)), Some(obj)) =
                    (fields, body.as_object_mut())
                {
                    obj.extend(f.clone());
                }
                let mut resp = json_response(*status, body);
                if *status == StatusCode::UNAUTHORIZED {
                    resp.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        header::HeaderValue::from_static("Bearer realm=\"api\""),
                    );
                }
                resp
            }
            SimpleJwtError::Throttled(wait) => with_retry_after(
                json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({ "detail": THROTTLED, "code": "throttled" }),
                ),
                *wait,
            ),
            SimpleJwtError::Internal(i) => {
                i.log();
                json_response(
                    i.status(),
                    json!({ "detail": i.describe(), "code": "server_error" }),
                )
            }
        }
    }
}

/// An error of the admin API and other bearer-protected JSON endpoints.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{description}")]
    Client {
        status: StatusCode,
        error: &'static str,
        description: String,
        /// Whether a 401/403 challenge names the error; not when no token was sent at all
        /// (RFC 6750 §3.1).
        challenge_names_error: bool,
    },
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, d: impl Into<String>) -> Self {
        ApiError::Client {
            status,
            error,
            description: d.into(),
            challenge_names_error: true,
        }
    }
    /// No bearer token at all: 401 with a bare challenge.
    pub fn token_required() -> Self {
        ApiError::Client {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_token",
            description: "a bearer access token is required".into(),
            challenge_names_error: false,
        }
    }
    pub fn bad_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    pub fn not_found(d: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", d)
    }
    pub fn conflict(d: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", d)
    }
    /// RFC 6750 §3.1.
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", d)
    }
    pub fn insufficient_scope(d: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "insufficient_scope", d)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Client { status, .. } => *status,
            ApiError::Internal(i) => i.status(),
        }
    }
    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Client {
                status,
                error,
                description,
                challenge_names_error,
            } => {
                let mut resp = json_response(
                    *status,
                    json!({ "error": error, "error_description": description }),
                );
                if matches!(*status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                    // RFC 6750 §3: the challenge names the error; the description is ours, never the token.
                    let challenge = if *challenge_names_error {
                        format!("Bearer realm=\"gatehouse\", error=\"{error}\"")
                    } else {
                        "Bearer realm=\"gatehouse\"".to_string()
                    };
                    if let Ok(v) = header::HeaderValue::from_str(&challenge) {
                        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                    }
                }
                resp
            }
            ApiError::Internal(i) => {
                i.log();
                json_response(
                    i.status(),
                    json!({ "error": "server_error", "error_description": i.describe() }),
                )
            }
        }
    }
}
