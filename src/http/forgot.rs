//! "Forgot password?": `GET /forgot` shows the form, `POST /forgot` takes a username or an
//! address and answers one page, whoever it names, after the same work
//! ([`crate::accounts::forgot`]). Without mail configured the page says to ask an admin.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::client_addr::client_addr;
use super::error::PageError;
use super::pages::{self, csrf_valid, read_form};
use super::sso::{cookies, page_with_csrf};
use crate::accounts::forgot::parse_identifier;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
}

fn form(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    page_with_csrf(req, state, |csrf| {
        pages::render(status, &ForgotPage { csrf, error })
    })
}

/// No mail: an admin hands out reset links.
fn without_mail() -> HttpResponse {
    pages::message(
        StatusCode::OK,
        "Ask your administrator",
        "Password reset by email is not available here. Your administrator can give you a link to set a new password.",
    )
}

/// The one answer to every well-formed request.
fn sent() -> HttpResponse {
    pages::message(
        StatusCode::OK,
        "Check your email",
        "If the account has a confirmed email address, a link to choose a new password is on its way there. It works once, for 30 minutes. Nothing arrived within a few minutes? Check your spam folder, then ask your administrator.",
    )
}

/// `GET /forgot`
pub async fn forgot_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if state.settings.smtp.is_none() {
        return without_mail();
    }
    form(&state, &req, StatusCode::OK, None)
}

#[derive(Deserialize)]
struct ForgotForm {
    csrf: Option<String>,
    identifier: Option<String>,
}

/// `POST /forgot`: the same page, after the same work, for every well-formed request.
pub async fn forgot(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    if state.settings.smtp.is_none() {
        return Ok(without_mail());
    }
    let f: ForgotForm = read_form(&req, payload, "forgot-password").await?;
    if !csrf_valid(&req, cookies(&state), f.csrf.as_deref()) {
        let expired = Some("This form has expired. Please enter your username or email again.");
        return Ok(form(&state, &req, StatusCode::FORBIDDEN, expired));
    }
    let identifier = match parse_identifier(f.identifier.as_deref().unwrap_or_default()) {
        Ok(identifier) => identifier,
        Err(why) => return Ok(form(&state, &req, StatusCode::BAD_REQUEST, Some(why))),
    };
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    state
        .accounts
        .request_password_reset(identifier, &addr, state.settings.reset_throttle)
        .await?;
    Ok(sent())
}
