//! The account page's email section: `POST /account/email` changes the signed-in user's
//! address (current password, new address; [`crate::accounts::own_email`]) and
//! `POST /account/email/verification` asks for the address's verification link again
//! ([`crate::accounts::email`]), at most `RESET_THROTTLE`'s per-account number an hour.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{form_expired, show, signed_in, Outcome, SignedIn};
use crate::accounts::own_email::ChangeEmailError;
use crate::accounts::{AccountError, MAX_PASSWORD_BYTES};
use crate::http::client_addr::client_addr;
use crate::http::error::{with_retry_after, PageError};
use crate::http::pages::read_form;
use crate::passwords::Password;
use crate::state::AppState;

const SECTION: &str = "email";
const WRONG: &str = "The current password is not right.";

#[derive(Deserialize)]
struct ChangeForm {
    csrf: Option<String>,
    current: Option<String>,
    email: Option<String>,
}

/// `POST /account/email`.
pub(super) async fn change(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let who = match signed_in(&state, &req).await? {
        Ok(who) => who,
        Err(to_login) => return Ok(to_login),
    };
    let form: ChangeForm = read_form(&req, payload, "email").await?;
    let (status, message, retry_after) = match change_refusal(&state, &req, &who, form).await? {
        None => {
            // The page shows the new address, unconfirmed, read again below.
            let who = match signed_in(&state, &req).await? {
                Ok(who) => who,
                Err(to_login) => return Ok(to_login),
            };
            let done = if state.settings.smtp.is_some() {
                "Your address is changed. Follow the link in the message sent to it to confirm it."
            } else {
                "Your address is changed. Ask your administrator to confirm it."
            };
            let outcome = Outcome {
                notice: Some(done),
                ..Outcome::default()
            };
            return show(&state, &req, &who, StatusCode::OK, outcome).await;
        }
        Some(refused) => refused,
    };
    let outcome = Outcome {
        error: Some((SECTION, &message)),
        ..Outcome::default()
    };
    let page = show(&state, &req, &who, status, outcome).await?;
    Ok(match retry_after {
        Some(wait) => with_retry_after(page, wait),
        None => page,
    })
}

/// Changes the address, or says why not: the status, the message for the section, and the
/// seconds to wait when throttled.
async fn change_refusal(
    state: &AppState,
    req: &HttpRequest,
    who: &SignedIn,
    form: ChangeForm,
) -> Result<Option<(StatusCode, String, Option<i64>)>, PageError> {
    let refused = |status, message: &str| Ok(Some((status, message.to_string(), None)));
    if form_expired(state, req, form.csrf.as_deref()) {
        let expired = "This form has expired. Please enter the address again.";
        return refused(StatusCode::FORBIDDEN, expired);
    }
    let current = form.current.unwrap_or_default();
    if current.is_empty() || current.len() > MAX_PASSWORD_BYTES {
        return refused(StatusCode::BAD_REQUEST, WRONG);
    }
    let addr = client_addr(req, &state.settings.trusted_proxies);
    let changed = state
        .accounts
        .change_own_email(
            &state.guard,
            &who.user,
            Password::new(current),
            form.email.unwrap_or_default(),
            &addr,
            state.settings.reset_throttle.per_username,
        )
        .await;
    match changed {
        Ok(()) => Ok(None),
        Err(ChangeEmailError::WrongPassword) => refused(StatusCode::UNAUTHORIZED, WRONG),
        Err(ChangeEmailError::Invalid(reason)) => refused(StatusCode::BAD_REQUEST, &reason),
        Err(ChangeEmailError::TooMany(wait)) => Ok(Some((
            StatusCode::TOO_MANY_REQUESTS,
            "Your address was changed, or its link sent, several times already: please try again later.".into(),
            Some(wait),
        ))),
        Err(ChangeEmailError::Throttled(wait)) => Ok(Some((
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts. Please wait and try again.".into(),
            Some(wait),
        ))),
        Err(ChangeEmailError::Internal(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ResendForm {
    csrf: Option<String>,
}

/// `POST /account/email/verification`.
pub(super) async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let who = match signed_in(&state, &req).await? {
        Ok(who) => who,
        Err(to_login) => return Ok(to_login),
    };
    let form: ResendForm = read_form(&req, payload, "email").await?;
    if form_expired(&state, &req, form.csrf.as_deref()) {
        let expired = "This form has expired. Please try again.";
        let outcome = Outcome {
            notice: None,
            error: Some((SECTION, expired)),
            recovery_codes: Vec::new(),
        };
        return show(&state, &req, &who, StatusCode::FORBIDDEN, outcome).await;
    }
    let limit = Some(state.settings.reset_throttle.per_username);
    match state
        .accounts
        .resend_verification(&who.user.username, limit)
        .await
    {
        Ok(()) => {
            let outcome = Outcome {
                notice: Some("A new confirmation link is on its way to your address."),
                error: None,
                recovery_codes: Vec::new(),
            };
            show(&state, &req, &who, StatusCode::OK, outcome).await
        }
        Err(AccountError::Db(db)) => Err(db.into()),
        Err(refused) => {
            let why = refused.to_string();
            let outcome = Outcome {
                notice: None,
                error: Some((SECTION, &why)),
                recovery_codes: Vec::new(),
            };
            show(&state, &req, &who, StatusCode::BAD_REQUEST, outcome).await
        }
    }
}
