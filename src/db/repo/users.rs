//! Rows of `users`.

use diesel::prelude::*;

use crate::db::repo::keyset::{prefix_bounds, PageQuery};
use crate::db::schema::users::dsl as u;
use crate::db::{DbConn, DbError};

/// A stored user. No `Debug`: it holds the password hash.
#[derive(Queryable, Clone, serde::Serialize)]
pub struct User {
    #[serde(rename = "sub")]
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    #[serde(skip)]
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    #[serde(skip)]
    pub legacy_id: Option<String>,
    pub created_at: i64,
    #[serde(skip)]
    pub updated_at: i64,
    /// A second factor is required of this user (`gatehouse user require-mfa`).
    pub require_mfa: bool,
}

impl User {
    /// simplejwt's `user_id`: the imported primary key if any, else `sub`.
    pub fn user_id(&self) -> &str {
        self.legacy_id.as_deref().unwrap_or(&self.id)
    }
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> Result<Option<User>, DbError> {
    u::users
        .filter(u::username.eq(username))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

pub fn find_by_id(conn: &mut DbConn, id: &str) -> Result<Option<User>, DbError> {
    u::users
        .filter(u::id.eq(id))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// The user imported with `legacy_id` (Django's primary key), if any.
pub fn find_by_legacy_id(conn: &mut DbConn, legacy_id: &str) -> Result<Option<User>, DbError> {
    u::users
        .filter(u::legacy_id.eq(legacy_id))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// One page of users in username order: after `q.after`, only those whose username or email
/// starts with `q.prefix`; [`PageQuery::rows_to_read`] rows at most. Each condition is a
/// range of an index (`users.username`, `users_email`).
pub fn page(conn: &mut DbConn, q: &PageQuery) -> Result<Vec<User>, DbError> {
    let mut query = u::users.into_boxed();
    if let Some(after) = &q.after {
        query = query.filter(u::username.gt(after.clone()));
    }
    if let Some(prefix) = &q.prefix {
        query = match prefix_bounds(prefix) {
            (low, Some(high)) => query.filter(
                u::username
                    .ge(low.clone())
                    .and(u::username.lt(high.clone()))
                    .or(u::email.ge(low).and(u::email.lt(high))),
            ),
            (low, None) => query.filter(u::username.ge(low.clone()).or(u::email.ge(low))),
        };
    }
    query
        .order(u::username.asc())
        .limit(q.rows_to_read())
        .load(conn)
        .map_err(DbError::from_diesel)
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub is_admin: bool,
    pub legacy_id: Option<&'a str>,
}

/// Inserts a user; `DbError::Conflict` when the username is taken. Returns the new `sub`.
pub fn insert(conn: &mut DbConn, new: NewUser<'_>, now: i64) -> Result<String, DbError> {
    let id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(u::users)
        .values((
            u::id.eq(&id),
            u::username.eq(new.username),
            u::email.eq(new.email),
            u::email_verified.eq(false),
            u::password_hash.eq(new.password_hash),
            u::is_admin.eq(new.is_admin),
            u::disabled.eq(false),
            u::legacy_id.eq(new.legacy_id),
            u::created_at.eq(now),
            u::updated_at.eq(now),
        ))
        .execute(conn)
        .map_err(DbError::from_diesel)?;
    Ok(id)
}

pub fn set_disabled(
    conn: &mut DbConn,
    id: &str,
    disabled: bool,
    now: i64,
) -> Result<bool, DbError> {
    diesel::update(u::users.filter(u::id.eq(id)))
        .set((u::disabled.eq(disabled), u::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(DbError::from_diesel)
}

pub fn set_require_mfa(
    conn: &mut DbConn,
    id: &str,
    required: bool,
    now: i64,
) -> Result<bool, DbError> {
    diesel::update(u::users.filter(u::id.eq(id)))
        .set((u::require_mfa.eq(required), u::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(DbError::from_diesel)
}

pub fn set_password_hash(
    conn: &mut DbConn,
    id: &str,
    hash: &str,
    now: i64,
) -> Result<bool, DbError> {
    diesel::update(u::users.filter(u::id.eq(id)))
        .set((u::password_hash.eq(hash), u::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(DbError::from_diesel)
}

/// Replaces the hash only if it is still `old`: an upgrade made after a login never undoes a
/// password change made at the same moment. True when it was replaced.
pub fn upgrade_password_hash(
    conn: &mut DbConn,
    id: &str,
    old: &str,
    new: &str,
    now: i64,
) -> Result<bool, DbError> {
    diesel::update(
        u::users
            .filter(u::id.eq(id))
            .filter(u::password_hash.eq(old)),
    )
    .set((u::password_hash.eq(new), u::updated_at.eq(now)))
    .execute(conn)
    .map(|n| n > 0)
    .map_err(DbError::from_diesel)
}

/// The ids of the enabled admins, row-locked until the transaction ends on PostgreSQL
/// (SQLite's write transaction already excludes other writers).
pub fn lock_enabled_admins(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let query = u::users
        .filter(u::is_admin.eq(true))
        .filter(u::disabled.eq(false))
        .select(u::id);
    match conn {
        DbConn::Pg(c) => query.for_update().load(c),
        DbConn::Sqlite(c) => query.load(c),
    }
    .map_err(DbError::from_diesel)
}

/// Whether any enabled admin exists (a first start says how to create one when none does).
pub fn any_enabled_admin(conn: &mut DbConn) -> Result<bool, DbError> {
    diesel::select(diesel::dsl::exists(
        u::users
            .filter(u::is_admin.eq(true))
            .filter(u::disabled.eq(false)),
    ))
    .get_result(conn)
    .map_err(DbError::from_diesel)
}

/// Deletes a user; their refresh families go with them (ON DELETE CASCADE).
pub fn delete(conn: &mut DbConn, id: &str) -> Result<bool, DbError> {
    diesel::delete(u::users.filter(u::id.eq(id)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(DbError::from_diesel)
}

/// Sets (or, with `None`, removes) the user's email, unverified: a new address proves
/// nothing until its owner follows a verification link.
pub fn set_email(
    conn: &mut DbConn,
    id: &str,
    email: Option<&str>,
    now: i64,
) -> Result<bool, DbError> {
    diesel::update(u::users.filter(u::id.eq(id)))
        .set((
            u::email.eq(email),
            u::email_verified.eq(false),
            u::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(DbError::from_diesel)
}

/// Marks the email verified, only while it is still `email` (a link sent to an earlier
/// address proves nothing about the current one). True when it was marked.
pub fn mark_email_verified(
    conn: &mut DbConn,
    id: &str,
    email: &str,
    now: i64,
) -> Result<bool, DbError> {
    diesel::update(u::users.filter(u::id.eq(id)).filter(u::email.eq(email)))
        .set((u::email_verified.eq(true), u::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(DbError::from_diesel)
}

/// The users whose email is one of `emails` (an address as typed and in lower case), at
/// most `limit`: a forgot-password request names an address, and one address may serve a
/// few accounts.
pub fn find_by_emails(
    conn: &mut DbConn,
    emails: &[String],
    limit: i64,
) -> Result<Vec<User>, DbError> {
    u::users
        .filter(u::email.eq_any(emails))
        .order(u::username.asc())
        .limit(limit)
        .load(conn)
        .map_err(DbError::from_diesel)
}
