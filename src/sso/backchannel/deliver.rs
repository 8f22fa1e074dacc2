//! The deliverer of back-channel logout notifications: a POST of `logout_token=<JWT>` to the
//! URI the client registered, and nowhere else. Short connect and total timeouts, redirects
//! not followed, no proxy, no cookies, at most [`BODY_LIMIT`] bytes of the answer read.
//! A 2xx delivers; a 5xx, 408, 429, 3xx, timeout or unreachable host is tried again; any
//! other answer is a refusal that retrying will not change.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::token::{self, LogoutClaims};
use super::Notice;
use crate::clock::Clock;
use crate::db::{repo, Db};
use crate::keys::store::KeyStore;
use crate::outbox::{Deliverer, Delivery, Message};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer's body read (then the connection is dropped).
pub const BODY_LIMIT: usize = 4 * 1024;

pub struct BackchannelDeliverer {
    http: reqwest::Client,
    keys: Arc<KeyStore>,
    db: Db,
    clock: Clock,
    issuer: String,
}

impl BackchannelDeliverer {
    pub fn new(
        keys: Arc<KeyStore>,
        db: Db,
        clock: Clock,
        issuer: String,
    ) -> anyhow::Result<BackchannelDeliverer> {
        // rustls on aws-lc-rs; another part of the process may have installed it already.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent("Gatehouse back-channel logout")
            .build()?;
        Ok(BackchannelDeliverer {
            http,
            keys,
            db,
            clock,
            issuer,
        })
    }

    async fn attempt(&self, message: &Message) -> Delivery {
        let Ok(notice) = serde_json::from_str::<Notice>(&message.payload) else {
            return Delivery::Reject("malformed notification".into());
        };
        // Only to the URI the client has registered now: a URI removed or changed since the
        // session ended is not called.
        let client_id = notice.client_id.clone();
        let registered = self
            .db
            .run(move |conn| {
                let endpoints = repo::logout::endpoints(conn, &client_id)?;
                let client = repo::clients::find(conn, &client_id)?;
                Ok::<_, crate::db::DbError>(endpoints.zip(client))
            })
            .await;
        // Logout tokens are signed like the client's id_tokens (its algorithm).
        let alg = match registered {
            Ok(Some((e, client)))
                if e.backchannel_logout_uri.as_deref() == Some(&message.destination) =>
            {
                client.id_token_alg
            }
            Ok(_) => return Delivery::Reject("the client no longer registers this URI".into()),
            Err(_) => return Delivery::Retry("database unavailable".into()),
        };
        let keys = self.keys.snapshot();
        let Some(signer) = keys.signer(alg) else {
            return Delivery::Retry("no signing key".into());
        };
        let claims = LogoutClaims::new(&self.issuer, &notice, self.clock.now());
        let Ok(jwt) = token::sign(signer, &claims) else {
            return Delivery::Retry("signing failed".into());
        };
        let sent = self
            .http
            .post(&message.destination)
            .form(&[("logout_token", jwt.as_str())])
            .send()
            .await;
        let mut answer = match sent {
            Ok(answer) => answer,
            Err(e) if e.is_timeout() => return Delivery::Retry("timed out".into()),
            Err(e) if e.is_connect() => return Delivery::Retry("cannot connect".into()),
            Err(_) => return Delivery::Retry("request failed".into()),
        };
        let status = answer.status();
        // Read a little of the body (some servers expect it read), never more.
        let mut read = 0;
        while read < BODY_LIMIT {
            match answer.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        let code = status.as_u16();
        match code {
            200..=299 => Delivery::Delivered,
            300..=399 | 408 | 429 | 500..=599 => Delivery::Retry(format!("answered {code}")),
            _ => Delivery::Reject(format!("answered {code}")),
        }
    }
}

impl Deliverer for BackchannelDeliverer {
    fn deliver<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(self.attempt(message))
    }
}
