//! Browser single sign-on: the authorization request, PKCE, sessions, codes, id_tokens,
//! sign-in, consent and logout. Knows nothing of HTTP: [`Sso`] is what its use cases need.

pub mod authorize;
pub mod backchannel;
pub mod code;
pub mod flow;
pub mod id_token;
pub mod logout;
pub mod pkce;
pub mod session;
pub mod sessions;
pub mod userinfo;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;

/// What the single sign-on use cases need: the pool, the clock and their settings.
#[derive(Clone)]
pub struct Sso {
    pub db: Db,
    pub clock: Clock,
    pub issuer: String,
    pub session_ttl: i64,
    pub code_ttl: i64,
    /// Wakes the delivery of the logout notifications an ended session writes.
    pub outbox: crate::outbox::Waker,
}

impl Sso {
    pub fn new(db: Db, clock: Clock, settings: &Settings) -> Sso {
        Sso {
            db,
            clock,
            issuer: settings.issuer.clone(),
            session_ttl: settings.session_ttl.as_secs() as i64,
            code_ttl: settings.code_ttl.as_secs() as i64,
            outbox: crate::outbox::Waker::default(),
        }
    }
}
