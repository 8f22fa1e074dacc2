//! What every request handler shares: the settings, the clock, the metrics and one context
//! per group of use cases. All of it is cheap to clone; the only mutable state in memory is
//! the key set, rebuilt from the database.

use std::sync::Arc;

use crate::accounts::login_guard::LoginGuard;
use crate::accounts::Accounts;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::keys::manager::Keys;
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::sso::Sso;
use crate::tokens::Tokens;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// The pool, for the readiness probe and the pool gauges only: use cases reach the
    /// database through their contexts.
    pub db: Db,
    pub accounts: Accounts,
    pub guard: LoginGuard,
    pub keys: Keys,
    pub tokens: Tokens,
    pub sso: Sso,
    /// Outgoing messages: the console's list, and the waker of the delivery task.
    pub outbox: Outbox,
    /// The discovery document, serialised once.
    pub discovery: bytes::Bytes,
    /// The OpenAPI document, serialised once.
    pub openapi: bytes::Bytes,
}
