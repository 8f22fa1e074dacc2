//! A real relying-party library, Node's openid-client (`tests/downstream/rp_openid_client.mjs`),
//! runs the whole code flow over HTTP: discovery, the authorization URL with PKCE S256, a
//! nonce and a state, the code exchange, the ID token checked (signature via the JWKS, iss,
//! aud, exp, nonce; at_hash recomputed), userinfo, a refresh and the refused reuse of the
//! spent refresh token. The test plays the browser: the login page the first time, single
//! sign-on the second. Once per id_token algorithm (RS256, ES256, EdDSA), each a client
//! registered with that `id_token_signed_response_alg`.

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::both_backends;
use crate::helpers::{browser, location, query_param, sign_in, spawn_app_with, Backend, TestApp};

both_backends!(openid_client_completes_the_code_flow);

const REDIRECT: &str = "http://localhost:9777/rp/callback";

/// Follows an authorization URL as a browser would: through the login page the first time,
/// by single sign-on after it; returns the callback URL Gatehouse redirects to.
async fn callback_of(
    app: &TestApp,
    browser: &reqwest::Client,
    authorize: &str,
    first_time: bool,
) -> String {
    let callback = if first_time {
        sign_in(app, browser, authorize, "alice-password-1").await
    } else {
        let resp = browser.get(authorize).send().await.expect("authorize");
        assert_eq!(resp.status(), 302, "{authorize}");
        location(&resp)
    };
    assert!(callback.starts_with(&format!("{REDIRECT}?")), "{callback}");
    callback
}

async fn openid_client_completes_the_code_flow(backend: Backend) {
    let Some(node) = super::node() else {
        return;
    };
    let Some(app) = spawn_app_with(backend, |args| {
        args.signing_algs = Some("RS256,ES256,EdDSA".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", "alice-password-1", false).await;
    for alg in ["RS256", "ES256", "EdDSA"] {
        code_flow_with_id_token_alg(&app, &node, alg).await;
    }
}

async fn code_flow_with_id_token_alg(app: &TestApp, node: &std::path::Path, alg: &str) {
    let issuer = app.settings.issuer.clone();
    let rp = format!("rp-{}", alg.to_lowercase());
    app.add_client(&[
        &rp,
        "--public",
        "--redirect-uri",
        REDIRECT,
        "--scope",
        "openid",
        "profile",
        "email",
        "offline_access",
        "--id-token-alg",
        alg,
    ])
    .await;

    let mut rp_process = tokio::process::Command::new(node)
        .arg(super::script("rp_openid_client.mjs"))
        .args([issuer.as_str(), rp.as_str(), REDIRECT, alg])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut to_rp = rp_process.stdin.take().expect("stdin");
    let mut from_rp = tokio::io::BufReader::new(rp_process.stdout.take().expect("stdout")).lines();
    let browser = browser();
    let mut authorizations = 0;
    let outcome: Value = loop {
        let line = from_rp
            .next_line()
            .await
            .expect("read")
            .expect("the relying party ends with its outcome");
        let message: Value = serde_json::from_str(&line).expect("a JSON line");
        let Some(url) = message["authorize"].as_str() else {
            break message;
        };
        authorizations += 1;
        assert!(url.starts_with(&format!("{issuer}/authorize?")), "{url}");
        assert_eq!(
            query_param(url, "code_challenge_method").as_deref(),
            Some("S256")
        );
        let callback = callback_of(app, &browser, url, authorizations == 1).await;
        assert_eq!(
            query_param(&callback, "iss").as_deref(),
            Some(issuer.as_str()),
            "RFC 9207: the callback names the issuer"
        );
        to_rp
            .write_all(format!("{callback}\n").as_bytes())
            .await
            .expect("write");
    };
    assert_eq!(outcome["ok"], true, "{alg}: {outcome:#}");
    assert_eq!(outcome["id_token_alg"], alg, "{outcome:#}");
    assert_eq!(authorizations, 2);
    assert!(
        outcome["wrong_nonce"]
            .as_str()
            .is_some_and(|e| e.contains("nonce")),
        "the library refuses an ID token for another nonce: {outcome:#}"
    );
    assert_eq!(outcome["iss"], issuer.as_str());
    assert_eq!(outcome["aud"], rp.as_str());
    assert_eq!(outcome["nonce_matches"], true);
    assert_eq!(outcome["preferred_username"], "alice");
    assert_eq!(
        outcome["at_hash"], outcome["computed_at_hash"],
        "at_hash matches the access token: {outcome:#}"
    );
    assert_eq!(outcome["userinfo_sub"], outcome["sub"]);
    assert_eq!(outcome["userinfo_username"], "alice");
    assert_eq!(outcome["refreshed_access_differs"], true);
    assert_eq!(
        outcome["refresh_rotated"], true,
        "the refresh token rotates"
    );
    assert_eq!(outcome["refreshed_userinfo_sub"], outcome["sub"]);
    assert_eq!(
        outcome["reuse_error"], "invalid_grant",
        "the spent refresh token is refused: {outcome:#}"
    );
}
