//! Whether a live session is strong enough for what is asked of it (OIDC Core §3.1.2.1
//! `acr_values`, and the policy that requires a second factor), and what to do when it is
//! not: step up (ask for the user's second factor, raising the session in place), send the
//! user to enrol one (when a policy requires it), or tell the client its request cannot be
//! met (`unmet_authentication_requirements`, OpenID Connect Unmet Authentication
//! Requirements 1.0: `acr_values` asked for a factor the user does not have; `acr` is a
//! voluntary claim, so no one is made to enrol by a client's request alone).

use super::session::{self, Session};
use super::Sso;
use crate::assurance::Level;
use crate::db::repo;
use crate::db::repo::users::User;
use crate::error::Internal;

/// What a session lacks, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assurance {
    /// The session's sign-in meets what is asked.
    Enough,
    /// The user has a second factor the session has not seen: ask for it.
    StepUp,
    /// A policy requires a second factor and the user has none: enrol first.
    Enrol,
    /// The request asked for a second factor the user does not have.
    Unmet,
}

/// What is asked of a session: the level a request asks for (`acr_values`), and whether a
/// policy requires a second factor (the user's, the client's, or `MFA_FOR_ADMINS`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Required {
    pub requested: Option<Level>,
    pub by_policy: bool,
}

impl Required {
    fn level(self) -> Level {
        let policy = self.by_policy.then_some(Level::MultiFactor);
        self.requested.max(policy).unwrap_or(Level::Password)
    }
}

impl Sso {
    /// Whether a policy requires a second factor of `user` (for a client that requires one,
    /// pass `client_requires`).
    pub fn policy_requires_mfa(&self, user: &User, client_requires: bool) -> bool {
        crate::assurance::mfa_required_by_policy(
            user.require_mfa,
            user.is_admin,
            self.mfa_for_admins,
            client_requires,
        )
    }

    /// What `session` of `user` lacks for `required`.
    pub async fn assurance(
        &self,
        session: &Session,
        user: &User,
        required: Required,
    ) -> Result<Assurance, Internal> {
        if session::authentication(session).level >= required.level() {
            return Ok(Assurance::Enough);
        }
        let id = user.id.clone();
        let has_factor = self
            .db
            .run(move |conn| repo::factors::has_second_factor(conn, &id))
            .await?;
        Ok(match (has_factor, required.by_policy) {
            (true, _) => Assurance::StepUp,
            (false, true) => Assurance::Enrol,
            (false, false) => Assurance::Unmet,
        })
    }
}
