//! `POST /account/password`: the signed-in user changes their password (current password,
//! new password twice) through [`crate::accounts::own_password`].

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{form_expired, show, signed_in, Outcome, SignedIn};
use crate::accounts::own_password::ChangePasswordError;
use crate::accounts::MAX_PASSWORD_BYTES;
use crate::http::client_addr::client_addr;
use crate::http::error::{with_retry_after, PageError};
use crate::http::pages::read_form;
use crate::passwords::Password;
use crate::state::AppState;

const SECTION: &str = "password";
const WRONG: &str = "The current password is not right.";

#[derive(Deserialize)]
struct PasswordForm {
    csrf: Option<String>,
    current: Option<String>,
    password: Option<String>,
    confirm: Option<String>,
}

pub(super) async fn change(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let who = match signed_in(&state, &req).await? {
        Ok(who) => who,
        Err(to_login) => return Ok(to_login),
    };
    let form: PasswordForm = read_form(&req, payload, "password").await?;
    let (status, message, retry_after) = match refusal(&state, &req, &who, form).await? {
        None => {
            let done =
                "Your password is changed. Every other session of your account is signed out.";
            let outcome = Outcome {
                notice: Some(done),
                error: None,
            };
            return show(&state, &req, &who, StatusCode::OK, outcome).await;
        }
        Some(refused) => refused,
    };
    let outcome = Outcome {
        notice: None,
        error: Some((SECTION, &message)),
    };
    let page = show(&state, &req, &who, status, outcome).await?;
    Ok(match retry_after {
        Some(wait) => with_retry_after(page, wait),
        None => page,
    })
}

/// Changes the password, or says why not: the status, the message for the section, and the
/// seconds to wait when throttled.
async fn refusal(
    state: &AppState,
    req: &HttpRequest,
    who: &SignedIn,
    form: PasswordForm,
) -> Result<Option<(StatusCode, String, Option<i64>)>, PageError> {
    let refused = |status, message: &str| Ok(Some((status, message.to_string(), None)));
    if form_expired(state, req, form.csrf.as_deref()) {
        let expired = "This form has expired. Please enter the passwords again.";
        return refused(StatusCode::FORBIDDEN, expired);
    }
    let current = form.current.unwrap_or_default();
    let new = form.password.unwrap_or_default();
    if current.is_empty() || current.len() > MAX_PASSWORD_BYTES {
        return refused(StatusCode::BAD_REQUEST, WRONG);
    }
    if form.confirm.as_deref() != Some(new.as_str()) {
        return refused(StatusCode::BAD_REQUEST, "The two new passwords differ.");
    }
    let addr = client_addr(req, &state.settings.trusted_proxies);
    let changed = state
        .accounts
        .change_own_password(
            &state.guard,
            &who.user,
            &who.session.id_hash,
            Password::new(current),
            Password::new(new),
            &addr,
        )
        .await;
    match changed {
        Ok(()) => Ok(None),
        Err(ChangePasswordError::WrongPassword) => refused(StatusCode::UNAUTHORIZED, WRONG),
        Err(ChangePasswordError::Policy(reason)) => refused(StatusCode::BAD_REQUEST, &reason),
        Err(ChangePasswordError::Throttled(wait)) => Ok(Some((
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts. Please wait and try again.".into(),
            Some(wait),
        ))),
        Err(ChangePasswordError::Internal(e)) => Err(e.into()),
    }
}
