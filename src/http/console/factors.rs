//! The console's page of a user's second factors: what is set up (never a secret), removal
//! (a lost phone and lost recovery codes), and the policy that requires one of the user.
//! The same use cases as the admin API and the CLI, audited with the admin as actor.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{admin, check_csrf, failure, render, CsrfForm};
use crate::domain::utc_datetime;
use crate::http::error::PageError;
use crate::http::pages::read_form;
use crate::state::AppState;

/// The actions of the page (`POST /console/users/{name}/{action}`).
pub(super) const ACTIONS: [&str; 3] = ["remove-factors", "require-mfa", "no-require-mfa"];

#[derive(Template)]
#[template(path = "console_factors.html")]
struct FactorsPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    username: &'a str,
    notice: Option<&'a str>,
    totp_since: Option<String>,
    totp_pending: bool,
    recovery_codes_left: i64,
    /// The user's own flag (`user require-mfa`).
    require_mfa: bool,
    /// Whether any policy requires one (the flag, or `MFA_FOR_ADMINS` for an admin).
    mfa_required: bool,
}

async fn factors_view(
    state: &AppState,
    req: &HttpRequest,
    admin_name: &str,
    username: &str,
    notice: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let user = state.accounts.find_user(username).await.map_err(failure)?;
    let f = state
        .accounts
        .user_factors(username)
        .await
        .map_err(failure)?;
    let mfa_required = state.sso.policy_requires_mfa(&user, false);
    Ok(render(req, state, StatusCode::OK, |csrf| {
        FactorsPage {
            admin: admin_name,
            csrf,
            username: &user.username,
            notice,
            totp_since: f.totp_since.map(utc_datetime),
            totp_pending: f.totp_pending,
            recovery_codes_left: f.recovery_codes_left,
            require_mfa: user.require_mfa,
            mfa_required,
        }
        .render()
    }))
}

/// `GET /console/users/{name}/factors`.
pub(super) async fn factors_page(
    state: &AppState,
    req: &HttpRequest,
    name: &str,
) -> Result<HttpResponse, PageError> {
    let admin_user = match admin(state, req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    factors_view(state, req, &admin_user.username, name, None).await
}

/// `POST /console/users/{name}/{action}` for one of [`ACTIONS`].
pub(super) async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: &str,
    action: &str,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let admin_user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: CsrfForm = read_form(&req, payload, "action").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let notice = match action {
        "remove-factors" => {
            let user = state.accounts.find_user(name).await.map_err(failure)?;
            if state.mfa.remove_by_admin(&user).await? {
                format!("Removed the authenticator app and recovery codes of {name}.")
            } else {
                format!("{name} has no second factor.")
            }
        }
        _ => {
            let required = action == "require-mfa";
            state
                .accounts
                .set_user_require_mfa(name, required)
                .await
                .map_err(failure)?;
            match required {
                true => format!("{name} must sign in with a second factor."),
                false => format!("{name} is no longer required to have a second factor."),
            }
        }
    };
    factors_view(&state, &req, &admin_user.username, name, Some(&notice)).await
}
