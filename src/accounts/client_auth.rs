//! Client authentication (RFC 6749 §2.3.1) for `/token`, `/revoke` and `/introspect`: the
//! presented secret checked against the stored digest in constant time, and the guessing of
//! secrets throttled in windows of its own (RFC 6819 §5.2.3.7).

use subtle::ConstantTimeEq;

use super::clients::Client;
use super::login_guard::{addr_bucket, full_window, LoginGuard};
use super::Accounts;
use crate::audit::{self, Event, Kind};
use crate::db::repo::throttle::Outcome;
use crate::db::{repo, DbError};
use crate::digest::digest_hex;
use crate::domain::ClientId;
use crate::error::Internal;

/// Constant-time check of a presented secret against the stored digest.
pub fn secret_matches(presented: &str, stored_digest: Option<&str>) -> bool {
    let presented = digest_hex(presented);
    match stored_digest {
        Some(stored) => presented.as_bytes().ct_eq(stored.as_bytes()).into(),
        None => false,
    }
}

/// Why a client is not authenticated: one answer for an unknown client, a wrong secret and
/// a disabled client.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error("client authentication failed")]
    Failed,
    /// Too many wrong secrets from this address (see `LoginGuard::check_client_secret`); the
    /// seconds to wait.
    #[error("too many failed client authentications")]
    Throttled(i64),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl Accounts {
    /// A confidential client with its secret, or a public client by id alone (RFC 6749
    /// §2.3.1). An unknown client costs the same digest work as a wrong secret.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<Client, ClientAuthError> {
        // Only a well-formed id reaches the database (PostgreSQL refuses a NUL byte in text).
        if ClientId::parse_stored(client_id).is_err() {
            return Err(ClientAuthError::Failed);
        }
        let lookup = client_id.to_string();
        let client = self
            .db
            .run(move |conn| repo::clients::find(conn, &lookup))
            .await
            .map_err(Internal::from)?;
        judge_client(client, secret)
    }
}

/// Whether the client found by the presented id (`None`: no such client) authenticates with
/// `secret`. An unknown client costs the same digest work as a wrong secret.
pub fn judge_client(
    client: Option<Client>,
    secret: Option<&str>,
) -> Result<Client, ClientAuthError> {
    let authenticated = match (&client, secret) {
        (Some(c), Some(s)) => !c.public && secret_matches(s, c.secret_hash.as_deref()),
        (Some(c), None) => c.public,
        (None, Some(s)) => secret_matches(s, None),
        (None, None) => false,
    };
    match client {
        Some(c) if authenticated && !c.disabled => Ok(c),
        _ => Err(ClientAuthError::Failed),
    }
}

impl LoginGuard {
    /// Checks a client's secret under windows like those of passwords (RFC 6819 §5.2.3.7:
    /// guessing client credentials is throttled too): per client and client address (with the
    /// per-username limit), and per address (with the per-address limit). Keyed by client and
    /// address rather than by client alone, because client ids are public (they are in every
    /// authorization URL): a window per client would let anyone lock a client out. The windows
    /// are apart from the password windows, so a misconfigured backend never throttles the
    /// sign-ins of the people behind the same address. An unknown client goes through the same
    /// windows and the same digest as a wrong secret, so neither answer nor timing tells them
    /// apart. A bare `client_id` (a public client) guesses nothing and takes no window.
    pub async fn check_client_secret(
        &self,
        client_id: &str,
        secret: Option<&str>,
        client_addr: &str,
    ) -> Result<Client, ClientAuthError> {
        // No secret (a public client), or an id no client can have: nobody's secret is being
        // guessed, so no window is spent on it.
        let Some(secret) = secret.filter(|_| ClientId::parse_stored(client_id).is_ok()) else {
            return self.accounts.authenticate_client(client_id, secret).await;
        };
        let buckets = [
            (
                client_bucket(client_id, client_addr),
                self.limits.per_username,
            ),
            (client_addr_bucket(client_addr), self.limits.per_address),
        ];
        // Unlike a password, a secret is checked in microseconds (a digest compare), so it
        // is checked first: a right one only reads the windows (no write on the hot path of
        // every confidential client), and only a wrong one reserves and records a failure.
        // The reservation is atomic, so parallel wrong guesses still cannot overshoot.
        // The client and its windows are read in one trip to a blocking thread.
        let now = self.accounts.clock.now();
        let (lookup, windows) = (client_id.to_string(), buckets.clone());
        let (client, full) = self
            .accounts
            .db
            .run(move |conn| {
                let client = repo::clients::find(conn, &lookup)?;
                Ok::<_, DbError>((client, full_window(conn, &windows, now)?))
            })
            .await
            .map_err(Internal::from)?;
        let checked = judge_client(client, Some(secret));
        // `judge_client` fails only with `Failed`: the database errors ended above.
        let refused = match &checked {
            Ok(_) => full,
            Err(_) => {
                let reserved = self
                    .reserve_waiting(&buckets)
                    .await
                    .map_err(Internal::from)?;
                if reserved.is_ok() {
                    self.resolve(&buckets, [Outcome::Failed, Outcome::Failed])
                        .await
                        .map_err(Internal::from)?;
                    self.metrics.login_failed(CLIENT_SECRET);
                }
                reserved.err()
            }
        };
        if let Some(wait) = refused {
            self.metrics.login_throttled(CLIENT_SECRET);
            let event = Event {
                kind: Kind::SignInThrottled,
                outcome: audit::Outcome::Failure,
                subject: None,
                detail: Some(CLIENT_SECRET.into()),
            };
            audit::record(&self.accounts.db, &self.accounts.clock, event).await;
            return Err(ClientAuthError::Throttled(wait));
        }
        checked
    }
}

/// The label of client-secret checks in the metrics and the audit trail.
const CLIENT_SECRET: &str = "client_secret";

/// A client's window at one address (see [`LoginGuard::check_client_secret`]), keyed by a
/// digest like the username's.
pub fn client_bucket(client_id: &str, addr: &str) -> String {
    let key = format!(
        "{}\n{}",
        client_id.chars().take(200).collect::<String>(),
        addr_bucket(addr)
    );
    format!("client:{}", digest_hex(&key))
}

/// The address's window for client secrets, apart from its window for passwords.
pub fn client_addr_bucket(addr: &str) -> String {
    format!("client-{}", addr_bucket(addr))
}
