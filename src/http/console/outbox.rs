//! The console's outbox page: messages waiting for delivery and messages given up, with their
//! destination, attempts and last error, never their payload.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{admin, render};
use crate::domain::utc_datetime;
use crate::http::error::PageError;
use crate::outbox::listing::{OutboxEntry, LISTED};
use crate::state::AppState;

struct OutboxRow {
    id: i64,
    kind: String,
    destination: String,
    attempts: i32,
    created: String,
    next_attempt: String,
    failed: String,
    in_delivery: bool,
    last_error: String,
}

impl From<OutboxEntry> for OutboxRow {
    fn from(e: OutboxEntry) -> Self {
        OutboxRow {
            id: e.id,
            kind: e.kind,
            destination: e.destination,
            attempts: e.attempts,
            created: utc_datetime(e.created_at),
            next_attempt: utc_datetime(e.next_attempt_at),
            failed: e.failed_at.map(utc_datetime).unwrap_or_default(),
            in_delivery: e.in_delivery,
            last_error: e.last_error.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console_outbox.html")]
struct OutboxPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    limit: i64,
    pending: Vec<OutboxRow>,
    failed: Vec<OutboxRow>,
}

pub(super) async fn outbox_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let listing = state.outbox.listing().await?;
    Ok(render(&req, &state, StatusCode::OK, |csrf| {
        OutboxPage {
            admin: &user.username,
            csrf,
            limit: LISTED,
            pending: listing.pending.into_iter().map(OutboxRow::from).collect(),
            failed: listing.failed.into_iter().map(OutboxRow::from).collect(),
        }
        .render()
    }))
}
