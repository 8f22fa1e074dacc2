//! Errors of the browser endpoints: an HTML page, never a redirect (an error that may go to
//! a registered redirect URI is not an error here but a `Rejection`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use super::{answer_internal, internal_status, with_retry_after};
use crate::accounts::login_guard::GuardError;
use crate::db::DbError;
use crate::error::Internal;
use crate::http::body::BodyError;
use crate::http::pages;
use crate::sso::logout::LogoutError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{1}")]
    Client(StatusCode, String),
    /// A refused sign-in: the login page shows its form again with this message.
    #[error("{message}")]
    SignInRefused {
        status: StatusCode,
        message: &'static str,
        retry_after: Option<i64>,
    },
    #[error(transparent)]
    Internal(#[from] Internal),
}

/// One message whether the username, the password or the account's state was wrong.
pub const BAD_SIGN_IN: &str = "The username or password is not right.";

impl PageError {
    pub fn bad_request(m: impl Into<String>) -> Self {
        PageError::Client(StatusCode::BAD_REQUEST, m.into())
    }
}

impl From<pages::FormError> for PageError {
    fn from(e: pages::FormError) -> Self {
        match e {
            pages::FormError::Body(body) => body.into(),
            pages::FormError::Malformed(what) => {
                PageError::bad_request(format!("The {what} form is malformed."))
            }
        }
    }
}

impl From<DbError> for PageError {
    fn from(e: DbError) -> Self {
        PageError::Internal(e.into())
    }
}

impl From<BodyError> for PageError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => PageError::Client(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
            other => PageError::bad_request(other.to_string()),
        }
    }
}

impl From<GuardError> for PageError {
    fn from(e: GuardError) -> Self {
        match e {
            GuardError::BadCredentials => PageError::SignInRefused {
                status: StatusCode::UNAUTHORIZED,
                message: BAD_SIGN_IN,
                retry_after: None,
            },
            GuardError::Throttled(wait) => PageError::SignInRefused {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: "Too many failed attempts. Please wait and try again.",
                retry_after: Some(wait),
            },
            GuardError::Internal(i) => i.into(),
        }
    }
}

impl From<LogoutError> for PageError {
    fn from(e: LogoutError) -> Self {
        match e {
            LogoutError::Internal(i) => i.into(),
            other => PageError::bad_request(other.to_string()),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Client(s, _) => *s,
            PageError::SignInRefused { status, .. } => *status,
            PageError::Internal(i) => internal_status(i),
        }
    }
    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::Client(status, msg) => {
                pages::message(*status, "Something is not right", msg)
            }
            PageError::SignInRefused {
                status,
                message,
                retry_after,
            } => {
                let page = pages::message(*status, "Please try again", message);
                match retry_after {
                    Some(wait) => with_retry_after(page, *wait),
                    None => page,
                }
            }
            PageError::Internal(i) => {
                let text = if i.is_unavailable() {
                    "The sign-in service is temporarily unavailable."
                } else {
                    "Something went wrong on our side."
                };
                let page = pages::message(internal_status(i), "Please try again", text);
                answer_internal(i, page)
            }
        }
    }
}
