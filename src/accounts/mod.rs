//! Users and clients as the CLI, the admin API and the token endpoints see them: creating,
//! disabling, deleting, password checks. Knows nothing of HTTP.

pub mod client_auth;
pub mod clients;
pub mod clients_file;
pub mod email;
pub mod factors;
pub mod forgot;
pub mod import;
pub mod login_guard;
pub mod mail_delivery;
pub mod own_email;
pub mod own_password;
pub mod password_policy;
pub mod reset;

use crate::audit::{self, Event, Kind};
use crate::clock::Clock;
use crate::db::alg::AlgSet;
use crate::db::repo::users::NewUser;
pub use crate::db::repo::users::User;
use crate::db::{repo, Db, DbError};
use crate::domain::Username;
use crate::paging::{ListRequest, Page};
use crate::passwords::{HashError, Hasher, Password};

pub use client_auth::secret_matches;
pub use clients::{generate_client_secret, NewClientRequest};
pub use password_policy::{PasswordPolicy, MAX_PASSWORD_BYTES};

/// What account use cases need: the pool, the password hasher, the clock, the rules a
/// new password must meet, and whether mail is configured (`SMTP_URL`: a new address is
/// then sent a verification link).
#[derive(Clone)]
pub struct Accounts {
    pub db: Db,
    pub hasher: Hasher,
    pub clock: Clock,
    pub policy: PasswordPolicy,
    /// `SIGNING_ALGS`: the algorithms a client may choose.
    pub signing_algs: AlgSet,
    pub mail: bool,
    /// Wakes this instance's outbox after a change wrote a message (a mail, a logout
    /// notification); a no-op in the CLI, whose messages a server's poll picks up.
    pub outbox: crate::outbox::Waker,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The admin API may not lock every admin out (the CLI, an operator's tool, may).
    #[error("the last enabled admin cannot be disabled or deleted")]
    LastAdmin,
    /// The client is declared in `CLIENTS_FILE`: only applying the file changes it.
    #[error("client {0} is declared in the clients file (CLIENTS_FILE); change it there and apply the file")]
    Managed(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// An address we store: control characters, NUL among them (PostgreSQL refuses it in
/// text), are no address.
pub(crate) fn valid_email(email: &str) -> bool {
    email.len() <= 254
        && email.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Whether a change may leave no enabled admin: the operator's CLI may, the admin API may
/// not (an admin would lock every admin out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastAdmin {
    Keep,
    MayRemove,
}

pub struct NewUserRequest {
    pub username: String,
    pub email: Option<String>,
    pub password: Password,
    pub is_admin: bool,
}

/// Inside a write transaction: refuses when `id` is the only enabled admin. The enabled
/// admins are locked first (PostgreSQL), so two admins removing each other at the same
/// moment cannot both succeed.
fn keep_an_admin(conn: &mut crate::db::DbConn, id: &str) -> Result<(), AccountError> {
    let admins = repo::users::lock_enabled_admins(conn)?;
    if admins.iter().any(|a| a == id) && admins.len() == 1 {
        return Err(AccountError::LastAdmin);
    }
    Ok(())
}

/// Why a password login failed; callers answer the same for every reason.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// `account` names the account when the username was one (for the audit trail only:
    /// callers answer the same either way).
    #[error("invalid credentials")]
    BadCredentials { account: Option<String> },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl Accounts {
    pub fn new(
        db: Db,
        hasher: Hasher,
        clock: Clock,
        policy: PasswordPolicy,
        signing_algs: AlgSet,
    ) -> Accounts {
        Accounts {
            db,
            hasher,
            clock,
            policy,
            signing_algs,
            mail: false,
            outbox: crate::outbox::Waker::default(),
        }
    }

    /// This instance's outbox is woken after a mail is queued, to send it at once.
    pub fn with_outbox(mut self, waker: crate::outbox::Waker) -> Accounts {
        self.outbox = waker;
        self
    }

    /// After a transaction that queued mail committed.
    pub(crate) fn mail_queued(&self) {
        self.outbox.wake();
    }

    /// With mail configured, new addresses are sent verification links.
    pub fn with_mail(mut self, mail: bool) -> Accounts {
        self.mail = mail;
        self
    }

    /// A password being set (never one being checked) must meet the policy.
    fn check_new_password(&self, password: &Password) -> Result<(), AccountError> {
        self.policy
            .check(password.expose())
            .map_err(AccountError::Invalid)
    }

    pub async fn create_user(&self, req: NewUserRequest) -> Result<User, AccountError> {
        let username = Username::parse(&req.username).map_err(AccountError::Invalid)?;
        if let Some(email) = &req.email {
            if !valid_email(email) {
                return Err(AccountError::Invalid("email is not a valid address".into()));
            }
        }
        self.check_new_password(&req.password)?;
        let hash = self.hasher.hash(req.password).await?;
        let now = self.clock.now();
        let mail_on = self.mail;
        let user = self
            .db
            .write(move |conn| {
                let new = NewUser {
                    username: username.as_str(),
                    email: req.email.as_deref(),
                    password_hash: &hash,
                    is_admin: req.is_admin,
                    legacy_id: None,
                };
                let id = repo::users::insert(conn, new, now).map_err(|e| match e {
                    DbError::Conflict => AccountError::Exists(format!("user {username}")),
                    other => other.into(),
                })?;
                if let (Some(email), true) = (&req.email, mail_on) {
                    email::queue_verification(conn, &id, email, now)?;
                }
                repo::users::find_by_id(conn, &id)?
                    .ok_or_else(|| AccountError::NotFound(username.to_string()))
            })
            .await?;
        if mail_on && user.email.is_some() {
            self.mail_queued();
        }
        let kind = if user.is_admin { "admin" } else { "user" };
        self.audit(Event::success(Kind::UserCreated, &user.username).detail(kind))
            .await;
        Ok(user)
    }

    /// Records an account change in the audit trail.
    pub(crate) async fn audit(&self, event: Event) {
        audit::record(&self.db, &self.clock, event).await;
    }

    pub async fn find_user(&self, username: &str) -> Result<User, AccountError> {
        // Only a well-formed name reaches the database (PostgreSQL refuses a NUL byte in
        // text): every stored name is one.
        if Username::parse(username).is_err() {
            return Err(AccountError::NotFound(format!("user {username:?}")));
        }
        let name = username.to_string();
        self.db
            .run(move |conn| repo::users::find_by_username(conn, &name))
            .await?
            .ok_or_else(|| AccountError::NotFound(format!("user {username}")))
    }

    /// One page of users by username (see [`crate::paging`]).
    pub async fn list_users(&self, request: ListRequest) -> Result<Page<User>, AccountError> {
        let query = request.check().map_err(AccountError::Invalid)?;
        let limit = query.limit;
        let rows = self
            .db
            .run(move |conn| repo::users::page(conn, &query))
            .await?;
        Ok(Page::from_rows(rows, limit, |u| u.username.clone()))
    }

    /// Disabling a user ends their refresh families and their sessions.
    pub async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        last_admin: LastAdmin,
    ) -> Result<User, AccountError> {
        let user = self.find_user(username).await?;
        let id = user.id.clone();
        let now = self.clock.now();
        self.db
            .write(move |conn| {
                if disabled && last_admin == LastAdmin::Keep {
                    keep_an_admin(conn, &id)?;
                }
                repo::users::set_disabled(conn, &id, disabled, now)?;
                if disabled {
                    repo::refresh::revoke_user_families(conn, &id, "user disabled", now)?;
                    crate::sso::backchannel::end_user_sessions(conn, &id, now)?;
                    repo::resets::void_user_resets(conn, &id, now)?;
                }
                Ok::<_, AccountError>(())
            })
            .await?;
        self.outbox.wake();
        let kind = if disabled {
            Kind::UserDisabled
        } else {
            Kind::UserEnabled
        };
        self.audit(Event::success(kind, username)).await;
        self.find_user(username).await
    }

    pub async fn delete_user(
        &self,
        username: &str,
        last_admin: LastAdmin,
    ) -> Result<(), AccountError> {
        let user = self.find_user(username).await?;
        let now = self.clock.now();
        self.db
            .write(move |conn| {
                if last_admin == LastAdmin::Keep {
                    keep_an_admin(conn, &user.id)?;
                }
                // Ended (and notified) before the rows go with the user.
                crate::sso::backchannel::end_user_sessions(conn, &user.id, now)?;
                repo::users::delete(conn, &user.id)?;
                Ok::<_, AccountError>(())
            })
            .await?;
        self.outbox.wake();
        self.audit(Event::success(Kind::UserDeleted, username))
            .await;
        Ok(())
    }

    /// A new password ends every refresh family, every session and every reset link of the
    /// user.
    pub async fn set_password(
        &self,
        username: &str,
        password: Password,
    ) -> Result<(), AccountError> {
        let user = self.find_user(username).await?;
        self.check_new_password(&password)?;
        let hash = self.hasher.hash(password).await?;
        let now = self.clock.now();
        self.db
            .write(move |conn| {
                repo::users::set_password_hash(conn, &user.id, &hash, now)?;
                repo::refresh::revoke_user_families(conn, &user.id, "password changed", now)?;
                crate::sso::backchannel::end_user_sessions(conn, &user.id, now)?;
                repo::resets::void_user_resets(conn, &user.id, now)?;
                Ok::<_, DbError>(())
            })
            .await?;
        self.outbox.wake();
        self.audit(Event::success(Kind::UserPasswordChanged, username))
            .await;
        Ok(())
    }

    /// Checks a username and password. An unknown, disabled or malformed user costs one
    /// hash like a wrong password and fails the same way.
    pub async fn check_password(
        &self,
        username: &str,
        password: Password,
    ) -> Result<User, LoginError> {
        let user = match Username::parse(username) {
            Ok(name) => {
                self.db
                    .run(move |conn| repo::users::find_by_username(conn, name.as_str()))
                    .await?
            }
            Err(_) => None,
        };
        let pw = password.clone();
        let verified = self
            .hasher
            .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
            .await?;
        let user = match user {
            Some(u) if verified.ok && !u.disabled => u,
            other => {
                return Err(LoginError::BadCredentials {
                    account: other.map(|u| u.username),
                })
            }
        };
        if verified.needs_rehash {
            // Upgrade old parameters now that we hold the password; a failure only logs.
            let (accounts, id, old) = (self.clone(), user.id.clone(), user.password_hash.clone());
            tokio::spawn(async move {
                if let Ok(hash) = accounts.hasher.hash(pw).await {
                    let now = accounts.clock.now();
                    if let Err(e) = accounts
                        .db
                        .write(move |conn| {
                            repo::users::upgrade_password_hash(conn, &id, &old, &hash, now)
                        })
                        .await
                    {
                        tracing::warn!(error = %e, "could not store the upgraded password hash");
                    }
                }
            });
        }
        Ok(user)
    }
}
