//! Every conversion from a domain error to an HTTP answer, one file per surface: OAuth JSON
//! (RFC 6749 §5.2), simplejwt's `{detail, code}`, the admin API's JSON, and the HTML pages.
//! A client error says what is wrong; an internal one is logged once here with its cause
//! chain and answered opaquely: 503 (with `Retry-After`) when the database is unavailable,
//! else 500.

mod api;
mod oauth;
mod page;
mod simplejwt;

pub use api::ApiError;
pub use oauth::OAuthError;
pub use page::{PageError, BAD_SIGN_IN};
pub use simplejwt::SimpleJwtError;

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;

use crate::error::Internal;
use crate::keys::lifecycle::PlanError;
use crate::keys::manager::KeyError;

/// One message whether or not the account exists.
const THROTTLED: &str = "too many failed sign-ins; try again later";

/// How long a client should wait before retrying after a 503.
const UNAVAILABLE_RETRY_SECS: i64 = 1;

/// The status and error code of a key change refused for the caller's reason (an unknown
/// kid, a key already revoked, no reason); `None` for a failure that is not the caller's.
pub(crate) fn key_refusal(e: &KeyError) -> Option<(StatusCode, &'static str)> {
    match e {
        KeyError::Refused(PlanError::UnknownKey(_)) => Some((StatusCode::NOT_FOUND, "not_found")),
        KeyError::Refused(PlanError::AlreadyRevoked(_)) => Some((StatusCode::CONFLICT, "conflict")),
        KeyError::BadReason(_) => Some((StatusCode::BAD_REQUEST, "invalid_request")),
        KeyError::AlgNotKept(_) => Some((StatusCode::BAD_REQUEST, "invalid_request")),
        _ => None,
    }
}

/// Adds `Retry-After` (at least 1 s) to a 429 or 503.
pub(crate) fn with_retry_after(mut resp: HttpResponse, seconds: i64) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&seconds.max(1).to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn json_response(status: StatusCode, body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

fn internal_status(i: &Internal) -> StatusCode {
    if i.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

fn internal_description(i: &Internal) -> &'static str {
    if i.is_unavailable() {
        "the service is temporarily unavailable; try again shortly"
    } else {
        "internal server error"
    }
}

/// The one log line of an internal failure (request id and client come from the span),
/// and `Retry-After` on a 503.
fn answer_internal(i: &Internal, resp: HttpResponse) -> HttpResponse {
    tracing::error!(error = %i.chain(), "request failed");
    if i.is_unavailable() {
        with_retry_after(resp, UNAVAILABLE_RETRY_SECS)
    } else {
        resp
    }
}
