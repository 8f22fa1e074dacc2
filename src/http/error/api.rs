//! Errors of the admin API and the other bearer-protected JSON endpoints (`/userinfo`):
//! `{"error", "error_description"}`, with RFC 6750 §3 challenges on 401 and 403.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use super::{answer_internal, internal_description, internal_status, json_response};
use crate::accounts::AccountError;
use crate::audit::AuditError;
use crate::db::DbError;
use crate::error::Internal;
use crate::http::body::BodyError;
use crate::http::schemas::ErrorBody;
use crate::keys::manager::KeyError;
use crate::tokens::bearer::BearerError;

/// RFC 9470's error code: the token's authentication is not enough.
const INSUFFICIENT_USER_AUTHENTICATION: &str = "insufficient_user_authentication";

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
    pub fn bad_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match super::key_refusal(&e) {
            Some((status, error)) => Self::new(status, error, e.to_string()),
            None => ApiError::Internal(e.into()),
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                e.to_string(),
            ),
            BodyError::UnsupportedType => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                e.to_string(),
            ),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(m) => ApiError::bad_request(m),
            AccountError::Exists(m) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{m} already exists"),
            ),
            AccountError::NotFound(m) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", format!("{m} not found"))
            }
            AccountError::LastAdmin | AccountError::Managed(_) => {
                Self::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            AccountError::Db(db) => db.into(),
            AccountError::Hash(h) => ApiError::Internal(h.into()),
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Invalid(m) => ApiError::bad_request(m),
            AuditError::Db(db) => db.into(),
        }
    }
}

impl From<BearerError> for ApiError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Missing => ApiError::Client {
                status: StatusCode::UNAUTHORIZED,
                error: "invalid_token",
                description: e.to_string(),
                challenge_names_error: false,
            },
            BearerError::NotAdmin => {
                Self::new(StatusCode::FORBIDDEN, "insufficient_scope", e.to_string())
            }
            // RFC 9470 §3: 401, and the challenge says which acr would do.
            BearerError::InsufficientUserAuthentication => Self::new(
                StatusCode::UNAUTHORIZED,
                INSUFFICIENT_USER_AUTHENTICATION,
                e.to_string(),
            ),
            BearerError::Internal(i) => i.into(),
            other => Self::new(StatusCode::UNAUTHORIZED, "invalid_token", other.to_string()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Client { status, .. } => *status,
            ApiError::Internal(i) => internal_status(i),
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
                    ErrorBody {
                        error,
                        error_description: description.clone(),
                    },
                );
                if matches!(*status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                    // RFC 6750 §3: the challenge names the error; the description is ours,
                    // never the token.
                    let challenge = if *error == INSUFFICIENT_USER_AUTHENTICATION {
                        // Our own text, without quotes or backslashes (a quoted-string).
                        format!(
                            "Bearer realm=\"gatehouse\", error=\"{error}\", \
                             error_description=\"{}\", acr_values=\"{}\"",
                            description.replace(['"', '\\'], ""),
                            crate::assurance::ACR_MFA
                        )
                    } else if *challenge_names_error {
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
                let body = ErrorBody {
                    error: "server_error",
                    error_description: internal_description(i).into(),
                };
                answer_internal(i, json_response(internal_status(i), body))
            }
        }
    }
}
