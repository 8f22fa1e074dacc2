//! `POST /account/sessions/end` (one of the user's other sessions, by sid) and
//! `POST /account/sessions/end-others`: the signed-in user signs their other browsers out;
//! the applications of each ended session are notified (back-channel logout).
//! `POST /account/offline-access/revoke`: the user ends one application's offline access
//! (its refresh family), which no logout ends.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{form_expired, show, signed_in, Outcome};
use crate::http::error::PageError;
use crate::http::pages::read_form;
use crate::sso::sessions::{Ending, SessionError};
use crate::state::AppState;

const SECTION: &str = "sessions";
const OFFLINE: &str = "offline";

/// A failure of the sessions' use cases while showing the page.
pub(super) fn failure(e: SessionError) -> PageError {
    match e {
        SessionError::Db(db) => PageError::from(db),
        other => PageError::bad_request(other.to_string()),
    }
}

#[derive(Deserialize)]
struct RevokeForm {
    csrf: Option<String>,
    id: Option<String>,
}

pub(super) async fn revoke_offline(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let who = match signed_in(&state, &req).await? {
        Ok(who) => who,
        Err(to_login) => return Ok(to_login),
    };
    let form: RevokeForm = read_form(&req, payload, "offline access").await?;
    let outcome = |status, notice, error: Option<&'static str>| {
        let outcome = Outcome {
            notice,
            error: error.map(|m| (OFFLINE, m)),
            recovery_codes: Vec::new(),
        };
        (status, outcome)
    };
    let (status, outcome) = if form_expired(&state, &req, form.csrf.as_deref()) {
        outcome(
            StatusCode::FORBIDDEN,
            None,
            Some("This form has expired. Please try again."),
        )
    } else {
        let id = form.id.unwrap_or_default();
        match state
            .sso
            .revoke_offline_grant(&who.user.username, &id)
            .await
        {
            Ok(()) => outcome(
                StatusCode::OK,
                Some("That application's offline access has ended."),
                None,
            ),
            Err(SessionError::UnknownSession | SessionError::UnknownUser(_)) => outcome(
                StatusCode::BAD_REQUEST,
                None,
                Some("That access is not one of yours, or it has ended."),
            ),
            Err(SessionError::Db(e)) => return Err(e.into()),
        }
    };
    show(&state, &req, &who, status, outcome).await
}

#[derive(Deserialize)]
struct EndForm {
    csrf: Option<String>,
    sid: Option<String>,
}

pub(super) async fn end_one(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    end(state, req, payload, false).await
}

pub(super) async fn end_others(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    end(state, req, payload, true).await
}

async fn end(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    others: bool,
) -> Result<HttpResponse, PageError> {
    let who = match signed_in(&state, &req).await? {
        Ok(who) => who,
        Err(to_login) => return Ok(to_login),
    };
    let form: EndForm = read_form(&req, payload, "sessions").await?;
    let refuse = |status, message: &'static str| {
        let outcome = Outcome {
            notice: None,
            error: Some((SECTION, message)),
            recovery_codes: Vec::new(),
        };
        (status, outcome)
    };
    let (status, outcome) = if form_expired(&state, &req, form.csrf.as_deref()) {
        refuse(
            StatusCode::FORBIDDEN,
            "This form has expired. Please try again.",
        )
    } else {
        let sid = form.sid.unwrap_or_default();
        let which = if others {
            Ending::AllBut(&who.session.sid)
        } else if sid == who.session.sid {
            // This browser signs out with the logout link, not here.
            Ending::One("")
        } else {
            Ending::One(&sid)
        };
        match state.sso.end_user_sessions(&who.user.username, which).await {
            Ok(_) if others => (
                StatusCode::OK,
                Outcome {
                    notice: Some("Every other session is signed out."),
                    error: None,
                    recovery_codes: Vec::new(),
                },
            ),
            Ok(_) => (
                StatusCode::OK,
                Outcome {
                    notice: Some("That session is signed out."),
                    error: None,
                    recovery_codes: Vec::new(),
                },
            ),
            Err(SessionError::UnknownSession | SessionError::UnknownUser(_)) => refuse(
                StatusCode::BAD_REQUEST,
                "That session is not one of yours, or it has ended.",
            ),
            Err(SessionError::Db(e)) => return Err(e.into()),
        }
    };
    show(&state, &req, &who, status, outcome).await
}
