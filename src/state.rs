//! What every request handler shares. All of it is cheap to clone; the only mutable state
//! in memory is the key set, rebuilt from the database.

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::keys::manager::Keys;
use crate::keys::store::KeySet;
use crate::metrics::Metrics;
use crate::passwords::Hasher;
use crate::tokens::verify::Verifier;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub keys: Keys,
    pub hasher: Hasher,
    pub accounts: Accounts,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// The discovery document, serialised once.
    pub discovery: actix_web::web::Bytes,
}

impl AppState {
    /// A verifier over one key-set snapshot, at `now`.
    pub fn verifier<'a>(&'a self, keys: &'a KeySet, now: i64) -> Verifier<'a> {
        Verifier {
            keys,
            issuer: &self.settings.issuer,
            leeway_secs: self.settings.leeway.as_secs() as i64,
            now,
        }
    }
}
