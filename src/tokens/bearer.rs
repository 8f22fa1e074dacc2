//! RFC 6750 bearer authentication, without HTTP: a live access token (see [`super::live`])
//! and the user it names.

use super::claims::AccessClaims;
use super::live::NotLive;
use super::Tokens;
use crate::assurance::{Level, ACR_MFA};
use crate::db::repo::users::User;
use crate::db::{repo, DbError};
use crate::error::Internal;

/// A verified access token and the user it names (none for client_credentials tokens).
pub struct Authenticated {
    pub claims: AccessClaims,
    pub user: Option<User>,
}

/// Why a bearer token does not authenticate; the description is ours, never the token.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// No token at all (RFC 6750 §3.1: a bare challenge).
    #[error("a bearer access token is required")]
    Missing,
    /// Invalid, revoked, or of a user or client that is disabled or gone.
    #[error(transparent)]
    NotLive(#[from] NotLive),
    /// A client_credentials token where a user is needed.
    #[error("the token has no user (client_credentials)")]
    NoUser,
    /// A valid token without the admin rights asked for (403).
    #[error("an admin user's token with scope admin is required")]
    NotAdmin,
    /// RFC 9470: the sign-in behind the token is below what a policy requires of its user
    /// (`MFA_FOR_ADMINS`, `user require-mfa`): sign in again with a second factor.
    #[error("this needs a sign-in with a second factor: ask for acr_values {ACR_MFA}")]
    InsufficientUserAuthentication,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<DbError> for BearerError {
    fn from(e: DbError) -> Self {
        BearerError::Internal(e.into())
    }
}

impl Tokens {
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Authenticated, BearerError> {
        let token = token.ok_or(BearerError::Missing)?;
        let claims = self
            .verify_access(token)
            .map_err(|e| BearerError::NotLive(NotLive::Invalid(e)))?;
        let is_user = claims.user_id.is_some();
        let sub = claims.sub.clone();
        // The user's row (for its claims and rights) is read beside the liveness check.
        let user = async {
            if !is_user {
                return Ok(None);
            }
            self.db
                .run(move |conn| repo::users::find_by_id(conn, &sub))
                .await
        };
        let (state, user) = tokio::try_join!(self.access_state(&claims), user)?;
        state?;
        // Read at about the moment of the liveness state: gone or disabled in between
        // refuses too.
        let user = user.filter(|u| !u.disabled);
        if is_user && user.is_none() {
            return Err(NotLive::UserGone.into());
        }
        Ok(Authenticated { claims, user })
    }
}

impl Authenticated {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.claims.scope.split(' ').any(|s| s == scope)
    }

    /// The token's user; a client_credentials token has none.
    pub fn user(&self) -> Result<&User, BearerError> {
        self.user.as_ref().ok_or(BearerError::NoUser)
    }

    /// A token whose sign-in meets the policy of its user: with `mfa_for_admins` an admin's,
    /// and a user's who must have one (`user require-mfa`), carry the multi-factor `acr`.
    /// A token without an `acr` (issued before tokens carried one) does not.
    pub fn require_assurance(&self, mfa_for_admins: bool) -> Result<(), BearerError> {
        let Some(user) = &self.user else {
            return Ok(());
        };
        let required = crate::assurance::mfa_required_by_policy(
            user.require_mfa,
            user.is_admin,
            mfa_for_admins,
            false,
        );
        if required && self.claims.level() < Some(Level::MultiFactor) {
            return Err(BearerError::InsufficientUserAuthentication);
        }
        Ok(())
    }

    /// An enabled admin user's token carrying scope `admin`.
    pub fn require_admin(&self) -> Result<(), BearerError> {
        let is_admin = self.user.as_ref().is_some_and(|u| u.is_admin);
        if self.has_scope("admin") && is_admin {
            Ok(())
        } else {
            Err(BearerError::NotAdmin)
        }
    }
}
