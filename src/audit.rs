//! The audit trail: admin actions and security events (sign-ins and their failures,
//! throttling, key rotations and emergency revocations, refresh-token reuse, user and client
//! changes), each with its time, actor, client address, request id and outcome, in the
//! database. Never a secret: no password, token, client secret or key material is recorded,
//! and a failed sign-in names the account only when it exists (a password typed into the
//! username field stays out of the log).
//!
//! Use cases record events; who asked and from where comes from the request's context,
//! which the HTTP middleware (or the CLI) sets around each request, so no use case takes
//! HTTP types or extra parameters for it.

use std::cell::RefCell;
use std::future::Future;

use crate::clock::Clock;
use crate::db::repo::audit::AuditQuery;
pub use crate::db::repo::audit::AuditRecord;
use crate::db::{repo, Db, DbError};
use crate::paging;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SignIn,
    SignInThrottled,
    KeyRotated,
    KeyRevoked,
    RefreshReuse,
    UserCreated,
    UserDisabled,
    UserEnabled,
    UserDeleted,
    UserPasswordChanged,
    UserResetLinkIssued,
    UserPasswordReset,
    UserImported,
    PasswordResetRequested,
    UserEmailChanged,
    UserEmailVerified,
    ClientCreated,
    ClientUpdated,
    ClientDisabled,
    ClientEnabled,
    ClientDeleted,
    ClientSecretRotated,
    MasterKeyRotated,
    MfaEnrolled,
    MfaRemoved,
    MfaFailed,
    RecoveryCodeUsed,
    RecoveryCodesRegenerated,
    OutboxFailed,
    SessionEnded,
    OfflineAccessRevoked,
    UserMfaPolicy,
}

impl Kind {
    pub const ALL: [Kind; 32] = [
        Kind::SignIn,
        Kind::SignInThrottled,
        Kind::KeyRotated,
        Kind::KeyRevoked,
        Kind::RefreshReuse,
        Kind::UserCreated,
        Kind::UserDisabled,
        Kind::UserEnabled,
        Kind::UserDeleted,
        Kind::UserPasswordChanged,
        Kind::UserResetLinkIssued,
        Kind::UserPasswordReset,
        Kind::UserImported,
        Kind::PasswordResetRequested,
        Kind::UserEmailChanged,
        Kind::UserEmailVerified,
        Kind::ClientCreated,
        Kind::ClientUpdated,
        Kind::ClientDisabled,
        Kind::ClientEnabled,
        Kind::ClientDeleted,
        Kind::ClientSecretRotated,
        Kind::MasterKeyRotated,
        Kind::MfaEnrolled,
        Kind::MfaRemoved,
        Kind::MfaFailed,
        Kind::RecoveryCodeUsed,
        Kind::RecoveryCodesRegenerated,
        Kind::OutboxFailed,
        Kind::SessionEnded,
        Kind::OfflineAccessRevoked,
        Kind::UserMfaPolicy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SignIn => "sign_in",
            Kind::SignInThrottled => "sign_in.throttled",
            Kind::KeyRotated => "key.rotated",
            Kind::KeyRevoked => "key.revoked",
            Kind::RefreshReuse => "refresh.reuse_detected",
            Kind::UserCreated => "user.created",
            Kind::UserDisabled => "user.disabled",
            Kind::UserEnabled => "user.enabled",
            Kind::UserDeleted => "user.deleted",
            Kind::UserPasswordChanged => "user.password_changed",
            Kind::UserResetLinkIssued => "user.reset_link_issued",
            Kind::UserPasswordReset => "user.password_reset",
            Kind::UserImported => "user.imported",
            Kind::PasswordResetRequested => "user.password_reset_requested",
            Kind::UserEmailChanged => "user.email_changed",
            Kind::UserEmailVerified => "user.email_verified",
            Kind::ClientCreated => "client.created",
            Kind::ClientUpdated => "client.updated",
            Kind::ClientDisabled => "client.disabled",
            Kind::ClientEnabled => "client.enabled",
            Kind::ClientDeleted => "client.deleted",
            Kind::ClientSecretRotated => "client.secret_rotated",
            Kind::MasterKeyRotated => "master_key.rotated",
            Kind::MfaEnrolled => "mfa.enrolled",
            Kind::MfaRemoved => "mfa.removed",
            Kind::MfaFailed => "mfa.failed",
            Kind::RecoveryCodeUsed => "mfa.recovery_code_used",
            Kind::RecoveryCodesRegenerated => "mfa.recovery_codes_regenerated",
            Kind::OutboxFailed => "outbox.failed",
            Kind::SessionEnded => "session.ended",
            Kind::OfflineAccessRevoked => "offline_access.revoked",
            Kind::UserMfaPolicy => "user.mfa_policy",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One event, before it is recorded.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: Kind,
    pub outcome: Outcome,
    /// What it concerns: a username, a client id, a kid.
    pub subject: Option<String>,
    /// A word more (the endpoint of a sign-in, the key retired by a rotation), never a secret.
    pub detail: Option<String>,
}

impl Event {
    pub fn success(kind: Kind, subject: impl Into<String>) -> Event {
        Event {
            kind,
            outcome: Outcome::Success,
            subject: Some(subject.into()),
            detail: None,
        }
    }

