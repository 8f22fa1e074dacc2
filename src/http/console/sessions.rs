//! The console's single-logout pages: a user's live sessions (with the applications of
//! each; end one or all) and a client's logout endpoints (show and register). The same use
//! cases as the admin API and the CLI.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{admin, check_csrf, render};
use crate::domain::utc_datetime;
use crate::http::error::PageError;
use crate::http::pages::read_form;
use crate::sso::backchannel::endpoints::{EndpointError, LogoutEndpoints};
use crate::sso::sessions::{Ending, SessionError};
use crate::state::AppState;

struct Row {
    sid: String,
    started: String,
    last_used: String,
    ends: String,
    address: String,
    browser: String,
    applications: String,
}

#[derive(Template)]
#[template(path = "console_sessions.html")]
struct SessionsPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    username: &'a str,
    notice: Option<&'a str>,
    sessions: Vec<Row>,
}

fn session_failure(e: SessionError) -> PageError {
    match e {
        SessionError::UnknownUser(_) => PageError::Client(StatusCode::NOT_FOUND, e.to_string()),
        SessionError::UnknownSession => PageError::Client(
            StatusCode::NOT_FOUND,
            "No such live session of the user.".into(),
        ),
        SessionError::Db(db) => db.into(),
    }
}

async fn sessions_view(
    state: &AppState,
    req: &HttpRequest,
    admin_name: &str,
    username: &str,
    notice: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let sessions = state
        .sso
        .user_sessions(username)
        .await
        .map_err(session_failure)?
        .into_iter()
        .map(|s| Row {
            started: utc_datetime(s.created_at),
            last_used: utc_datetime(s.last_used_at),
            ends: utc_datetime(s.expires_at),
            address: s.address.unwrap_or_else(|| "-".into()),
            browser: s.browser.unwrap_or_else(|| "-".into()),
            applications: s
                .clients
                .iter()
                .map(|c| c.client_id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            sid: s.sid,
        })
        .collect();
    Ok(render(req, state, StatusCode::OK, |csrf| {
        SessionsPage {
            admin: admin_name,
            csrf,
            username,
            notice,
            sessions,
        }
        .render()
    }))
}

/// `GET /console/users/{name}/sessions`.
pub(super) async fn sessions_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    sessions_view(&state, &req, &user.username, &path, None).await
}

#[derive(Deserialize)]
struct EndForm {
    csrf: Option<String>,
    /// One session; without it, every session of the user.
    sid: Option<String>,
}

/// `POST /console/users/{name}/sessions`: end one session (`sid`) or all.
pub(super) async fn end_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: EndForm = read_form(&req, payload, "sessions").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let which = match form.sid.as_deref().filter(|s| !s.is_empty()) {
        Some(sid) => Ending::One(sid),
        None => Ending::All,
    };
    let ended = state
        .sso
        .end_user_sessions(&path, which)
        .await
        .map_err(session_failure)?;
    let notice = format!("{ended} session(s) ended; their applications are notified.");
    sessions_view(&state, &req, &user.username, &path, Some(&notice)).await
}

#[derive(Template)]
#[template(path = "console_client_logout.html")]
struct LogoutEndpointsPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    client_id: &'a str,
    endpoints: LogoutEndpoints,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

fn endpoint_failure(e: EndpointError) -> PageError {
    match e {
        EndpointError::UnknownClient => {
            PageError::Client(StatusCode::NOT_FOUND, "client not found".into())
        }
        EndpointError::Invalid(m) => PageError::Client(StatusCode::BAD_REQUEST, m),
        EndpointError::Managed(_) => PageError::Client(StatusCode::CONFLICT, e.to_string()),
        EndpointError::Db(db) => db.into(),
    }
}

/// `GET /console/clients/{id}/logout`.
pub(super) async fn logout_endpoints_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let endpoints = state
        .sso
        .logout_endpoints(&path)
        .await
        .map_err(endpoint_failure)?;
    Ok(render(&req, &state, StatusCode::OK, |csrf| {
        LogoutEndpointsPage {
            admin: &user.username,
            csrf,
            client_id: &path,
            endpoints,
            notice: None,
            error: None,
        }
        .render()
    }))
}

#[derive(Deserialize)]
struct EndpointsForm {
    csrf: Option<String>,
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: Option<String>,
    frontchannel_logout_uri: Option<String>,
    frontchannel_logout_session_required: Option<String>,
}

/// `POST /console/clients/{id}/logout`.
pub(super) async fn set_logout_endpoints(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: EndpointsForm = read_form(&req, payload, "logout endpoints").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let wanted = LogoutEndpoints {
        client_id: path.to_string(),
        backchannel_logout_uri: form.backchannel_logout_uri,
        backchannel_logout_session_required: form.backchannel_logout_session_required.is_some(),
        frontchannel_logout_uri: form.frontchannel_logout_uri,
        frontchannel_logout_session_required: form.frontchannel_logout_session_required.is_some(),
    };
    let (status, notice, error, shown) = match state.sso.set_logout_endpoints(wanted.clone()).await
    {
        Ok(()) => (
            StatusCode::OK,
            Some("Saved."),
            None,
            state
                .sso
                .logout_endpoints(&path)
                .await
                .map_err(endpoint_failure)?,
        ),
        Err(EndpointError::Invalid(m)) => (StatusCode::BAD_REQUEST, None, Some(m), wanted),
        Err(e) => return Err(endpoint_failure(e)),
    };
    Ok(render(&req, &state, status, |csrf| {
        LogoutEndpointsPage {
            admin: &user.username,
            csrf,
            client_id: &path,
            endpoints: shown,
            notice,
            error: error.as_deref(),
        }
        .render()
    }))
}
