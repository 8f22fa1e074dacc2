//! The console's audit log: a page of records, filtered by kind and actor.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{admin, page_link, render};
use crate::audit::{self, AuditFilter, AuditRecord};
use crate::domain::utc_datetime;
use crate::http::error::PageError;
use crate::state::AppState;

struct AuditRow {
    at: String,
    kind: String,
    outcome: String,
    actor: String,
    subject: String,
    client_addr: String,
    detail: String,
}

impl From<AuditRecord> for AuditRow {
    fn from(r: AuditRecord) -> Self {
        AuditRow {
            at: utc_datetime(r.at),
            kind: r.kind,
            outcome: r.outcome,
            actor: r.actor.unwrap_or_default(),
            subject: r.subject.unwrap_or_default(),
            client_addr: r.client_addr.unwrap_or_default(),
            detail: r.detail.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console_audit.html")]
struct AuditPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    kind: &'a str,
    actor: &'a str,
    records: Vec<AuditRow>,
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct AuditQueryForm {
    kind: Option<String>,
    actor: Option<String>,
    #[serde(alias = "before")]
    after: Option<String>,
}

pub(super) async fn audit_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let q: AuditQueryForm = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| PageError::bad_request("The audit query is malformed."))?;
    let kind = q.kind.filter(|k| !k.is_empty());
    let actor = q.actor.filter(|a| !a.is_empty());
    let filter = AuditFilter {
        kind: kind.clone(),
        actor: actor.clone(),
        after: q.after,
        ..Default::default()
    };
    let page = match audit::page(&state.db, filter).await {
        Ok(page) => page,
        Err(audit::AuditError::Invalid(m)) => return Err(PageError::bad_request(m)),
        Err(audit::AuditError::Db(db)) => return Err(db.into()),
    };
    let next_page = page_link(
        "/console/audit",
        page.next,
        vec![
            ("kind", kind.clone().unwrap_or_default()),
            ("actor", actor.clone().unwrap_or_default()),
        ],
    );
    Ok(render(&req, &state, StatusCode::OK, |csrf| {
        AuditPage {
            admin: &user.username,
            csrf,
            kind: kind.as_deref().unwrap_or(""),
            actor: actor.as_deref().unwrap_or(""),
            records: page.records.into_iter().map(AuditRow::from).collect(),
            next_page,
        }
        .render()
    }))
}
