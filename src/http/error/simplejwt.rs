//! Errors of the simplejwt-compatible endpoints: `{"detail", "code"}` like Django REST
//! Framework, with its field errors where DRF has them.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use super::{answer_internal, internal_description, internal_status, json_response};
use super::{with_retry_after, THROTTLED};
use crate::db::DbError;
use crate::error::Internal;
use crate::grants::password::MfaToken;
use crate::grants::password::ObtainError;
use crate::grants::GrantError;
use crate::http::body::BodyError;
use crate::http::schemas::{FieldErrors, MfaRequiredBody, SimpleJwtErrorBody};
use crate::mfa::challenge::ChallengeError;
use crate::mfa::MfaError;
use crate::tokens::refresh::{RefreshError, RefreshRefusal};
use crate::tokens::verify::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum SimpleJwtError {
    #[error("{detail}")]
    Client {
        status: StatusCode,
        detail: String,
        code: &'static str,
        /// DRF's field errors (none for most errors).
        fields: FieldErrors,
    },
    /// The right password of a user with a second factor: 401 `mfa_required` with the
    /// single-use token for `/api/token/mfa/`, so a client that knows nothing of second
    /// factors fails closed. (`MfaToken`'s `Debug` never shows the token.)
    #[error("a second factor is required")]
    MfaRequired(MfaToken),
    /// Too many failed sign-ins: 429 with `Retry-After`, DRF's `code: "throttled"`.
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
            fields: FieldErrors::new(),
        }
    }
    /// DRF's field errors (`{"username": ["This field is required."]}`) beside detail/code.
    pub fn invalid(detail: impl Into<String>, fields: FieldErrors) -> Self {
        SimpleJwtError::Client {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
            code: "invalid",
            fields,
        }
    }
    fn parse_error(detail: String, status: StatusCode) -> Self {
        SimpleJwtError::Client {
            status,
            detail,
            code: "parse_error",
            fields: FieldErrors::new(),
        }
    }
}

impl From<DbError> for SimpleJwtError {
    fn from(e: DbError) -> Self {
        SimpleJwtError::Internal(e.into())
    }
}

impl From<BodyError> for SimpleJwtError {
    fn from(e: BodyError) -> Self {
        let status = match e {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyError::Malformed(_) => StatusCode::BAD_REQUEST,
        };
        SimpleJwtError::parse_error(e.to_string(), status)
    }
}

/// simplejwt's wording for a token that is not acceptable.
impl From<TokenError> for SimpleJwtError {
    fn from(e: TokenError) -> Self {
        SimpleJwtError::token_not_valid(match e {
            TokenError::Expired => "Token is expired",
            TokenError::WrongType => "Token has wrong type",
            _ => "Token is invalid",
        })
    }
}

impl From<RefreshError> for SimpleJwtError {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::Refused(refusal) => refusal.into(),
            RefreshError::Db(db) => db.into(),
            RefreshError::Issue(i) => SimpleJwtError::Internal(i.into()),
        }
    }
}

impl From<RefreshRefusal> for SimpleJwtError {
    fn from(e: RefreshRefusal) -> Self {
        match e {
            RefreshRefusal::Reused | RefreshRefusal::Revoked => {
                SimpleJwtError::token_not_valid("Token is blacklisted")
            }
            RefreshRefusal::Token(t) => t.into(),
            RefreshRefusal::Unknown
            | RefreshRefusal::WrongClient
            | RefreshRefusal::AdminScopeRevoked => {
                SimpleJwtError::token_not_valid("Token is invalid")
            }
        }
    }
}

impl From<GrantError> for SimpleJwtError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::BadCredentials => SimpleJwtError::Client {
                status: StatusCode::UNAUTHORIZED,
                detail: "No active account found with the given credentials".into(),
                code: "no_active_account",
                fields: FieldErrors::new(),
            },
            GrantError::Throttled(wait) => SimpleJwtError::Throttled(wait),
            GrantError::Refresh(r) => r.into(),
            GrantError::Internal(i) => i.into(),
            other => SimpleJwtError::invalid(other.to_string(), FieldErrors::new()),
        }
    }
}

