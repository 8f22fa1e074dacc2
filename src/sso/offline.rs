//! A user's offline access: the refresh-token families an application holds (`offline_access`
//! and the password grants), which outlive a logout as OpenID Connect Core §11 intends, so
//! the sessions lists show them apart. The user (account page) or an admin (API, CLI) ends
//! one; each end is audited.

use super::sessions::SessionError;
use super::Sso;
use crate::audit::{self, Event, Kind};
use crate::db::repo;

/// One application's live refresh family.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OfflineGrant {
    /// The family's id: what revoking names.
    pub id: String,
    pub client_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Sso {
    /// The user's live refresh families, newest first.
    pub async fn offline_grants(&self, username: &str) -> Result<Vec<OfflineGrant>, SessionError> {
        let name = username.to_string();
        let now = self.clock.now();
        self.db
            .run(move |conn| {
                let user = repo::users::find_by_username(conn, &name)?
                    .ok_or(SessionError::UnknownUser(name))?;
                let families = repo::refresh::live_families_of_user(conn, &user.id, now)?;
                Ok(families
                    .into_iter()
                    .map(|f| OfflineGrant {
                        id: f.id,
                        client_id: f.client_id,
                        created_at: f.created_at,
                        expires_at: f.expires_at,
                    })
                    .collect())
            })
            .await
    }

    /// Revokes one live family of the user (its refresh tokens and the access tokens issued
    /// with them stop working); a family that is not theirs or not live is `UnknownSession`.
    pub async fn revoke_offline_grant(&self, username: &str, id: &str) -> Result<(), SessionError> {
        let (name, id) = (username.to_string(), id.to_string());
        let now = self.clock.now();
        let ctx = audit::current_context();
        self.db
            .write(move |conn| {
                let user = repo::users::find_by_username(conn, &name)?
                    .ok_or_else(|| SessionError::UnknownUser(name.clone()))?;
                let family = repo::refresh::find_family(conn, &id)?;
                if !repo::refresh::revoke_family_of_user(
                    conn,
                    &id,
                    &user.id,
                    "offline access revoked",
                    now,
                )? {
                    return Err(SessionError::UnknownSession);
                }
                let client = family.map(|f| f.client_id).unwrap_or_default();
                let event = Event::success(Kind::OfflineAccessRevoked, &name)
                    .detail(format!("client {client}"));
                audit::record_in(conn, &ctx, now, event)?;
                Ok(())
            })
            .await
    }
}
