//! `POST /account/sessions/end` (one of the user's other sessions, by sid) and
//! `POST /account/sessions/end-others`: the signed-in user signs their other browsers out;
//! the applications of each ended session are notified (back-channel logout).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{form_expired, show, signed_in, Outcome};
use crate::http::error::PageError;
use crate::http::pages::read_form;
use crate::sso::sessions::{Ending, SessionError};
use crate::state::AppState;

const SECTION: &str = "sessions";

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
