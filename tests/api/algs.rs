//! Signing algorithms (issue 26): RS256, ES256 and EdDSA side by side, each with its own key
//! line and schedule, chosen per client. On SQLite and PostgreSQL with the manual clock:
//! publication (JWKS, discovery), who signs with what (access, refresh, id_tokens), each
//! line's rotation, retirement and emergency on its own, a verifier honouring Cache-Control
//! through scheduled rotations of every line, and the registration and `check` rules.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    kids, password_grant, peek, spawn_app, spawn_app_with, status_json, verify_with_jwks, Backend,
    TestApp,
};
use crate::sso::{authorize_url, exchange, query_param, sign_in, REDIRECT, VERIFIER};
use gatehouse::config::SettingsArgs;

both_backends!(
    jwks_and_discovery_publish_every_algorithms_keys_with_unique_thumbprint_kids,
    each_client_gets_access_refresh_and_id_tokens_signed_with_its_own_algorithm,
    access_token_alg_is_the_default_of_clients_that_choose_none,
    each_algorithms_line_rotates_retires_and_revokes_on_its_own,
    a_verifier_honouring_cache_control_never_fails_while_every_line_rotates_on_schedule,
    an_algorithm_outside_signing_algs_is_refused_for_clients_and_rotations,
    check_names_clients_whose_algorithm_signing_algs_no_longer_lists,
    keys_rotate_alg_on_the_command_line_rotates_that_line_alone,
);

const PASSWORD: &str = "alice's long password";
const ALL: [&str; 3] = ["RS256", "ES256", "EdDSA"];

fn all_algs(args: &mut SettingsArgs) {
    args.signing_algs = Some("RS256,ES256,EdDSA".into());
}

async fn spawn_all(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, all_algs).await
}

fn alg_of(token: &str) -> String {
    peek(token).0["alg"].as_str().expect("alg").to_string()
}

fn kid_of(token: &str) -> String {
    peek(token).0["kid"].as_str().expect("kid").to_string()
}

/// The kid of each algorithm's key in `state`, read in-process.
async fn line(app: &TestApp, state: &str) -> BTreeMap<String, String> {
    app.state
        .keys
        .list()
        .await
        .expect("keys")
        .into_iter()
        .filter(|k| k.state.as_str() == state)
        .map(|k| (k.alg.to_string(), k.kid))
        .collect()
}

/// RFC 7638 thumbprint of a published JWK, from its required members.
fn thumbprint(jwk: &Value) -> String {
    use sha2::Digest;
    let canonical = match jwk["kty"].as_str().expect("kty") {
        "RSA" => json!({ "e": jwk["e"], "kty": "RSA", "n": jwk["n"] }),
        "EC" => json!({ "crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"] }),
        "OKP" => json!({ "crv": jwk["crv"], "kty": "OKP", "x": jwk["x"] }),
        other => panic!("unexpected kty {other}"),
    };
    // serde_json orders object members by name (no preserve_order): RFC 7638's order.
    crate::helpers::b64url(&sha2::Sha256::digest(canonical.to_string().as_bytes()))
}

/// Registers a confidential client with the password, refresh and client_credentials
/// grants and `extra` arguments; returns its secret.
async fn client(app: &TestApp, id: &str, extra: &[&str]) -> String {
    let mut args = vec![
        id,
        "--grant",
        "password",
        "refresh_token",
        "client_credentials",
        "--scope",
        "openid",
        "offline_access",
        "api",
    ];
    args.extend_from_slice(extra);
    app.add_client(&args).await.expect("confidential")
}

