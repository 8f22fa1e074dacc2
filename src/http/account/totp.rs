//! The authenticator-app section's forms: start an enrolment (password), confirm it (one
//! code; the recovery codes are shown once in the answer), remove the app (password), and a
//! new set of recovery codes (password). Each answers with the whole page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{form_expired, show, show_then, signed_in, Outcome};
use crate::http::client_addr::client_addr;
use crate::http::error::{with_retry_after, PageError};
use crate::http::pages::read_form;
use crate::mfa::MfaError;
use crate::passwords::Password;
use crate::state::AppState;

const SECTION: &str = "totp";

#[derive(Deserialize)]
struct FactorForm {
    csrf: Option<String>,
    password: Option<String>,
    code: Option<String>,
    return_to: Option<String>,
}

/// What a refused action says in the section, and its status.
fn refusal(e: MfaError) -> Result<(StatusCode, &'static str, Option<i64>), PageError> {
    Ok(match e {
        MfaError::WrongPassword => (StatusCode::UNAUTHORIZED, "The password is not right.", None),
        MfaError::Malformed => (
            StatusCode::BAD_REQUEST,
            "Enter the six digits your app shows.",
            None,
        ),
        MfaError::WrongCode => (
            StatusCode::UNAUTHORIZED,
            "That code is not right. Check the time on your phone and enter the code the app shows now.",
            None,
        ),
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
        MfaError::NotEnrolled => (
            StatusCode::CONFLICT,
            "No authenticator app is being set up. Start again.",
            None,
        ),
        MfaError::AlreadyEnrolled => (
            StatusCode::CONFLICT,
            "An authenticator app is set up already. Remove it first to set up another.",
            None,
        ),
        MfaError::Internal(i) => return Err(i.into()),
    })
}

enum Action {
    Start,
    Confirm,
    Remove,
    RecoveryCodes,
}

/// Runs one action for the signed-in user and shows the page with its outcome.
async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    action: Action,
) -> Result<HttpResponse, PageError> {
    let who = match signed_in(&state, &req).await? {
        Ok(who) => who,
        Err(to_login) => return Ok(to_login),
    };
    let form: FactorForm = read_form(&req, payload, "authenticator").await?;
    if form_expired(&state, &req, form.csrf.as_deref()) {
        let outcome = Outcome {
            error: Some((SECTION, "This form has expired. Please try again.")),
            ..Outcome::default()
        };
        return show(&state, &req, &who, StatusCode::FORBIDDEN, outcome).await;
    }
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let password = || Password::new(form.password.clone().unwrap_or_default());
    let code = form.code.as_deref().unwrap_or_default();
    let mfa = &state.mfa;
    let next = super::next_of(form.return_to.as_deref());
    let confirming = matches!(action, Action::Confirm);
    let done: Result<(&str, Vec<Zeroizing<String>>), MfaError> = match action {
        Action::Start => mfa.start_totp(&who.user, password(), &addr).await.map(|_| {
            (
                "Scan the code with your authenticator app, then enter the code it shows.",
                vec![],
            )
        }),
        Action::Confirm => mfa.confirm_totp(&who.user, code, &addr).await.map(|codes| {
            (
                "Your authenticator app is set up. Keep these recovery codes somewhere safe.",
                codes,
            )
        }),
        Action::Remove => mfa
            .remove_totp(&who.user, password(), &addr)
            .await
            .map(|()| {
                (
                    "Your authenticator app is removed, with its recovery codes.",
                    vec![],
                )
            }),
        Action::RecoveryCodes => mfa
            .regenerate_recovery_codes(&who.user, password(), &addr)
            .await
            .map(|codes| ("New recovery codes: the old ones no longer work.", codes)),
    };
    match done {
        Ok((notice, codes)) => {
            let outcome = Outcome {
                notice: Some(notice),
                recovery_codes: codes,
                ..Outcome::default()
            };
            let mut page = show_then(&state, &req, &who, StatusCode::OK, outcome, next).await?;
            // The password and a code of the new app: this session is now a multi-factor
            // sign-in (raised in place, with a new cookie value).
            if confirming {
                let old = crate::http::sso::session_of(&state, &req);
                let raised = state
                    .sso
                    .second_factor_session(
                        who.user.clone(),
                        old.as_deref(),
                        &crate::http::sso::origin_of(&state, &req),
                    )
                    .await?;
                let _ = page.add_cookie(&crate::http::sso::session_cookie(
                    &state,
                    raised.cookie,
                    state.sso.session_ttl,
                ));
            }
            Ok(page)
        }
        Err(e) => {
            let (status, message, wait) = refusal(e)?;
            let outcome = Outcome {
                error: Some((SECTION, message)),
                ..Outcome::default()
            };
            let page = show_then(&state, &req, &who, status, outcome, next).await?;
            Ok(match wait {
                Some(wait) => with_retry_after(page, wait),
                None => page,
            })
        }
    }
}

pub(super) async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    act(state, req, payload, Action::Start).await
}

pub(super) async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    act(state, req, payload, Action::Confirm).await
}

pub(super) async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    act(state, req, payload, Action::Remove).await
}

pub(super) async fn recovery_codes(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    act(state, req, payload, Action::RecoveryCodes).await
}
