//! `POST /account/email/verification`: the signed-in user asks for their address's
//! verification link again ([`crate::accounts::email`]), at most `RESET_THROTTLE`'s
//! per-account number an hour.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{form_expired, show, signed_in, Outcome};
use crate::accounts::AccountError;
use crate::http::error::PageError;
use crate::http::pages::read_form;
use crate::state::AppState;

const SECTION: &str = "email";

#[derive(Deserialize)]
struct ResendForm {
    csrf: Option<String>,
}

pub(super) async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let who = match signed_in(&state, &req).await? {
        Ok(who) => who,
        Err(to_login) => return Ok(to_login),
    };
    let form: ResendForm = read_form(&req, payload, "email").await?;
    if form_expired(&state, &req, form.csrf.as_deref()) {
        let expired = "This form has expired. Please try again.";
        let outcome = Outcome {
            notice: None,
            error: Some((SECTION, expired)),
            recovery_codes: Vec::new(),
        };
        return show(&state, &req, &who, StatusCode::FORBIDDEN, outcome).await;
    }
    let limit = Some(state.settings.reset_throttle.per_username);
    match state
        .accounts
        .resend_verification(&who.user.username, limit)
        .await
    {
        Ok(()) => {
            let outcome = Outcome {
                notice: Some("A new confirmation link is on its way to your address."),
                error: None,
                recovery_codes: Vec::new(),
            };
            show(&state, &req, &who, StatusCode::OK, outcome).await
        }
        Err(AccountError::Db(db)) => Err(db.into()),
        Err(refused) => {
            let why = refused.to_string();
            let outcome = Outcome {
                notice: None,
                error: Some((SECTION, &why)),
                recovery_codes: Vec::new(),
            };
            show(&state, &req, &who, StatusCode::BAD_REQUEST, outcome).await
        }
    }
}
