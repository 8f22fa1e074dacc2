//! Moving from Django: users from `manage.py dumpdata auth.user` JSON (`gatehouse user
//! import FILE`). Each user keeps their password hash as Django stored it (verified by
//! `django_passwords` and rewritten as argon2id at the first login), their primary key as
//! `legacy_id` (simplejwt's `user_id` in their tokens), `is_active` as enabled, and
//! `is_superuser` (or, when asked for, `is_staff`) as admin.
//!
//! Importing is idempotent: a user already imported from the same primary key is left as
//! it is (their password may have been rehashed or changed since), so running the same
//! file twice changes nothing. A record that cannot be imported is reported with its
//! position and skipped; the others are imported.

use serde_json::Value;

use super::{valid_email, AccountError, Accounts};
use crate::audit::{self, Event, Kind};
use crate::db::repo::users::NewUser;
use crate::db::{repo, DbError};
use crate::django_passwords::{self, Format};
use crate::domain::Username;

/// Which Django users become admins. Django's staff are often support staff, who must not
/// rotate keys or create admins; so by default only superusers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AdminsFrom {
    /// `is_superuser`.
    Superuser,
    /// `is_staff` or `is_superuser`.
    Staff,
}

/// One user of the dump, checked.
#[derive(Clone)]
pub struct DjangoUser {
    /// Django's primary key, as text (`42`; a custom user model may use a UUID).
    pub pk: String,
    pub username: Username,
    pub email: Option<String>,
    /// Django's encoded hash, stored as it is.
    password: String,
    pub format: Format,
    pub is_active: bool,
    pub is_admin: bool,
    /// `date_joined`, as Unix seconds, when the dump has it.
    pub date_joined: Option<i64>,
}

impl std::fmt::Debug for DjangoUser {
    // Never the password hash.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DjangoUser")
            .field("pk", &self.pk)
            .field("username", &self.username)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// Reads the whole dump: a JSON array of records. Only a file that is not such an array
/// fails as a whole; each record is checked on its own by [`parse_record`].
pub fn parse_dump(text: &str) -> Result<Vec<Value>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        format!("the file is not JSON ({e}); make it with `manage.py dumpdata auth.user`")
    })?;
    match value {
        Value::Array(records) => Ok(records),
        _ => Err(
            "the file is not a list of records, as `manage.py dumpdata auth.user` writes".into(),
        ),
    }
}

/// Checks one record of `dumpdata`: `{"model": "auth.user", "pk": 1, "fields": {...}}`.
/// A custom user model's records are accepted when they have the same fields.
pub fn parse_record(record: &Value, admins_from: AdminsFrom) -> Result<DjangoUser, String> {
    let fields = record
        .get("fields")
        .and_then(Value::as_object)
        .ok_or("no \"fields\" object")?;
    let pk = match record.get("pk") {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 && !s.contains('\0') => s.clone(),
        None | Some(Value::Null) => return Err("no \"pk\"".into()),
        Some(_) => return Err("\"pk\" is neither an integer nor a string".into()),
    };
    let text = |name: &str| -> Result<Option<&str>, String> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("\"{name}\" is not a string")),
        }
    };
    let flag = |name: &str, default: bool| -> Result<bool, String> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("\"{name}\" is not true or false")),
        }
    };
    let username = text("username")?.ok_or("no \"username\"")?;
    let username = Username::parse(username).map_err(|e| format!("{username:?}: {e}"))?;
    let email = match text("email")?.map(str::trim) {
        None | Some("") => None,
        Some(e) if valid_email(e) => Some(e.to_string()),
        Some(e) => return Err(format!("email {e:?} is not a valid address")),
    };
    let password = text("password")?.ok_or("no \"password\"")?.to_string();
    // Both flags are checked whichever decides, so a malformed one is reported either way.
    let (is_staff, is_superuser) = (flag("is_staff", false)?, flag("is_superuser", false)?);
    let format = django_passwords::recognise(&password).map_err(|e| format!("password: {e}"))?;
    Ok(DjangoUser {
        pk,
        username,
        email,
        password,
        format,
        is_active: flag("is_active", true)?,
        is_admin: is_superuser || (admins_from == AdminsFrom::Staff && is_staff),
        date_joined: text("date_joined")?.and_then(parse_datetime),
    })
}

/// Django's JSON datetimes: `2024-05-01T10:20:30.123Z` (USE_TZ) or without an offset
/// (then taken as UTC).
fn parse_datetime(s: &str) -> Option<i64> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    time::OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| time::PrimitiveDateTime::parse(s, &Iso8601::DEFAULT).map(|t| t.assume_utc()))
        .ok()
        .map(|t| t.unix_timestamp())
}

/// What became of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Created, with their Django password.
    Created,
    /// Already imported from this primary key: left as it is.
    Unchanged,
    /// Not imported: a user of that name exists that did not come from this primary key,
    /// or this primary key was imported under another name.
    Conflict(String),
}

