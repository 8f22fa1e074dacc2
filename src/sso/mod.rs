//! Browser single sign-on: the authorization request, PKCE, sessions, codes, id_tokens,
//! sign-in, consent and logout. Knows nothing of HTTP: [`Sso`] is what its use cases need.

pub mod authorize;
pub mod backchannel;
pub mod code;
pub mod flow;
pub mod id_token;
pub mod logout;
pub mod offline;
pub mod pkce;
pub mod session;
pub mod sessions;
pub mod step_up;
pub mod user_agent;
pub mod userinfo;

use crate::clock::Clock;
use crate::db::Db;

/// What the single sign-on use cases need: the pool, the clock and their settings.
#[derive(Clone)]
pub struct Sso {
    pub db: Db,
    pub clock: Clock,
    pub issuer: String,
    pub session_ttl: i64,
    pub code_ttl: i64,
    /// `MFA_FOR_ADMINS`: every admin signs in with a second factor.
    pub mfa_for_admins: bool,
    /// Wakes the delivery of the logout notifications an ended session writes.
    pub outbox: crate::outbox::Waker,
}

/// The settings single sign-on reads, lifetimes in seconds (built in start-up,
/// `policies::sso_policy`).
#[derive(Debug, Clone)]
pub struct SsoPolicy {
    pub issuer: String,
    pub session_ttl: i64,
    pub code_ttl: i64,
    pub mfa_for_admins: bool,
}

impl Sso {
    pub fn new(db: Db, clock: Clock, policy: SsoPolicy) -> Sso {
        Sso {
            db,
            clock,
            issuer: policy.issuer,
            session_ttl: policy.session_ttl,
            code_ttl: policy.code_ttl,
            mfa_for_admins: policy.mfa_for_admins,
            outbox: crate::outbox::Waker::default(),
        }
    }
}
