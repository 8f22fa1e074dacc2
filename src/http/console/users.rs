//! The console's users: a page at a time with a prefix search; add, disable, enable, delete
//! (after a confirmation) and a password reset link shown once.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    admin, check_csrf, confirm_delete, failure, list_request, next_link, refusal, render, CsrfForm,
};
use crate::accounts::{LastAdmin, NewUserRequest, User};
use crate::domain::utc_datetime;
use crate::http::error::PageError;
use crate::http::pages::read_form;
use crate::paging::ListRequest;
use crate::passwords::Password;
use crate::state::AppState;

struct UserRow {
    username: String,
    email: String,
    is_admin: bool,
    disabled: bool,
    created: String,
}

#[derive(Template)]
#[template(path = "console_users.html")]
struct UsersPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    notice: Option<String>,
    users: Vec<UserRow>,
    /// The search box's text.
    prefix: &'a str,
    next_page: Option<String>,
}

async fn users_view(
    state: &AppState,
    req: &HttpRequest,
    admin: &User,
    status: StatusCode,
    notice: Option<String>,
    request: ListRequest,
) -> Result<HttpResponse, PageError> {
    let page = state
        .accounts
        .list_users(request.clone())
        .await
        .map_err(failure)?;
    let next_page = next_link("/console/users", &request, page.next);
    let rows = page
        .items
        .into_iter()
        .map(|u| UserRow {
            created: utc_datetime(u.created_at),
            email: u.email.unwrap_or_default(),
            username: u.username,
            is_admin: u.is_admin,
            disabled: u.disabled,
        })
        .collect();
    Ok(render(req, state, status, |csrf| {
        UsersPage {
            admin: &admin.username,
            csrf,
            notice,
            users: rows,
            prefix: request.prefix.as_deref().unwrap_or(""),
            next_page,
        }
        .render()
    }))
}

pub(super) async fn users_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    match admin(&state, &req).await? {
        Ok(user) => {
            let request = list_request(&req)?;
            users_view(&state, &req, &user, StatusCode::OK, None, request).await
        }
        Err(answer) => Ok(answer),
    }
}

#[derive(Deserialize)]
struct NewUserForm {
    csrf: Option<String>,
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    admin: Option<String>,
}

pub(super) async fn add_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: NewUserForm = read_form(&req, payload, "user").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let request = NewUserRequest {
        username: form.username.unwrap_or_default(),
        email: form.email.filter(|e| !e.trim().is_empty()),
        password: Password::new(form.password.unwrap_or_default()),
        is_admin: form.admin.as_deref() == Some("on"),
    };
    let (status, notice) = match state.accounts.create_user(request).await {
        Ok(created) => (StatusCode::OK, format!("Added {}.", created.username)),
        Err(e) => refusal(e)?,
    };
    let first = ListRequest::default();
    users_view(&state, &req, &user, status, Some(notice), first).await
}

pub(super) async fn confirm_user_action(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (name, action) = path.into_inner();
    if action == "factors" {
        return super::factors::factors_page(&state, &req, &name).await;
    }
    if action != "delete" {
        return Err(PageError::Client(
            StatusCode::NOT_FOUND,
            "No such page.".into(),
        ));
    }
    confirm_delete(&state, &req, "user", &name, "/console/users").await
}

pub(super) async fn user_action(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let (name, action) = path.into_inner();
    if super::factors::ACTIONS.contains(&action.as_str()) {
        return super::factors::act(state, req, &name, &action, payload).await;
    }
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: CsrfForm = read_form(&req, payload, "action").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let accounts = &state.accounts;
    let done = match action.as_str() {
        "disable" => accounts
            .set_user_disabled(&name, true, LastAdmin::Keep)
            .await
            .map(|_| "Disabled"),
        "enable" => accounts
            .set_user_disabled(&name, false, LastAdmin::Keep)
            .await
            .map(|_| "Enabled"),
        "delete" => accounts
            .delete_user(&name, LastAdmin::Keep)
            .await
            .map(|()| "Deleted"),
        _ => {
            return Err(PageError::Client(
                StatusCode::NOT_FOUND,
                "No such action.".into(),
            ))
        }
    };
    let (status, notice) = match done {
        Ok(verb) => (StatusCode::OK, format!("{verb} {name}.")),
        Err(e) => refusal(e)?,
    };
    let first = ListRequest::default();
    users_view(&state, &req, &user, status, Some(notice), first).await
}

#[derive(Template)]
#[template(path = "console_reset_link.html")]
struct ResetLinkPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    username: &'a str,
    url: &'a str,
    expires: &'a str,
}

/// A user's password reset link, shown once on a page of its own.
pub(super) async fn reset_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let admin_user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: CsrfForm = read_form(&req, payload, "action").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let link = match state.accounts.issue_reset_link(&path, None).await {
        Ok(link) => link,
        Err(e) => {
            let (status, notice) = refusal(e)?;
            let first = ListRequest::default();
            return users_view(&state, &req, &admin_user, status, Some(notice), first).await;
        }
    };
    Ok(render(&req, &state, StatusCode::OK, |csrf| {
        ResetLinkPage {
            admin: &admin_user.username,
            csrf,
            username: &path,
            url: &link.url(&state.settings.issuer),
            expires: &utc_datetime(link.expires_at),
        }
        .render()
    }))
}