    pub fn failure(kind: Kind, subject: impl Into<String>) -> Event {
        Event {
            outcome: Outcome::Failure,
            ..Event::success(kind, subject)
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Event {
        self.detail = Some(detail.into());
        self
    }
}

/// Who asks and from where, for the events a request causes.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub actor: Option<String>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

tokio::task_local! {
    static CONTEXT: RefCell<RequestContext>;
}

/// Runs `f` with `ctx` as the context of the events it records.
pub async fn within<F: Future>(ctx: RequestContext, f: F) -> F::Output {
    CONTEXT.scope(RefCell::new(ctx), f).await
}

/// Names the actor of the current request once known (an authenticated admin).
pub fn set_actor(actor: &str) {
    let _ = CONTEXT.try_with(|c| c.borrow_mut().actor = Some(actor.to_string()));
}

fn context() -> RequestContext {
    CONTEXT.try_with(|c| c.borrow().clone()).unwrap_or_default()
}

/// Records an event; a failure to record is logged and does not fail what was done (the
/// action already happened, and its own log line stays).
pub async fn record(db: &Db, clock: &Clock, event: Event) {
    let row = row(&context(), clock.now(), event);
    let kind = row.kind.clone();
    if let Err(e) = db.write(move |conn| repo::audit::insert(conn, &row)).await {
        tracing::error!(error = %e, kind, "could not record an audit event");
    }
}

/// The context of the current request, for events recorded inside a transaction
/// (which runs on a blocking thread, outside the request's task).
pub fn current_context() -> RequestContext {
    context()
}

/// Records an event in the caller's transaction, so it lands with what it describes.
pub fn record_in(
    conn: &mut crate::db::DbConn,
    ctx: &RequestContext,
    at: i64,
    event: Event,
) -> Result<(), DbError> {
    repo::audit::insert(conn, &row(ctx, at, event))
}

fn row(ctx: &RequestContext, at: i64, event: Event) -> AuditRecord {
    AuditRecord {
        id: uuid::Uuid::now_v7().to_string(),
        at,
        kind: event.kind.as_str().to_string(),
        outcome: event.outcome.as_str().to_string(),
        actor: ctx.actor.clone(),
        subject: event.subject,
        client_addr: ctx.client_addr.clone(),
        request_id: ctx.request_id.clone(),
        detail: event.detail,
    }
}

/// Newest first, filtered (see [`AuditQuery`]).
pub async fn list(db: &Db, query: AuditQuery) -> Result<Vec<AuditRecord>, DbError> {
    db.run(move |conn| repo::audit::list(conn, &query)).await
}

/// Drops records older than `retention_secs`; returns how many.
pub async fn purge(db: &Db, clock: &Clock, retention_secs: i64) -> Result<usize, DbError> {
    let older_than = clock.now() - retention_secs;
    db.write(move |conn| repo::audit::purge(conn, older_than))
        .await
}

/// A query of the audit trail as an admin or the CLI asks it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    pub kind: Option<String>,
    pub actor: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// The `next` of the previous page (`before`: its name until the lists were paged alike).
    #[serde(alias = "before")]
    pub after: Option<String>,
    /// 1 to [`paging::MAX_LIMIT`]; [`paging::DEFAULT_LIMIT`] by default.
    pub limit: Option<i64>,
}

/// One page of records, newest first, and the cursor of the next (older) one.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page {
    pub records: Vec<AuditRecord>,
    pub next: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Reads one page: newest first.
pub async fn page(db: &Db, filter: AuditFilter) -> Result<Page, AuditError> {
    if let Some(kind) = filter.kind.as_deref() {
        if Kind::parse(kind).is_none() {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(AuditError::Invalid(format!(
                "unknown kind; expected one of {}",
                known.join(", ")
            )));
        }
    }
    let limit = paging::limit(filter.limit).map_err(AuditError::Invalid)?;
    // PostgreSQL refuses a NUL in text: an error, not an empty page.
    if filter.actor.as_deref().is_some_and(|a| a.contains('\0')) {
        return Err(AuditError::Invalid("actor may not hold a NUL".into()));
    }
    let before = match filter.after.as_deref() {
        None | Some("") => None,
        Some(cursor) => Some(
            parse_cursor(cursor)
                .ok_or_else(|| AuditError::Invalid("after is not a cursor of this trail".into()))?,
        ),
    };
    let query = AuditQuery {
        kind: filter.kind,
        actor: filter.actor.filter(|a| a.len() <= 200),
        since: filter.since,
        until: filter.until,
        before,
        limit: limit + 1,
    };
    let rows = list(db, query).await?;
    let page = paging::Page::from_rows(rows, limit, |r| format!("{}.{}", r.at, r.id));
    Ok(Page {
        records: page.items,
        next: page.next,
    })
}

fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    let (at, id) = cursor.split_once('.')?;
    let id = uuid::Uuid::parse_str(id).ok()?;
    Some((at.parse().ok()?, id.to_string()))
}