impl From<ObtainError> for SimpleJwtError {
    fn from(e: ObtainError) -> Self {
        match e {
            ObtainError::Disabled => SimpleJwtError::Client {
                status: StatusCode::FORBIDDEN,
                detail: e.to_string(),
                code: "disabled",
                fields: FieldErrors::new(),
            },
            ObtainError::Grant(g) => g.into(),
            // 403, not 401: the credentials were right; the app sends the user to enrol.
            ObtainError::MfaEnrolmentRequired { .. } => SimpleJwtError::Client {
                status: StatusCode::FORBIDDEN,
                detail: e.to_string(),
                code: "mfa_enrolment_required",
                fields: FieldErrors::new(),
            },
            // A client that knows nothing of second factors sees a 401 and fails closed.
            ObtainError::MfaRequired(token) => SimpleJwtError::MfaRequired(token),
            ObtainError::Challenge(ChallengeError::Invalid) => {
                SimpleJwtError::token_not_valid("mfa_token is invalid, expired or used")
            }
            ObtainError::Challenge(ChallengeError::Factor(f)) => f.into(),
        }
    }
}

impl From<MfaError> for SimpleJwtError {
    fn from(e: MfaError) -> Self {
        let refused = |detail: &str, code| SimpleJwtError::Client {
            status: StatusCode::UNAUTHORIZED,
            detail: detail.into(),
            code,
            fields: FieldErrors::new(),
        };
        match e {
            // No field error under "code": that key is simplejwt's error code.
            MfaError::Malformed => SimpleJwtError::invalid(
                "code is not six digits or a recovery code",
                FieldErrors::new(),
            ),
            MfaError::WrongCode | MfaError::NotEnrolled => {
                refused("The code is not right", "invalid_code")
            }
            MfaError::Replayed => refused(
                "The code was used already; wait for the next one",
                "invalid_code",
            ),
            MfaError::WrongPassword => refused("The password is not right", "invalid_password"),
            MfaError::AlreadyEnrolled => SimpleJwtError::Client {
                status: StatusCode::CONFLICT,
                detail: e.to_string(),
                code: "already_enrolled",
                fields: FieldErrors::new(),
            },
            MfaError::Throttled(wait) => SimpleJwtError::Throttled(wait),
            MfaError::Internal(i) => i.into(),
        }
    }
}

impl ResponseError for SimpleJwtError {
    fn status_code(&self) -> StatusCode {
        match self {
            SimpleJwtError::Client { status, .. } => *status,
            SimpleJwtError::MfaRequired(_) => StatusCode::UNAUTHORIZED,
            SimpleJwtError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            SimpleJwtError::Internal(i) => internal_status(i),
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
                let body = SimpleJwtErrorBody {
                    detail: detail.clone(),
                    code,
                    fields: fields.clone(),
                };
                let mut resp = json_response(*status, body);
                if *status == StatusCode::UNAUTHORIZED {
                    resp.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        header::HeaderValue::from_static("Bearer realm=\"api\""),
                    );
                }
                resp
            }
            SimpleJwtError::MfaRequired(token) => {
                let body = MfaRequiredBody {
                    detail: "A second factor is required: send a code with this mfa_token to /api/token/mfa/",
                    code: "mfa_required",
                    mfa_token: token.0.as_str(),
                    methods: &["totp", "recovery_code"],
                };
                let mut resp = json_response(StatusCode::UNAUTHORIZED, body);
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"api\""),
                );
                resp
            }
            SimpleJwtError::Throttled(wait) => with_retry_after(
                json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    SimpleJwtErrorBody {
                        detail: THROTTLED.into(),
                        code: "throttled",
                        fields: FieldErrors::new(),
                    },
                ),
                *wait,
            ),
            SimpleJwtError::Internal(i) => {
                let body = SimpleJwtErrorBody {
                    detail: internal_description(i).into(),
                    code: "server_error",
                    fields: FieldErrors::new(),
                };
                answer_internal(i, json_response(internal_status(i), body))
            }
        }
    }
}
