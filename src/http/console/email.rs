//! The console's page of a user's email address: shows it and whether it is confirmed, and
//! sets, changes or removes it with the admin API's use case and rules (a new address is
//! unverified and sent its verification link, unless the admin vouches for it; the user's
//! reset and verification links are voided; audited).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{admin, check_csrf, refusal, render};
use crate::accounts::email::Verified;
use crate::accounts::User;
use crate::http::error::PageError;
use crate::http::pages::read_form;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console_user_email.html")]
struct EmailPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    user: &'a User,
    /// Mail is configured: a new address is sent its link.
    mail: bool,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
struct EmailForm {
    csrf: Option<String>,
    email: Option<String>,
    /// `on`: the admin vouches for the address (stored verified, no mail).
    verified: Option<String>,
    /// `on`: the address is removed (the email field is ignored).
    remove: Option<String>,
}

async fn email_view(
    state: &AppState,
    req: &HttpRequest,
    admin_name: &str,
    username: &str,
    status: StatusCode,
    outcome: (Option<&str>, Option<&str>),
) -> Result<HttpResponse, PageError> {
    let user = state
        .accounts
        .find_user(username)
        .await
        .map_err(|e| refusal(e).map_or_else(|page| page, |(s, m)| PageError::Client(s, m)))?;
    Ok(render(req, state, status, |csrf| {
        EmailPage {
            admin: admin_name,
            csrf,
            user: &user,
            mail: state.settings.smtp.is_some(),
            notice: outcome.0,
            error: outcome.1,
        }
        .render()
    }))
}

/// `GET /console/users/{name}/email`.
pub(super) async fn email_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    match admin(&state, &req).await? {
        Ok(admin_user) => {
            let (admin_name, status) = (&admin_user.username, StatusCode::OK);
            email_view(&state, &req, admin_name, &path, status, (None, None)).await
        }
        Err(answer) => Ok(answer),
    }
}

/// `POST /console/users/{name}/email`.
pub(super) async fn set_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let admin_user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: EmailForm = read_form(&req, payload, "email").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let email = match form.remove.as_deref() {
        Some("on") => None,
        _ => Some(form.email.unwrap_or_default()),
    };
    let verified = match form.verified.as_deref() {
        Some("on") => Verified::Vouched,
        _ => Verified::ByMail,
    };
    let done = match (&email, verified) {
        (None, _) => "The address is removed.",
        (Some(_), Verified::Vouched) => "The address is set, confirmed by you.",
        (Some(_), Verified::ByMail) if state.settings.smtp.is_some() => {
            "The address is set; a confirmation link is on its way to it."
        }
        (Some(_), Verified::ByMail) => "The address is set, not confirmed (no mail is configured).",
    };
    let admin_name = &admin_user.username;
    match state.accounts.set_email(&path, email, verified).await {
        Ok(_) => {
            let outcome = (Some(done), None);
            email_view(&state, &req, admin_name, &path, StatusCode::OK, outcome).await
        }
        Err(e) => {
            let (status, message) = refusal(e)?;
            if status == StatusCode::NOT_FOUND {
                return Err(PageError::Client(status, message));
            }
            let outcome = (None, Some(message.as_str()));
            email_view(&state, &req, admin_name, &path, status, outcome).await
        }
    }
}
