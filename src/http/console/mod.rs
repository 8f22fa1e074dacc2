//! The admin console: server-rendered pages for admin users, signed in through the login page
//! (the SSO session), with the pages' CSRF token and headers. Signing keys (state, age, the
//! next step and when; rotation, emergency rotation and revocation of any key with a reason,
//! each behind a confirmation), users and clients (list a page at a time with a prefix
//! search, add, disable, enable, delete; a new client's secret shown once), and the audit
//! log; every page's header signs out. Each action calls the same use case as the admin API
//! and the CLI.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::PageError;
use super::pages::{self, csrf_token, csrf_valid, Cookies};
use crate::accounts::{AccountError, User};
use crate::paging::ListRequest;
use crate::sso::flow::SessionUser;
use crate::sso::step_up::Assurance;
use crate::state::AppState;

mod audit;
mod clients;
mod email;
mod factors;
mod keys;
mod outbox;
mod sessions;
mod users;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use super::resource;
    use web::{get, post};
    cfg.service(resource("/console", "GET").route(get().to(home)))
        // Before the `{username}/{action}` and `{id}/{action}` routes, which would take them.
        .service(
            resource("/console/users/{username}/sessions", "GET, POST")
                .route(get().to(sessions::sessions_page))
                .route(post().to(sessions::end_sessions)),
        )
        .service(
            resource("/console/clients/{id}/logout", "GET, POST")
                .route(get().to(sessions::logout_endpoints_page))
                .route(post().to(sessions::set_logout_endpoints)),
        )
        .service(resource("/console/keys", "GET").route(get().to(keys::keys_page)))
        .service(
            resource("/console/keys/rotate", "GET, POST")
                .route(get().to(keys::confirm_rotation))
                .route(post().to(keys::rotate)),
        )
        .service(
            resource("/console/keys/{kid}/revoke", "GET, POST")
                .route(get().to(keys::confirm_revocation))
                .route(post().to(keys::revoke)),
        )
        .service(
            resource("/console/users", "GET, POST")
                .route(get().to(users::users_page))
                .route(post().to(users::add_user)),
        )
        // Before the generic actions, which would take it for one of theirs.
        .service(
            resource("/console/users/{name}/reset-link", "POST")
                .route(post().to(users::reset_link)),
        )
        .service(
            resource("/console/users/{name}/email", "GET, POST")
                .route(get().to(email::email_page))
                .route(post().to(email::set_email)),
        )
        .service(
            resource("/console/users/{name}/{action}", "GET, POST")
                .route(get().to(users::confirm_user_action))
                .route(post().to(users::user_action)),
        )
        .service(
            resource("/console/clients", "GET, POST")
                .route(get().to(clients::clients_page))
                .route(post().to(clients::add_client)),
        )
        .service(
            resource("/console/clients/{id}/{action}", "GET, POST")
                .route(get().to(clients::confirm_client_action))
                .route(post().to(clients::client_action)),
        )
        .service(resource("/console/audit", "GET").route(get().to(audit::audit_page)))
        .service(resource("/console/outbox", "GET").route(get().to(outbox::outbox_page)));
}

fn cookies(state: &AppState) -> Cookies {
    Cookies {
        secure: state.settings.issuer.starts_with("https://"),
    }
}

/// The signed-in admin, or the answer for anybody else: the login page (to come back
/// here) without a session, a 403 page for a user who is not an admin.
async fn admin(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Result<User, HttpResponse>, PageError> {
    let cookie = req
        .cookie(cookies(state).session())
        .map(|c| c.value().to_string());
    Ok(match state.sso.admin_of(cookie.as_deref()).await? {
        SessionUser::Admin(user) => {
            crate::audit::set_actor(&user.username);
            Ok(user)
        }
        SessionUser::AdminNeeds(lacking, user) => {
            let here = match req.query_string() {
                "" => req.path().to_string(),
                q => format!("{}?{q}", req.path()),
            };
            Err(match lacking {
                Assurance::StepUp => super::sso::step_up(state, req, &user, here).await?,
                _ => super::sso::to_enrolment(&here),
            })
        }
        SessionUser::NotAdmin => Err(pages::message(
            StatusCode::FORBIDDEN,
            "Admins only",
            "The console is for admin users.",
        )),
        SessionUser::None => {
            let here = match req.query_string() {
                "" => req.path().to_string(),
                q => format!("{}?{q}", req.path()),
            };
            let query = serde_urlencoded::to_string([("return_to", here)]).unwrap_or_default();
            Err(HttpResponse::Found()
                .insert_header((header::LOCATION, format!("/login?{query}")))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
    })
}

/// Renders a console page with the CSRF cookie set when the browser had none.
fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    page: impl FnOnce(&str) -> Result<String, askama::Error>,
) -> HttpResponse {
    let (csrf, set) = csrf_token(req, cookies(state));
    let mut resp = match page(&csrf) {
        Ok(html) => pages::html(status, html),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Please try again",
                "Something went wrong on our side.",
            )
        }
    };
    if let Some(c) = set {
        let _ = resp.add_cookie(&c);
    }
    resp
}

