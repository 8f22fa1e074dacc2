//! The attacker's suite (issue 13): hostile tokens made with the server's own signing key
//! (`tokens`), protocol attacks on the browser and token flows (`protocol`). Each test names
//! the defence it proves; what they share lives here: the server's private key read back the
//! way a thief with the database and the master key would, raw signing of any header and
//! payload bytes, a snapshot of what is stored, and an attacker's JWKS server that counts
//! the requests it gets.

mod algs;
mod protocol;
mod tokens;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use diesel::prelude::*;
use gatehouse::db::{schema, DbError};

use crate::helpers::{b64url, TestApp};

/// A signing key with its `kid`, able to sign any header and payload bytes as RS256.
pub(crate) struct RawSigner {
    pub kid: String,
    key: jsonwebtoken::EncodingKey,
}

impl RawSigner {
    /// A compact JWS over the given header and payload JSON texts, taken byte for byte (so
    /// duplicate members, odd numbers and deep nesting survive).
    pub fn sign_raw(&self, header: &str, payload: &str) -> String {
        let message = format!(
            "{}.{}",
            b64url(header.as_bytes()),
            b64url(payload.as_bytes())
        );
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &self.key,
            jsonwebtoken::Algorithm::RS256,
        )
        .expect("sign");
        format!("{message}.{signature}")
    }

    /// A header as the server writes it, plus `extra` members.
    pub fn header(&self, typ: &str, extra: serde_json::Value) -> String {
        let mut header = serde_json::json!({ "alg": "RS256", "typ": typ, "kid": self.kid });
        for (k, v) in extra.as_object().expect("object") {
            header[k] = v.clone();
        }
        header.to_string()
    }
}

/// The server's current signing key, unsealed from the database with the master key.
pub(crate) async fn server_signing_key(app: &TestApp) -> RawSigner {
    let keys = app.state.tokens.keys.clone();
    let kid = keys
        .snapshot()
        .signer(gatehouse::keys::Alg::Rs256)
        .expect("a current key")
        .kid
        .clone();
    let lookup = kid.clone();
    let (sealed, master_id) = app
        .state
        .tokens
        .db
        .run(move |conn| gatehouse::db::repo::keys::sealed_private(conn, &lookup))
        .await
        .expect("read sealed key")
        .expect("the current key is stored");
    let der = keys
        .master()
        .open(&master_id, &sealed, kid.as_bytes())
        .expect("unseal with the master key");
    RawSigner {
        kid,
        key: jsonwebtoken::EncodingKey::from_rsa_der(&der),
    }
}

/// A fresh RSA key that is not the server's, with its public JWK.
pub(crate) fn attacker_key() -> (RawSigner, serde_json::Value) {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("rsa key");
    let der = key.to_pkcs1_der().expect("der");
    let jwk = serde_json::json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "attacker",
        "n": b64url(&key.n().to_bytes_be()), "e": b64url(&key.e().to_bytes_be()),
    });
    let signer = RawSigner {
        kid: "attacker".into(),
        key: jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
    };
    (signer, jwk)
}

/// Row counts (and the counts of rows in a changed state) of every table a token could
/// change: users, clients, keys, refresh families and tokens, revocations, sessions, codes,
/// consents and the audit trail.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Snapshot(Vec<(&'static str, i64)>);

pub(crate) async fn snapshot(app: &TestApp) -> Snapshot {
    app.state
        .db
        .run(|conn| {
            use schema::*;
            let c = |r: QueryResult<i64>| r.map_err(DbError::from_diesel);
            Ok::<_, DbError>(Snapshot(vec![
                ("users", c(users::table.count().get_result(conn))?),
                (
                    "users disabled",
                    c(users::table
                        .filter(users::disabled.eq(true))
                        .count()
                        .get_result(conn))?,
                ),
                ("clients", c(clients::table.count().get_result(conn))?),
                ("keys", c(signing_keys::table.count().get_result(conn))?),
                (
                    "families",
                    c(refresh_families::table.count().get_result(conn))?,
                ),
                (
                    "families revoked",
                    c(refresh_families::table
                        .filter(refresh_families::revoked_at.is_not_null())
                        .count()
                        .get_result(conn))?,
                ),
                (
                    "refresh tokens",
                    c(refresh_tokens::table.count().get_result(conn))?,
                ),
                (
                    "refresh tokens spent",
                    c(refresh_tokens::table
                        .filter(refresh_tokens::spent_at.is_not_null())
                        .count()
                        .get_result(conn))?,
                ),
                (
                    "revoked access tokens",
                    c(revoked_access_tokens::table.count().get_result(conn))?,
                ),
                ("sessions", c(sessions::table.count().get_result(conn))?),
                (
                    "sessions ended",
                    c(sessions::table
                        .filter(sessions::ended_at.is_not_null())
                        .count()
                        .get_result(conn))?,
                ),
                ("codes", c(auth_codes::table.count().get_result(conn))?),
                ("consents", c(consents::table.count().get_result(conn))?),
                (
                    "audit events",
                    c(audit_log::table.count().get_result(conn))?,
                ),
            ]))
        })
        .await
        .expect("snapshot")
}

/// An attacker's web server on loopback: answers every request with its JWKS (or anything)
/// and counts the connections it accepted. A token pointing at it must never make the server
/// under test call it.
pub(crate) struct AttackerServer {
    pub base: String,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl AttackerServer {
    pub async fn start(body: String) -> AttackerServer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        AttackerServer { base, hits, task }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for AttackerServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
