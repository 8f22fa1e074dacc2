//! Errors of `/token`, `/revoke` and `/introspect` (RFC 6749 §5.2, RFC 7009, RFC 7662).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use super::{answer_internal, internal_description, internal_status, json_response};
use super::{with_retry_after, THROTTLED};
use crate::accounts::client_auth::ClientAuthError;
use crate::db::DbError;
use crate::error::Internal;
use crate::grants::GrantError;
use crate::http::body::BodyError;
use crate::http::schemas::ErrorBody;
use crate::tokens::introspect::IntrospectError;
use crate::tokens::revoke::RevokeError;

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
    /// Too many wrong client secrets from this address: 429 `invalid_client` with
    /// `Retry-After`.
    #[error("client authentication throttled")]
    ClientThrottled(i64),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl OAuthError {
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }
    /// §5.2: 401, with a Basic challenge when the client tried HTTP Basic.
    pub fn invalid_client(basic_challenge: bool) -> Self {
        OAuthError::Client {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: "client authentication failed".into(),
            basic_challenge,
        }
    }
    /// A failed client authentication; `via_basic` says whether it came in the header.
    pub fn client_auth(e: ClientAuthError, via_basic: bool) -> Self {
        match e {
            ClientAuthError::Failed => OAuthError::invalid_client(via_basic),
            ClientAuthError::Throttled(wait) => OAuthError::ClientThrottled(wait),
            ClientAuthError::Internal(i) => i.into(),
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

impl From<DbError> for OAuthError {
    fn from(e: DbError) -> Self {
        OAuthError::Internal(e.into())
    }
}

impl From<BodyError> for OAuthError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => Self::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                e.to_string(),
            ),
            other => OAuthError::invalid_request(other.to_string()),
        }
    }
}

impl From<GrantError> for OAuthError {
    fn from(e: GrantError) -> Self {
        let bad = |error, d: String| Self::client(StatusCode::BAD_REQUEST, error, d);
        match e {
            GrantError::InvalidRequest(d) => bad("invalid_request", d),
            GrantError::InvalidGrant(d) => bad("invalid_grant", d),
            GrantError::InvalidScope(d) => bad("invalid_scope", d),
            GrantError::UnauthorizedClient(d) => bad("unauthorized_client", d),
            GrantError::UnsupportedGrantType(d) => bad("unsupported_grant_type", d),
            GrantError::BadCredentials => bad("invalid_grant", e.to_string()),
            GrantError::Refresh(r) => bad("invalid_grant", r.to_string()),
            GrantError::Throttled(wait) => OAuthError::Throttled(wait),
            GrantError::Internal(i) => i.into(),
        }
    }
}

impl From<RevokeError> for OAuthError {
    fn from(e: RevokeError) -> Self {
        match e {
            RevokeError::UnsupportedTokenType(_) => Self::client(
                StatusCode::BAD_REQUEST,
                "unsupported_token_type",
                e.to_string(),
            ),
            RevokeError::NotYours => OAuthError::invalid_request(e.to_string()),
            RevokeError::Internal(i) => i.into(),
        }
    }
}

impl From<IntrospectError> for OAuthError {
    fn from(e: IntrospectError) -> Self {
        match e {
            IntrospectError::PublicClient => OAuthError::invalid_client(false),
            IntrospectError::TokenRequired => OAuthError::invalid_request(e.to_string()),
            IntrospectError::Internal(i) => i.into(),
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            OAuthError::Client { status, .. } => *status,
            OAuthError::Throttled(_) | OAuthError::ClientThrottled(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            OAuthError::Internal(i) => internal_status(i),
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
                    ErrorBody {
                        error,
                        error_description: description.clone(),
                    },
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
                    ErrorBody {
                        error: "invalid_grant",
                        error_description: THROTTLED.into(),
                    },
                ),
                *wait,
            ),
            OAuthError::ClientThrottled(wait) => with_retry_after(
                json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorBody {
                        error: "invalid_client",
                        error_description:
                            "too many failed client authentications; try again later".into(),
                    },
                ),
                *wait,
            ),
            OAuthError::Internal(i) => {
                let error = if i.is_unavailable() {
                    "temporarily_unavailable"
                } else {
                    "server_error"
                };
                let body = ErrorBody {
                    error,
                    error_description: internal_description(i).into(),
                };
                answer_internal(i, json_response(internal_status(i), body))
            }
        }
    }
}
