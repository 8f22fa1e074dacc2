//! `gatehouse master-key rotate` with a key line per algorithm (issue 26): the ES256 and
//! EdDSA private keys are re-sealed beside the RS256 ones; a server on the new master key
//! serves the same JWKS, signs with the same kid of each algorithm, still verifies the
//! tokens issued before, and, after two key rotations of every line, has signed with each
//! former `next` and `standby` key (re-sealed while it waited), the tokens of the first
//! verifying with the JWKS published before the master key rotation.

use std::collections::BTreeMap;

use gatehouse::db::repo;
use gatehouse::keys::encryption::MasterKey;
use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{
    password_grant, peek, run_cli_env, spawn_app_with, status_json, verify_with_jwks, Backend,
    ServerProcess,
};

both_backends!(master_key_rotate_reseals_es256_and_eddsa_keys_and_every_key_still_signs);

const PASSWORD: &str = "correct horse battery staple";
const ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];
const ALL: (&str, &str) = ("GATEHOUSE_SIGNING_ALGS", "RS256,ES256,EdDSA");

/// The access token of alice from `client`'s password grant at `base`.
async fn access_token(http: &reqwest::Client, base: &str, client: &str, secret: &str) -> String {
    let resp = password_grant(http, base, client, secret, "alice", PASSWORD, "openid").await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{client} at {base}: {body}");
    body["access_token"].as_str().expect("access").to_string()
}

fn kid(token: &str) -> String {
    peek(token).0["kid"].as_str().expect("kid").to_string()
}

async fn verify_status(http: &reqwest::Client, server: &ServerProcess, token: &str) -> u16 {
    http.post(server.url("/api/token/verify/"))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await
        .expect("verify")
        .status()
        .as_u16()
}

async fn master_key_rotate_reseals_es256_and_eddsa_keys_and_every_key_still_signs(
    backend: Backend,
) {
    let Some(app) = spawn_app_with(backend, |a| a.signing_algs = Some(ALL.1.into())).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    // One client per algorithm, its access and id tokens signed with it.
    let mut secrets = BTreeMap::new();
    let mut before = BTreeMap::new();
    for alg in ALGS {
        let id = format!("c-{}", alg.to_lowercase());
        let secret = app
            .add_client(&[
                &id,
                "--grant",
                "password",
                "--scope",
                "openid",
                "--access-token-alg",
                alg,
                "--id-token-alg",
                alg,
            ])
            .await
            .expect("confidential");
        let token = access_token(&app.http, &app.address, &id, &secret).await;
        assert_eq!(peek(&token).0["alg"], alg);
        before.insert(alg, token);
        secrets.insert(alg, (id, secret));
    }
    let jwks_before = app.jwks().await;
    let path = app.storage.master_key_file();
    let old = std::fs::read_to_string(&path)
        .expect("key")
        .trim()
        .to_string();
    let old_key = MasterKey::from_base64(&old).expect("old key");
    let sealed = || async {
        let mut rows = app
            .state
            .keys
            .db
            .run(repo::keys::all_sealed)
            .await
            .expect("sealed keys");
        rows.sort();
        rows
    };
    let rows_before = sealed().await;
    // A current, a next and a standby key for each algorithm, all under the old master key.
    let kids: Vec<&str> = rows_before.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(kids.len(), 3 * ALGS.len(), "{kids:?}");
    assert!(rows_before.iter().all(|(_, _, id)| id == old_key.id()));

    let out = run_cli_env(&app.storage, &["master-key", "rotate"], "", &[ALL]).await;
    assert!(out.status.success(), "rotate failed: {}", out.stderr);
    let new = std::fs::read_to_string(&path)
        .expect("key")
        .trim()
        .to_string();
    let new_key = MasterKey::from_base64(&new).expect("the key file holds a key");
    assert_ne!(new, old);

    // Every key, of every algorithm, re-sealed: the same private key under the new key id.
    let rows_after = sealed().await;
    assert_eq!(rows_before.len(), rows_after.len());
    for ((kid, old_sealed, _), (kid_after, sealed, id)) in rows_before.iter().zip(&rows_after) {
        assert_eq!(kid, kid_after);
        assert_eq!(id, new_key.id(), "{kid} names the new key");
        assert!(old_key.open(sealed, kid.as_bytes()).is_err(), "{kid}");
        assert_eq!(
            new_key
                .open(sealed, kid.as_bytes())
                .expect("opens")
                .as_slice(),
            old_key
                .open(old_sealed, kid.as_bytes())
                .expect("old")
                .as_slice(),
            "{kid}: the same private key"
        );
    }

    // A server on the new master key: the same JWKS; the tokens issued before verify; each
    // algorithm's current key signs under the same kid.
    let http = reqwest::Client::new();
    let issuer = app.settings.issuer.clone();
    let mut server = ServerProcess::spawn_with_env(&app.storage, &issuer, "after", &[ALL]);
    assert!(server.ready(&http, 60).await, "{}", server.log_text());
    let jwks_after: serde_json::Value = http
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    assert_eq!(jwks_after, jwks_before, "JWKS unchanged");
    for alg in ALGS {
        let (id, secret) = &secrets[alg];
        assert_eq!(
            verify_status(&http, &server, &before[alg]).await,
            200,
            "{alg}"
        );
        let fresh = access_token(&http, &server.address, id, secret).await;
        assert_eq!(kid(&fresh), kid(&before[alg]), "{alg}: the same kid signs");
        assert_eq!(peek(&fresh).0["alg"], alg);
        verify_with_jwks(&fresh, &jwks_before, &issuer).expect("verifies with the old JWKS");
    }

    // Every line rotated twice: each `next` key, then each `standby` key, re-sealed while
    // it waited, signs in its turn; the tokens of earlier keys still verify.
    let mut signing: BTreeMap<&str, String> =
        ALGS.iter().map(|alg| (*alg, kid(&before[alg]))).collect();
    for round in 1..=2 {
        let out = run_cli_env(&app.storage, &["keys", "rotate"], "", &[ALL]).await;
        assert!(out.status.success(), "keys rotate: {}", out.stderr);
        for alg in ALGS {
            let (id, secret) = &secrets[alg];
            // The server sees the rotation at its next key poll.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let fresh = loop {
                let fresh = access_token(&http, &server.address, id, secret).await;
                if kid(&fresh) != signing[alg] {
                    break fresh;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{alg}: the server signs with the promoted key (round {round})"
                );
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            };
            assert_eq!(peek(&fresh).0["alg"], alg);
            assert!(
                kids.contains(&kid(&fresh).as_str()),
                "{alg}: a key re-sealed by the rotation signs (round {round})"
            );
            let jwks_now: serde_json::Value = http
                .get(server.url("/.well-known/jwks.json"))
                .send()
                .await
                .expect("jwks")
                .json()
                .await
                .expect("json");
            verify_with_jwks(&fresh, &jwks_now, &issuer).expect("verifies with the JWKS");
            if round == 1 {
                verify_with_jwks(&fresh, &jwks_before, &issuer)
                    .expect("the promoted key was published before the master key rotation");
            }
            assert_eq!(verify_status(&http, &server, &fresh).await, 200, "{alg}");
            assert_eq!(
                verify_status(&http, &server, &before[alg]).await,
                200,
                "{alg}: a token of before the master key rotation (round {round})"
            );
            signing.insert(alg, kid(&fresh));
        }
    }
    assert!(
        !server.log_text().contains(&new),
        "the server logged the key"
    );
}
