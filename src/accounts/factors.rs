//! A user's second factors as an operator sees and resets them (the CLI, the admin API, the
//! console): what is set up, never a secret, and removal of all of it, audited; and the
//! policy that requires one, of a user or of everyone signing in to a client.

use super::clients::{refuse_managed, Client};
use super::{AccountError, Accounts, User};
use crate::audit::{Event, Kind};
use crate::db::repo;

/// What a user has set up; no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorSummary {
    /// When the authenticator app was confirmed.
    pub totp_since: Option<i64>,
    /// An enrolment started and not confirmed.
    pub totp_pending: bool,
    pub recovery_codes_left: i64,
}

impl Accounts {
    pub async fn user_factors(&self, username: &str) -> Result<FactorSummary, AccountError> {
        let user = self.find_user(username).await?;
        Ok(self
            .db
            .run(move |conn| {
                let row = repo::factors::find_totp(conn, &user.id)?;
                let left = repo::factors::unused_recovery_codes(conn, &user.id)?;
                Ok::<_, crate::db::DbError>(FactorSummary {
                    totp_since: row.as_ref().and_then(|r| r.confirmed_at),
                    totp_pending: row.is_some_and(|r| r.confirmed_at.is_none()),
                    recovery_codes_left: left,
                })
            })
            .await?)
    }

    /// Removes the user's authenticator app and recovery codes (a lost phone and lost
    /// codes); the password alone signs them in again until they enrol anew.
    pub async fn remove_user_factors(&self, username: &str) -> Result<bool, AccountError> {
        let user = self.find_user(username).await?;
        let id = user.id.clone();
        let removed = self
            .db
            .write(move |conn| repo::factors::remove_all(conn, &id))
            .await?;
        if removed {
            self.audit(Event::success(Kind::MfaRemoved, username).detail("totp, by an operator"))
                .await;
        }
        Ok(removed)
    }
}

impl Accounts {
    /// Requires (or no longer requires) a second factor of a user: one without sets it up
    /// at their next browser sign-in, before going on.
    pub async fn set_user_require_mfa(
        &self,
        username: &str,
        required: bool,
    ) -> Result<User, AccountError> {
        let user = self.find_user(username).await?;
        let (id, now) = (user.id.clone(), self.clock.now());
        self.db
            .write(move |conn| repo::users::set_require_mfa(conn, &id, required, now))
            .await?;
        let detail = if required { "required" } else { "not required" };
        self.audit(Event::success(Kind::UserMfaPolicy, username).detail(detail))
            .await;
        self.find_user(username).await
    }

    /// Requires (or no longer requires) a second factor of everyone signing in to a client.
    /// A client of `CLIENTS_FILE` changes only through the file (`require_mfa`).
    pub async fn set_client_require_mfa(
        &self,
        id: &str,
        required: bool,
    ) -> Result<Client, AccountError> {
        refuse_managed(&self.find_client(id).await?)?;
        let key = id.to_string();
        self.db
            .write(move |conn| repo::clients::set_require_mfa(conn, &key, required))
            .await?;
        let detail = if required {
            "require_mfa on"
        } else {
            "require_mfa off"
        };
        self.audit(Event::success(Kind::ClientUpdated, id).detail(detail))
            .await;
        self.find_client(id).await
    }
}
