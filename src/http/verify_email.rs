//! The page an email verification link opens: `GET /verify-email?token=…` shows the address
//! and a button (a mail scanner that fetches the link confirms nothing), `POST` confirms it
//! through [`crate::accounts::email`]. The pages' headers (`Referrer-Policy: no-referrer`
//! among them) keep the token out of any `Referer`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::PageError;
use super::pages::{self, csrf_valid, read_form};
use super::sso::{cookies, page_with_csrf};
use crate::accounts::email::VerifyError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyPage<'a> {
    csrf: &'a str,
    token: &'a str,
    username: &'a str,
    email: &'a str,
}

/// A link that cannot be used: what happened and what to do; nothing changed.
fn refused(e: VerifyError) -> Result<HttpResponse, PageError> {
    let again = "Sign in and ask for a new link, or ask your administrator.";
    let (status, title, message) = match e {
        VerifyError::Unknown => (
            StatusCode::BAD_REQUEST,
            "This link is not valid",
            format!("The link is incomplete or was altered: copy the whole link again. {again}"),
        ),
        VerifyError::Expired => (
            StatusCode::GONE,
            "This link has expired",
            format!("Confirmation links are valid for 24 hours. {again}"),
        ),
        VerifyError::Used => (
            StatusCode::GONE,
            "This link has been used",
            "The address was confirmed with it already.".to_string(),
        ),
        VerifyError::Voided => (
            StatusCode::GONE,
            "This link is no longer valid",
            format!("A newer link was sent, or the account's address changed since. {again}"),
        ),
        VerifyError::Db(db) => return Err(db.into()),
    };
    Ok(pages::message(status, title, &message))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// `GET /verify-email?token=…`
pub async fn verify_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let token = serde_urlencoded::from_str::<TokenQuery>(req.query_string())
        .ok()
        .and_then(|q| q.token)
        .unwrap_or_default();
    match state.accounts.verification_link_target(&token).await {
        Ok((username, email)) => Ok(page_with_csrf(&req, &state, |csrf| {
            let page = VerifyPage {
                csrf,
                token: &token,
                username: &username,
                email: &email,
            };
            pages::render(StatusCode::OK, &page)
        })),
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
struct VerifyForm {
    csrf: Option<String>,
    token: Option<String>,
}

/// `POST /verify-email`
pub async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let f: VerifyForm = read_form(&req, payload, "confirmation").await?;
    if !csrf_valid(&req, cookies(&state), f.csrf.as_deref()) {
        return Ok(pages::message(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Open the link from the mail again and confirm.",
        ));
    }
    match state.accounts.verify_email(&f.token.unwrap_or_default()).await {
        Ok(username) => Ok(pages::message(
            StatusCode::OK,
            "Your address is confirmed",
            &format!("The email address of {username} is confirmed. It can now receive password reset links."),
        )),
        Err(e) => refused(e),
    }
}
