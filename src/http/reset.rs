//! The page a password reset link opens: `GET /reset?token=…` shows the form while the link
//! can be used, `POST /reset` sets the password through [`crate::accounts::reset`]. Its
//! answers carry the pages' headers, `Referrer-Policy: no-referrer` among them, so the token
//! in the address never leaves in a `Referer`; the request log line has the path only.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::PageError;
use super::pages::{self, csrf_valid, read_form};
use super::sso::{cookies, page_with_csrf};
use crate::accounts::reset::ResetError;
use crate::passwords::Password;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage<'a> {
    csrf: &'a str,
    token: &'a str,
    username: &'a str,
    min_length: usize,
    error: Option<&'a str>,
}

fn form(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    token: &str,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    page_with_csrf(req, state, |csrf| {
        let page = ResetPage {
            csrf,
            token,
            username,
            min_length: state.accounts.policy.min_length,
            error,
        };
        pages::render(status, &page)
    })
}

/// A link that cannot be used: what happened and what to do, nothing changed.
fn refused(e: ResetError) -> Result<HttpResponse, PageError> {
    let ask = "Ask your administrator for a new link.";
    let (status, title, message) = match e {
        ResetError::Unknown => (
            StatusCode::BAD_REQUEST,
            "This link is not valid",
            format!("The link is incomplete or was altered: copy the whole link again. {ask}"),
        ),
        ResetError::Expired => (
            StatusCode::GONE,
            "This link has expired",
            format!("Reset links are valid for a short time only. {ask}"),
        ),
        ResetError::Used => (
            StatusCode::GONE,
            "This link has been used",
            format!("Each link sets a password once. If that was not you, tell your administrator at once. {ask}"),
        ),
        ResetError::Voided => (
            StatusCode::GONE,
            "This link is no longer valid",
            "A newer link was issued or the password was changed since: use the newest link, or ask your administrator for one.".into(),
        ),
        ResetError::Disabled => (
            StatusCode::FORBIDDEN,
            "This account is disabled",
            "A disabled account's password cannot be reset. Ask your administrator.".into(),
        ),
        ResetError::Password(reason) => (StatusCode::BAD_REQUEST, "Choose another password", reason),
        ResetError::Db(db) => return Err(db.into()),
        ResetError::Hash(h) => return Err(PageError::Internal(h.into())),
    };
    Ok(pages::message(status, title, &message))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// `GET /reset?token=…`: the form, while the link can be used.
pub async fn reset_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let token = serde_urlencoded::from_str::<TokenQuery>(req.query_string())
        .ok()
        .and_then(|q| q.token)
        .unwrap_or_default();
    match state.accounts.reset_link_user(&token).await {
        Ok(user) => Ok(form(
            &state,
            &req,
            StatusCode::OK,
            &token,
            &user.username,
            None,
        )),
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
struct ResetForm {
    csrf: Option<String>,
    token: Option<String>,
    password: Option<String>,
    confirm: Option<String>,
}

/// `POST /reset`: sets the password and spends the link; a refused password shows the form
/// again with the reason, the link still usable.
pub async fn reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let f: ResetForm = read_form(&req, payload, "password").await?;
    let token = f.token.unwrap_or_default();
    let user = match state.accounts.reset_link_user(&token).await {
        Ok(user) => user,
        Err(e) => return refused(e),
    };
    let again = |status, error| {
        Ok(form(
            &state,
            &req,
            status,
            &token,
            &user.username,
            Some(error),
        ))
    };
    if !csrf_valid(&req, cookies(&state), f.csrf.as_deref()) {
        return again(
            StatusCode::FORBIDDEN,
            "This form has expired. Please enter the new password again.",
        );
    }
    let password = f.password.unwrap_or_default();
    if f.confirm.as_deref() != Some(password.as_str()) {
        return again(StatusCode::BAD_REQUEST, "The two passwords differ.");
    }
    match state
        .accounts
        .redeem_reset_link(&token, Password::new(password))
        .await
    {
        Ok(username) => Ok(pages::message(
            StatusCode::OK,
            "Your password is set",
            &format!("The password of {username} is changed and every session of the account is signed out. Sign in again with the new password."),
        )),
        Err(ResetError::Password(reason)) => again(StatusCode::BAD_REQUEST, &reason),
        Err(e) => refused(e),
    }
}