impl Accounts {
    /// Imports a batch of users in one write transaction. One outcome per user, in order.
    pub async fn import_django_users(
        &self,
        users: Vec<DjangoUser>,
    ) -> Result<Vec<Imported>, AccountError> {
        let now = self.clock.now();
        let ctx = audit::current_context();
        self.db
            .write(move |conn| {
                let mut outcomes = Vec::with_capacity(users.len());
                for user in &users {
                    let outcome = import_one(conn, user, now)?;
                    if outcome == Imported::Created {
                        let event = Event::success(Kind::UserImported, user.username.as_str())
                            .detail(format!("django pk {}", user.pk));
                        audit::record_in(conn, &ctx, now, event)?;
                    }
                    outcomes.push(outcome);
                }
                Ok::<_, AccountError>(outcomes)
            })
            .await
    }
}

fn import_one(
    conn: &mut crate::db::DbConn,
    user: &DjangoUser,
    now: i64,
) -> Result<Imported, DbError> {
    let by_name = repo::users::find_by_username(conn, user.username.as_str())?;
    if let Some(existing) = by_name {
        return Ok(match existing.legacy_id.as_deref() {
            Some(id) if id == user.pk => Imported::Unchanged,
            Some(id) => Imported::Conflict(format!(
                "user {} exists, imported from pk {id}",
                user.username
            )),
            None => Imported::Conflict(format!(
                "user {} exists and was not imported from Django",
                user.username
            )),
        });
    }
    if let Some(existing) = repo::users::find_by_legacy_id(conn, &user.pk)? {
        return Ok(Imported::Conflict(format!(
            "pk {} was imported as user {}",
            user.pk, existing.username
        )));
    }
    let created_at = user.date_joined.unwrap_or(now);
    let id = repo::users::insert(
        conn,
        NewUser {
            username: user.username.as_str(),
            email: user.email.as_deref(),
            password_hash: &user.password,
            is_admin: user.is_admin,
            legacy_id: Some(&user.pk),
        },
        created_at,
    )?;
    if !user.is_active {
        repo::users::set_disabled(conn, &id, true, now)?;
    }
    Ok(Imported::Created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(fields: Value) -> Value {
        json!({ "model": "auth.user", "pk": 7, "fields": fields })
    }

    #[test]
    fn a_dumpdata_record_maps_to_a_user() {
        let u = parse_record(&record(json!({
            "password": "pbkdf2_sha256$1000000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "last_login": null, "is_superuser": false, "username": "alice",
            "first_name": "", "last_name": "", "email": "", "is_staff": true,
            "is_active": false, "date_joined": "2024-05-01T10:20:30.123Z",
            "groups": [], "user_permissions": []
        })), AdminsFrom::Staff)
        .unwrap();
        assert_eq!(u.pk, "7");
        assert_eq!(u.username.as_str(), "alice");
        assert_eq!(u.email, None);
        assert_eq!(u.format, Format::Pbkdf2Sha256);
        assert!(u.is_admin && !u.is_active);
        assert_eq!(u.date_joined, Some(1_714_558_830));
        assert!(!format!("{u:?}").contains("pbkdf2_sha256$"), "{u:?}");
        let naive = parse_record(
            &record(json!({
                "password": "!unusable", "username": "bob", "email": "bob@example.com",
                "date_joined": "2024-05-01T10:20:30"
            })),
            AdminsFrom::Staff,
        )
        .unwrap();
        assert_eq!(naive.date_joined, Some(1_714_558_830));
        assert_eq!(naive.email.as_deref(), Some("bob@example.com"));
        assert!(!naive.is_admin && naive.is_active);
    }

    #[test]
    fn only_superusers_are_admins_unless_staff_is_asked_for() {
        for (is_staff, is_superuser, by_default, with_staff) in [
            (false, false, false, false),
            (true, false, false, true),
            (false, true, true, true),
            (true, true, true, true),
        ] {
            let rec = record(json!({
                "password": "!", "username": "a",
                "is_staff": is_staff, "is_superuser": is_superuser
            }));
            let admin = |from| parse_record(&rec, from).unwrap().is_admin;
            assert_eq!(admin(AdminsFrom::Superuser), by_default, "{rec}");
            assert_eq!(admin(AdminsFrom::Staff), with_staff, "{rec}");
        }
    }

    #[test]
    fn a_malformed_record_says_what_is_wrong() {
        for (rec, why) in [
            (json!("alice"), "fields"),
            (json!({"pk": 1}), "fields"),
            (json!({"fields": {"username": "a", "password": "!"}}), "pk"),
            (json!({"pk": true, "fields": {}}), "pk"),
            (record(json!({"password": "!x"})), "username"),
            (
                record(json!({"username": "has space", "password": "!x"})),
                "may contain only",
            ),
            (record(json!({"username": "a"})), "password"),
            (
                record(json!({"username": "a", "password": "md5$x$y"})),
                "not supported",
            ),
            (
                record(json!({"username": "a", "password": "!", "is_staff": "yes"})),
                "is_staff",
            ),
            (
                record(json!({"username": "a", "password": "!", "email": "nope"})),
                "email",
            ),
            (record(json!({"username": 5, "password": "!"})), "username"),
        ] {
            let err = parse_record(&rec, AdminsFrom::Superuser).expect_err(&rec.to_string());
            assert!(err.contains(why), "{rec}: {err}");
        }
        assert!(parse_dump("{\"model\": 1}").is_err());
        assert!(parse_dump("[1,").unwrap_err().contains("not JSON"));
    }
}