/// (access, refresh) from the password grant of `client`.
async fn pair(app: &TestApp, client: &str, secret: &str) -> (String, String) {
    let (status, body) = status_json(
        password_grant(
            &app.http,
            &app.address,
            client,
            secret,
            "alice",
            PASSWORD,
            "openid offline_access",
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{client}: {body}");
    (
        body["access_token"].as_str().expect("access").to_string(),
        body["refresh_token"].as_str().expect("refresh").to_string(),
    )
}

async fn userinfo_status(app: &TestApp, token: &str) -> StatusCode {
    app.userinfo(token).await.status()
}

async fn introspect(app: &TestApp, rs_secret: &str, token: &str) -> Value {
    let (status, body) = status_json(
        app.post_form_basic("/introspect", "rs", rs_secret, &[("token", token)])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn resource_server(app: &TestApp) -> String {
    app.add_client(&["rs", "--grant", "client_credentials", "--introspect-any"])
        .await
        .expect("confidential")
}

async fn admin_rotate(app: &TestApp, admin: &str, body: Value) -> (StatusCode, Value) {
    status_json(
        app.http
            .post(app.url("/admin/keys/rotate"))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .expect("rotate"),
    )
    .await
}

async fn jwks_and_discovery_publish_every_algorithms_keys_with_unique_thumbprint_kids(
    backend: Backend,
) {
    let Some(app) = spawn_all(backend).await else {
        return;
    };
    let jwks = app.jwks().await;
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 9, "current, next and standby of each: {jwks}");
    let mut seen = BTreeSet::new();
    for jwk in keys {
        assert_eq!(jwk["use"], "sig", "{jwk}");
        let (kty, crv) = match jwk["alg"].as_str().expect("alg") {
            "RS256" => ("RSA", None),
            "ES256" => ("EC", Some("P-256")),
            "EdDSA" => ("OKP", Some("Ed25519")),
            other => panic!("unexpected alg {other}"),
        };
        assert_eq!(jwk["kty"], kty, "{jwk}");
        assert_eq!(jwk["crv"].as_str(), crv, "{jwk}");
        // Only the members of its kind: no RSA member on a curve key and no curve on RSA.
        let members: BTreeSet<&str> = jwk
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let expected: BTreeSet<&str> = match kty {
            "RSA" => ["kty", "use", "alg", "kid", "n", "e"].into(),
            "EC" => ["kty", "use", "alg", "kid", "crv", "x", "y"].into(),
            _ => ["kty", "use", "alg", "kid", "crv", "x"].into(),
        };
        assert_eq!(members, expected, "{jwk}");
        assert_eq!(jwk["kid"].as_str().unwrap(), thumbprint(jwk), "{jwk}");
        assert!(seen.insert(jwk["kid"].as_str().unwrap().to_string()));
        // Every published key is one a standard library takes.
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(json!({ "keys": [jwk] })).expect("a JWK set");
        jsonwebtoken::DecodingKey::from_jwk(&set.keys[0]).expect("a usable public key");
    }
    for alg in ALL {
        assert_eq!(line(&app, "current").await.len(), 3);
        assert!(line(&app, "next").await.contains_key(alg));
        assert!(line(&app, "standby").await.contains_key(alg));
    }
    let (status, discovery) = status_json(
        app.http
            .get(app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(ALL),
        "{discovery}"
    );

    // By default RS256 alone, as before.
    let Some(plain) = spawn_app(backend).await else {
        return;
    };
    let jwks = plain.jwks().await;
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["alg"] == "RS256" && k["kty"] == "RSA"));
    let discovery: Value = plain
        .http
        .get(plain.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
}

async fn each_client_gets_access_refresh_and_id_tokens_signed_with_its_own_algorithm(
    backend: Backend,
) {
    let Some(app) = spawn_all(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let rs = resource_server(&app).await;
    let current = line(&app, "current").await;
    let jwks = app.jwks().await;
    for alg in ALL {
        let id = format!("c-{}", alg.to_lowercase());
        let secret = client(&app, &id, &["--access-token-alg", alg]).await;
        let (access, refresh) = pair(&app, &id, &secret).await;
        for token in [&access, &refresh] {
            assert_eq!(alg_of(token), alg, "{id}");
            assert_eq!(kid_of(token), current[alg], "{id}: its line's current key");
        }
        // Accepted wherever an access token is, and by a library that takes the
        // algorithm from the published key.
        assert_eq!(
            userinfo_status(&app, &access).await,
            StatusCode::OK,
            "{alg}"
        );
        assert_eq!(
            introspect(&app, &rs, &access).await["active"],
            true,
            "{alg}"
        );
        let (status, body) = status_json(
            app.post_json("/api/token/verify/", json!({ "token": access }))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{alg}: {body}");
        verify_with_jwks(&access, &jwks, &app.settings.issuer).expect("a library verifies it");
        // The refresh grant signs the successor pair with the client's algorithm again.
        let (status, body) = status_json(
            app.post_form_basic(
                "/token",
                &id,
                &secret,
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{alg}: {body}");
        for member in ["access_token", "refresh_token"] {
            assert_eq!(
                alg_of(body[member].as_str().unwrap()),
                alg,
                "{alg} {member}"
            );
        }
        // client_credentials too.
        let (status, body) = status_json(
            app.post_form_basic(
                "/token",
                &id,
                &secret,
                &[("grant_type", "client_credentials"), ("scope", "api")],
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{alg}: {body}");
        assert_eq!(alg_of(body["access_token"].as_str().unwrap()), alg);
    }
    // simplejwt's built-in client names no algorithm: ACCESS_TOKEN_ALG, RS256.
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    assert_eq!(
        (alg_of(&access), alg_of(&refresh)),
        ("RS256".into(), "RS256".into())
    );

    // id_tokens: the client's id_token_signed_response_alg, whatever its access tokens use.
    for (id, id_alg, access_alg) in [
        ("app", "ES256", "EdDSA"),
        ("app-ed", "EdDSA", "RS256"),
        ("app-rs", "RS256", "ES256"),
    ] {
        app.add_client(&[
            id,
            "--public",
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "openid",
            "profile",
            "offline_access",
            "--id-token-alg",
            id_alg,
            "--access-token-alg",
            access_alg,
        ])
        .await;
        let b = crate::helpers::browser();
        let url = authorize_url(&app, &[("client_id", id)]);
        let cb = sign_in(&app, &b, &url, PASSWORD).await;
        let code = query_param(&cb, "code").expect("code");
        let (status, tokens) = status_json(exchange(&app, &code, Some(VERIFIER), id).await).await;
        assert_eq!(status, StatusCode::OK, "{id}: {tokens}");
        let id_token = tokens["id_token"].as_str().expect("id_token");
        let access = tokens["access_token"].as_str().expect("access_token");
        assert_eq!(alg_of(id_token), id_alg, "{id}");
        assert_eq!(kid_of(id_token), current[id_alg], "{id}");
        assert_eq!(alg_of(access), access_alg, "{id}");
        let claims = verify_with_jwks(id_token, &jwks, &app.settings.issuer).expect("verifies");
        assert_eq!(claims["aud"], id);
        // at_hash: the left half of the hash of the id_token's algorithm (SHA-512 for
        // Ed25519, SHA-256 otherwise).
        let expected = match id_alg {
            "EdDSA" => {
                let digest = <sha2::Sha512 as sha2::Digest>::digest(access.as_bytes());
                crate::helpers::b64url(&digest[..32])
            }
            _ => {
                let digest = <sha2::Sha256 as sha2::Digest>::digest(access.as_bytes());
                crate::helpers::b64url(&digest[..16])
            }
        };
        assert_eq!(claims["at_hash"], expected, "{id}");
        assert_eq!(userinfo_status(&app, access).await, StatusCode::OK);
    }
}

async fn access_token_alg_is_the_default_of_clients_that_choose_none(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.signing_algs = Some("ES256,RS256".into());
        args.access_token_alg = Some("ES256".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    assert_eq!(
        (alg_of(&access), alg_of(&refresh)),
        ("ES256".into(), "ES256".into())
    );
    let (status, body) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": refresh }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(alg_of(body["access"].as_str().unwrap()), "ES256");
    // A client may still choose RS256 for itself.
    let secret = client(&app, "legacy", &["--access-token-alg", "RS256"]).await;
    let (access, _) = pair(&app, "legacy", &secret).await;
    assert_eq!(alg_of(&access), "RS256");
    // No EdDSA keys are kept, so none are published.
    assert!(!app.jwks().await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["alg"] == "EdDSA"));
}

async fn each_algorithms_line_rotates_retires_and_revokes_on_its_own(backend: Backend) {
    let Some(app) = spawn_all(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.add_user("alice", PASSWORD, false).await;
    let ec_secret = client(&app, "ec", &["--access-token-alg", "ES256"]).await;
    let ed_secret = client(&app, "ed", &["--access-token-alg", "EdDSA"]).await;
    let before = (line(&app, "current").await, line(&app, "next").await);
    let (old_ec, _) = pair(&app, "ec", &ec_secret).await;
    let (old_rs, _) = app.tokens("alice", PASSWORD).await;

    // One line: ES256's next key signs, its current key retires; the others stay.
    let (status, outcome) = admin_rotate(&app, &admin, json!({ "alg": "ES256" })).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["alg"], "ES256");
    assert_eq!(outcome["retired"], before.0["ES256"].as_str());
    assert_eq!(outcome["current"], before.1["ES256"].as_str());
    assert!(outcome.get("also").is_none(), "one line: {outcome}");
    let after = line(&app, "current").await;
    assert_eq!(after["RS256"], before.0["RS256"]);
    assert_eq!(after["EdDSA"], before.0["EdDSA"]);
    assert_eq!(after["ES256"], before.1["ES256"]);
    assert_eq!(
        line(&app, "retired").await.get("ES256"),
        Some(&before.0["ES256"])
    );
    // The retired key stays published: its tokens verify until they expire.
    assert!(kids(&app.jwks().await).contains(&before.0["ES256"]));
    assert_eq!(userinfo_status(&app, &old_ec).await, StatusCode::OK);
    let (new_ec, _) = pair(&app, "ec", &ec_secret).await;
    assert_eq!(kid_of(&new_ec), after["ES256"]);

    // Without `alg`, every line rotates: the first in the answer, the others in `also`.
    let (status, outcome) = admin_rotate(&app, &admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    let lines: Vec<&str> = std::iter::once(&outcome)
        .chain(outcome["also"].as_array().expect("also"))
        .map(|o| o["alg"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ALL);
    let current = line(&app, "current").await;
    for alg in ALL {
        assert_ne!(current[alg], before.0[alg], "{alg} rotated");
    }

    // An emergency on EdDSA alone: its current key leaves the JWKS and its tokens fail at
    // once; the other lines' tokens are untouched.
    let (ed_token, _) = pair(&app, "ed", &ed_secret).await;
    let leaked = kid_of(&ed_token);
    let (status, outcome) =
        admin_rotate(&app, &admin, json!({ "alg": "EdDSA", "emergency": true })).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["revoked"], leaked.as_str());
    assert!(!kids(&app.jwks().await).contains(&leaked));
    assert_eq!(
        userinfo_status(&app, &ed_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(userinfo_status(&app, &old_rs).await, StatusCode::OK);
    assert_eq!(userinfo_status(&app, &new_ec).await, StatusCode::OK);
    let (ed_again, _) = pair(&app, "ed", &ed_secret).await;
    assert_ne!(kid_of(&ed_again), leaked);
    assert_eq!(userinfo_status(&app, &ed_again).await, StatusCode::OK);
    for state in ["current", "next", "standby"] {
        assert_eq!(
            line(&app, state).await.len(),
            3,
            "every line complete: {state}"
        );
    }

    // Retired keys of every line leave once their tokens have all expired.
    let retired: Vec<String> = line(&app, "retired").await.into_values().collect();
    let retire_for = app.state.keys.policy.rotation.retire_for.as_secs();
    app.advance(retire_for + 1);
    app.state.keys.maintain_once().await.expect("upkeep");
    let published = kids(&app.jwks().await);
    for kid in retired {
        assert!(!published.contains(&kid), "{kid} still published");
    }
}

/// A downstream verifier that keeps the JWKS exactly as long as `Cache-Control: max-age`
/// says, on the server's (manual) clock, and never refetches early: a token whose kid its
/// cache lacks fails.
struct CachingVerifier {
    jwks: Value,
    fresh_until: i64,
    fetches: usize,
}

impl CachingVerifier {
    async fn new(app: &TestApp) -> CachingVerifier {
        let mut v = CachingVerifier {
            jwks: Value::Null,
            fresh_until: 0,
            fetches: 0,
        };
        v.fetch(app).await;
        v
    }

    async fn fetch(&mut self, app: &TestApp) {
        let resp = app
            .http
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .expect("JWKS");
        let max_age: i64 = resp.headers()["cache-control"]
            .to_str()
            .unwrap()
            .split(',')
            .find_map(|d| d.trim().strip_prefix("max-age=")?.parse().ok())
            .expect("a max-age");
        self.fresh_until = app.clock.now() + max_age;
        self.jwks = resp.json().await.expect("JWKS JSON");
        self.fetches += 1;
    }

    async fn verify(&mut self, app: &TestApp, token: &str) -> Result<(), String> {
        if app.clock.now() >= self.fresh_until {
            self.fetch(app).await;
        }
        verify_with_jwks(token, &self.jwks, &app.settings.issuer).map(drop)
    }
}

async fn a_verifier_honouring_cache_control_never_fails_while_every_line_rotates_on_schedule(
    backend: Backend,
) {
    let Some(app) = spawn_app_with(backend, |args| {
        all_algs(args);
        args.key_rotation_interval = Some("20m".into());
        args.jwks_max_age = Some("5m".into());
    })
    .await
    else {
        return;
    };
    let mut secrets = Vec::new();
    for alg in ALL {
        let id = format!("svc-{}", alg.to_lowercase());
        let secret = client(&app, &id, &["--access-token-alg", alg]).await;
        secrets.push((alg, id, secret));
    }
    let mut verifier = CachingVerifier::new(&app).await;
    let mut signed_by: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    // Steps of 100 s over 4 h: the schedule rotates each line every 20 min once its next
    // and standby keys have been cached everywhere (max-age + the poll interval + 1 s).
    for step in 0..144 {
        app.advance(100);
        app.state.keys.maintain_once().await.expect("upkeep");
        for (alg, id, secret) in &secrets {
            let (status, body) = status_json(
                app.post_form_basic(
                    "/token",
                    id,
                    secret,
                    &[("grant_type", "client_credentials"), ("scope", "api")],
                )
                .await,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "step {step}: {body}");
            let token = body["access_token"].as_str().unwrap();
            assert_eq!(alg_of(token), *alg);
            verifier
                .verify(&app, token)
                .await
                .unwrap_or_else(|e| panic!("step {step}, {alg}: the cached JWKS fails: {e}"));
            signed_by.entry(alg).or_default().insert(kid_of(token));
        }
    }
    for alg in ALL {
        assert!(
            signed_by[alg].len() >= 3,
            "{alg} rotated at least twice on schedule: {:?}",
            signed_by[alg]
        );
    }
    assert!(
        verifier.fetches > 10,
        "the verifier refetched as max-age said"
    );
}

async fn an_algorithm_outside_signing_algs_is_refused_for_clients_and_rotations(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.signing_algs = Some("RS256,ES256".into());
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let keys_before = app.state.keys.list().await.expect("keys");
    let create = |body: Value| {
        let (app, admin) = (&app, &admin);
        async move {
            status_json(
                app.http
                    .post(app.url("/admin/clients"))
                    .bearer_auth(admin)
                    .json(&body)
                    .send()
                    .await
                    .expect("create"),
            )
            .await
        }
    };
    for (field, alg) in [
        ("id_token_alg", "EdDSA"),
        ("access_token_alg", "EdDSA"),
        ("access_token_alg", "HS256"),
        ("id_token_alg", "none"),
        ("id_token_alg", "es256"),
    ] {
        let (status, body) = create(json!({
            "client_id": "svc", "grants": ["client_credentials"], field: alg,
        }))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field} {alg}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{body}"
        );
    }
    let (status, _) = status_json(
        app.http
            .get(app.url("/admin/clients/svc"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");
    // The one that is kept is accepted and shown.
    let (status, body) = create(json!({
        "client_id": "svc", "grants": ["client_credentials"],
        "access_token_alg": "ES256", "id_token_alg": "ES256",
    }))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["access_token_alg"], "ES256");
    assert_eq!(body["id_token_alg"], "ES256");

    for body in [
        json!({ "alg": "EdDSA" }),
        json!({ "alg": "PS256" }),
        json!({ "alg": "none", "emergency": true }),
    ] {
        let (status, answer) = admin_rotate(&app, &admin, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    let keys_after = app.state.keys.list().await.expect("keys");
    assert_eq!(keys_before, keys_after, "no key changed");
}

async fn check_names_clients_whose_algorithm_signing_algs_no_longer_lists(backend: Backend) {
    let Some(app) = spawn_all(backend).await else {
        return;
    };
    client(&app, "ec-client", &["--id-token-alg", "ES256"]).await;
    client(&app, "ed-client", &["--access-token-alg", "EdDSA"]).await;
    // The same database, checked with SIGNING_ALGS left at RS256.
    let out = app.cli(&["check"], "").await;
    assert!(!out.status.success(), "check fails: {}", out.stdout);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("ec-client (id_token_alg ES256)"), "{text}");
    assert!(
        text.contains("ed-client (access_token_alg EdDSA)"),
        "{text}"
    );
    let out = crate::helpers::run_cli_env(
        &app.storage,
        &["check"],
        "",
        &[("GATEHOUSE_SIGNING_ALGS", "RS256,ES256,EdDSA")],
    )
    .await;
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("every client's signing algorithms are in SIGNING_ALGS"),
        "{text}"
    );
}

async fn keys_rotate_alg_on_the_command_line_rotates_that_line_alone(backend: Backend) {
    let Some(app) = spawn_all(backend).await else {
        return;
    };
    let before = line(&app, "current").await;
    let all = [("GATEHOUSE_SIGNING_ALGS", "RS256,ES256,EdDSA")];
    let out = crate::helpers::run_cli_env(
        &app.storage,
        &["keys", "rotate", "--alg", "ES256"],
        "",
        &all,
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    let outcome: Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(outcome["alg"], "ES256", "{outcome}");
    assert_eq!(outcome["retired"], before["ES256"].as_str());
    let after = line(&app, "current").await;
    assert_ne!(after["ES256"], before["ES256"]);
    assert_eq!(after["RS256"], before["RS256"]);
    assert_eq!(after["EdDSA"], before["EdDSA"]);

    // `keys list` names each key's algorithm, in the last column.
    let out = crate::helpers::run_cli_env(&app.storage, &["keys", "list"], "", &all).await;
    assert!(out.status.success(), "{}", out.stderr);
    let mut lines = out.stdout.lines();
    assert!(lines.next().unwrap().ends_with("\tALG"));
    let listed: BTreeMap<String, String> = lines
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[0].to_string(), cols[cols.len() - 1].to_string())
        })
        .collect();
    for (alg, kid) in &after {
        assert_eq!(&listed[kid], alg);
    }

    // An algorithm this configuration keeps no keys for, or none Gatehouse knows: refused,
    // nothing changed.
    let keys_before = app.state.keys.list().await.expect("keys");
    let out = app.cli(&["keys", "rotate", "--alg", "EdDSA"], "").await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("not in SIGNING_ALGS"), "{}", out.stderr);
    let out = app.cli(&["keys", "rotate", "--alg", "PS256"], "").await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("PS256"), "{}", out.stderr);
    assert_eq!(app.state.keys.list().await.expect("keys"), keys_before);
}
