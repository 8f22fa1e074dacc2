//! The login page's second step (`POST /login/mfa`): after the right password, a user with a
//! second factor enters a code of their app or a recovery code. The form carries the
//! challenge of [`crate::mfa::challenge`] (single-use, minutes, bound to the user and to the
//! login page) beside the CSRF token; only a completed challenge starts a session.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{cookies, page_with_csrf, session_of, signed_in_answer, LoginForm};
use crate::accounts::login_guard::PasswordSurface;
use crate::http::client_addr::client_addr;
use crate::http::error::{with_retry_after, PageError};
use crate::http::pages::{self, csrf_valid, read_form};
use crate::mfa::challenge::{ChallengeError, Completed};
use crate::mfa::MfaError;
use crate::sso::authorize;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login_mfa.html")]
struct SecondStepPage<'a> {
    csrf: &'a str,
    return_to: &'a str,
    client_id: Option<&'a str>,
    mfa_token: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "signed_in_note.html")]
struct SignedInNote<'a> {
    done: &'a str,
    note: &'a str,
    back: &'a str,
}

/// The second step's form for a challenge.
pub(super) fn second_step(
    state: &AppState,
    req: &HttpRequest,
    page: &LoginForm,
    token: &str,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    page_with_csrf(req, state, |csrf| {
        let form = SecondStepPage {
            csrf,
            return_to: &page.back,
            client_id: page.client.as_ref().map(|c| c.client_id.as_str()),
            mfa_token: token,
            error,
        };
        let targets = page
            .client
            .as_ref()
            .map_or(&[][..], |c| &c.redirect_origins[..]);
        pages::render_form(status, &form, targets)
    })
}

/// Signed in, with something the user must read before going on.
pub(super) fn signed_in_with_note(done: &str, note: &str, back: &str) -> HttpResponse {
    pages::render(StatusCode::OK, &SignedInNote { done, note, back })
}

#[derive(Deserialize)]
struct SecondStepForm {
    csrf: Option<String>,
    return_to: Option<String>,
    mfa_token: Option<String>,
    code: Option<String>,
}

/// What a refused code says, its status and the seconds to wait.
fn refusal(e: MfaError) -> Result<(StatusCode, &'static str, Option<i64>), PageError> {
    Ok(match e {
        MfaError::Malformed => (
            StatusCode::BAD_REQUEST,
            "Enter the six digits your app shows, or a recovery code.",
            None,
        ),
        MfaError::WrongCode | MfaError::NotEnrolled => {
            (StatusCode::UNAUTHORIZED, "That code is not right.", None)
        }
        MfaError::Replayed => (
            StatusCode::UNAUTHORIZED,
            "That code was used already. Wait for the next one.",
            None,
        ),
        MfaError::Throttled(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts. Please wait and try again.",
            Some(wait),
        ),
        MfaError::Internal(i) => return Err(i.into()),
        other => {
            return Err(PageError::Internal(crate::error::Internal::Broken(
                Box::new(other),
            )))
        }
    })
}

/// `POST /login/mfa`.
pub async fn complete(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form: SecondStepForm = read_form(&req, payload, "sign-in").await?;
    let back = authorize::safe_return_to(form.return_to.as_deref()).to_string();
    let page = LoginForm::for_return_to(&state, back).await?;
    let token = form.mfa_token.unwrap_or_default();
    // An unknown, expired, used or altered challenge: the sign-in starts over.
    let again = || {
        let restart = Some("This sign-in has expired. Please sign in again.");
        page.render(&state, &req, StatusCode::UNAUTHORIZED, restart, "")
    };
    // The challenge first: without a live one there is no second step to show again.
    if state
        .mfa
        .challenge_user(&token, PasswordSurface::LoginPage)
        .await
        .is_err()
    {
        return Ok(again());
    }
    if !csrf_valid(&req, cookies(&state), form.csrf.as_deref()) {
        let expired = Some("This form has expired. Please enter the code again.");
        return Ok(second_step(
            &state,
            &req,
            &page,
            &token,
            StatusCode::FORBIDDEN,
            expired,
        ));
    }
    let code = form.code.unwrap_or_default();
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let completed = state
        .mfa
        .complete_challenge(&token, PasswordSurface::LoginPage, &code, &addr)
        .await;
    let (user, how) = match completed {
        Ok(done) => done,
        Err(ChallengeError::Invalid) => return Ok(again()),
        Err(ChallengeError::Factor(e)) => {
            let (status, message, wait) = refusal(e)?;
            let step = second_step(&state, &req, &page, &token, status, Some(message));
            return Ok(match wait {
                Some(wait) => with_retry_after(step, wait),
                None => step,
            });
        }
    };
    let old = session_of(&state, &req);
    let signed_in = state
        .sso
        .second_factor_session(user, old.as_deref(), &super::origin_of(&state, &req))
        .await?;
    let note = match how {
        Completed::Totp => None,
        Completed::RecoveryCode { left } => Some(format!(
            "You used a recovery code: {left} of 10 left. Each works once; make new ones on your account page."
        )),
    };
    Ok(signed_in_answer(&state, &page, signed_in, note.as_deref()))
}
