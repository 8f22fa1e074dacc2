//! The account page (`/account`): the signed-in user's own settings, server-rendered with the
//! login page's session, CSRF token and headers. Without a live session the browser goes to
//! the login page and comes back here.
//!
//! The page is made of sections, one template each under `templates/account/`, included by
//! `templates/account.html`; each section's form posts to a route of its own under
//! `/account/…`, handled in a module of its own here, which answers with the whole page
//! again ([`show`]) carrying its notice or its error.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::error::PageError;
use super::pages::{self, csrf_token, csrf_valid};
use super::sso::cookies;
use crate::accounts::User;
use crate::sso::authorize::ACCOUNT_PAGE;
use crate::sso::session::Session;
use crate::state::AppState;

mod email;
mod password;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use super::resource;
    use web::{get, post};
    cfg.service(resource(ACCOUNT_PAGE, "GET").route(get().to(account_page)))
        .service(resource("/account/password", "POST").route(post().to(password::change)))
        .service(resource("/account/email/verification", "POST").route(post().to(email::resend)));
}

/// The page. Each section reads what it needs from here: add a field for a section's data
/// (filled in [`show`]) and include the section's template in `account.html`.
#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    csrf: &'a str,
    user: &'a User,
    /// What the last action did, shown at the top.
    notice: Option<&'a str>,
    /// A refusal, shown in the section (by name) whose form was refused.
    error: Option<(&'a str, &'a str)>,
    /// The password section: the policy's minimum length.
    min_length: usize,
    /// The email section: mail is configured (a link can be sent again).
    mail: bool,
}

impl AccountPage<'_> {
    /// The refusal to show in `section`, if it is that section's.
    fn error_in(&self, section: &str) -> Option<&str> {
        self.error.filter(|(s, _)| *s == section).map(|(_, m)| m)
    }
}

/// The signed-in user and their session, as the account's handlers see them.
pub(super) struct SignedIn {
    pub session: Session,
    pub user: User,
}

/// The live session's user, or the answer for a browser without one: the login page, to
/// come back here.
async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Result<SignedIn, HttpResponse>, PageError> {
    let cookie = req
        .cookie(cookies(state).session())
        .map(|c| c.value().to_string());
    Ok(match state.sso.session_user(cookie.as_deref()).await? {
        Some((session, user)) => {
            crate::audit::set_actor(&user.username);
            Ok(SignedIn { session, user })
        }
        None => {
            let query =
                serde_urlencoded::to_string([("return_to", ACCOUNT_PAGE)]).unwrap_or_default();
            Err(HttpResponse::Found()
                .insert_header((header::LOCATION, format!("/login?{query}")))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
    })
}

/// The outcome of a section's form, to show on the page.
#[derive(Default)]
pub(super) struct Outcome<'a> {
    pub notice: Option<&'a str>,
    pub error: Option<(&'a str, &'a str)>,
}

/// The whole page for `who`, with the CSRF cookie set when the browser had none.
pub(super) async fn show(
    state: &AppState,
    req: &HttpRequest,
    who: &SignedIn,
    status: StatusCode,
    outcome: Outcome<'_>,
) -> Result<HttpResponse, PageError> {
    let (csrf, set) = csrf_token(req, cookies(state));
    let page = AccountPage {
        csrf: &csrf,
        user: &who.user,
        notice: outcome.notice,
        error: outcome.error,
        min_length: state.accounts.policy.min_length,
        mail: state.settings.smtp.is_some(),
    };
    let mut resp = pages::render(status, &page);
    if let Some(c) = set {
        let _ = resp.add_cookie(&c);
    }
    Ok(resp)
}

/// A section's posted CSRF token, checked against the browser's cookie: a stale form is
/// refused in its section, nothing done.
pub(super) fn form_expired(state: &AppState, req: &HttpRequest, submitted: Option<&str>) -> bool {
    !csrf_valid(req, cookies(state), submitted)
}

/// `GET /account`.
async fn account_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let who = match signed_in(&state, &req).await? {
        Ok(who) => who,
        Err(to_login) => return Ok(to_login),
    };
    show(&state, &req, &who, StatusCode::OK, Outcome::default()).await
}
