//! Rows of `audit_log`: appended, read newest first with filters, purged after retention.

use diesel::prelude::*;

use crate::db::schema::audit_log::dsl as a;
use crate::db::{DbConn, DbError};

/// One recorded event.
#[derive(Queryable, Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

pub fn insert(conn: &mut DbConn, r: &AuditRecord) -> Result<(), DbError> {
    diesel::insert_into(a::audit_log)
        .values((
            a::id.eq(&r.id),
            a::at.eq(r.at),
            a::kind.eq(&r.kind),
            a::outcome.eq(&r.outcome),
            a::actor.eq(&r.actor),
            a::subject.eq(&r.subject),
            a::client_addr.eq(&r.client_addr),
            a::request_id.eq(&r.request_id),
            a::detail.eq(&r.detail),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// What to read: every filter is optional; `before` is a cursor (the `at`, then the `id`,
/// of the last record of the previous page).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub kind: Option<String>,
    pub actor: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// Newest first.
pub fn list(conn: &mut DbConn, q: &AuditQuery) -> Result<Vec<AuditRecord>, DbError> {
    let mut query = a::audit_log.into_boxed();
    if let Some(kind) = &q.kind {
        query = query.filter(a::kind.eq(kind.clone()));
    }
    if let Some(actor) = &q.actor {
        query = query.filter(a::actor.eq(actor.clone()));
    }
    if let Some(since) = q.since {
        query = query.filter(a::at.ge(since));
    }
    if let Some(until) = q.until {
        query = query.filter(a::at.le(until));
    }
    if let Some((at, id)) = &q.before {
        query = query.filter(a::at.lt(*at).or(a::at.eq(*at).and(a::id.lt(id.clone()))));
    }
    query
        .order((a::at.desc(), a::id.desc()))
        .limit(q.limit)
        .load(conn)
        .map_err(DbError::from_diesel)
}

/// Housekeeping: records older than the retention.
pub fn purge(conn: &mut DbConn, older_than: i64) -> Result<usize, DbError> {
    diesel::delete(a::audit_log.filter(a::at.lt(older_than)))
        .execute(conn)
        .map_err(DbError::from_diesel)
}