fn check_csrf(
    state: &AppState,
    req: &HttpRequest,
    submitted: Option<&str>,
) -> Result<(), PageError> {
    if csrf_valid(req, cookies(state), submitted) {
        Ok(())
    } else {
        Err(PageError::Client(
            StatusCode::FORBIDDEN,
            "This form has expired. Please reload the page and try again.".into(),
        ))
    }
}

/// A refused change shown on its page: what was wrong, with the status it deserves; a
/// failure that is not the admin's is the error page.
fn refusal(e: AccountError) -> Result<(StatusCode, String), PageError> {
    match e {
        AccountError::Invalid(m) => Ok((StatusCode::BAD_REQUEST, m)),
        AccountError::Exists(m) => Ok((StatusCode::CONFLICT, format!("{m} already exists"))),
        AccountError::NotFound(m) => Ok((StatusCode::NOT_FOUND, format!("{m} not found"))),
        AccountError::LastAdmin | AccountError::Managed(_) => {
            Ok((StatusCode::CONFLICT, e.to_string()))
        }
        AccountError::Db(db) => Err(db.into()),
        AccountError::Hash(h) => Err(PageError::Internal(h.into())),
    }
}

/// Listing fails only when the database does: the error page.
fn failure(e: AccountError) -> PageError {
    match refusal(e) {
        Ok((status, message)) => PageError::Client(status, message),
        Err(page) => page,
    }
}

async fn home() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/keys"))
        .finish()
}

#[derive(Template)]
#[template(path = "console_confirm.html")]
struct ConfirmPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    title: &'a str,
    question: &'a str,
    action: &'a str,
    fields: Vec<(&'a str, &'a str)>,
    confirm: &'a str,
    danger: bool,
    back: &'a str,
}

/// The listing a console page asks for in its query (`?prefix=&after=&limit=`).
fn list_request(req: &HttpRequest) -> Result<ListRequest, PageError> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|_| PageError::bad_request("The list query is malformed."))
}

/// `path?params`: the link to the next page, keeping the page's other parameters.
fn page_link(path: &str, next: Option<String>, mut params: Vec<(&str, String)>) -> Option<String> {
    params.retain(|(_, v)| !v.is_empty());
    params.push(("after", next?));
    Some(format!(
        "{path}?{}",
        serde_urlencoded::to_string(params).unwrap_or_default()
    ))
}

/// The next-page link of a listing asked for with `request`.
fn next_link(path: &str, request: &ListRequest, next: Option<String>) -> Option<String> {
    let mut params = vec![("prefix", request.prefix.clone().unwrap_or_default())];
    if let Some(limit) = request.limit {
        params.push(("limit", limit.to_string()));
    }
    page_link(path, next, params)
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

/// The confirmation before a delete (the only user and client action that cannot be undone).
async fn confirm_delete(
    state: &AppState,
    req: &HttpRequest,
    what: &str,
    name: &str,
    list: &str,
) -> Result<HttpResponse, PageError> {
    let user = match admin(state, req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let question = format!("Delete {what} {name}? This cannot be undone.");
    // Back where it was shown: the list page wrote the name into that path percent-encoded.
    let action = req.path().to_string();
    Ok(render(req, state, StatusCode::OK, |csrf| {
        ConfirmPage {
            admin: &user.username,
            csrf,
            title: "Delete",
            question: &question,
            action: &action,
            fields: vec![],
            confirm: "Delete",
            danger: true,
            back: list,
        }
        .render()
    }))
}
