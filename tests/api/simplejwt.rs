//! The simplejwt-compatible endpoints (`/api/token/`, `/api/token/refresh/`,
//! `/api/token/verify/`, `/api/token/blacklist/`), refresh-token rotation and reuse detection,
//! and what they do with hostile input: every bad request is a 4xx with a clear JSON error
//! and changes nothing stored.

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    assemble_jwt, b64url, peek, spawn_app, spawn_app_with, status_json, verify_with_jwks, Backend,
    TestApp,
};

const PASSWORD: &str = "correct horse battery";

/// A fresh server with the user `alice`.
async fn app_with_alice(backend: Backend) -> Option<TestApp> {
    let app = spawn_app(backend).await?;
    app.add_user("alice", PASSWORD, false).await;
    Some(app)
}

async fn post_refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/token/refresh/", json!({ "refresh": token }))
        .await
}

async fn post_verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/token/verify/", json!({ "token": token }))
        .await
}

async fn post_blacklist(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/token/blacklist/", json!({ "refresh": token }))
        .await
}

async fn userinfo(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

/// A successful refresh; returns the new (access, refresh).
async fn rotate(app: &TestApp, token: &str) -> (String, String) {
    let (status, body) = status_json(post_refresh(app, token).await).await;
    assert_eq!(status, 200, "refresh should succeed: {body}");
    pair_of(&body)
}

fn pair_of(body: &Value) -> (String, String) {
    (
        body["access"].as_str().expect("access").to_string(),
        body["refresh"].as_str().expect("refresh").to_string(),
    )
}

/// simplejwt's answer to a bad token: 401 `{"detail", "code": "token_not_valid"}`.
async fn assert_token_not_valid(resp: reqwest::Response, what: &str) {
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["code"], "token_not_valid", "{what}: {body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: no detail in {body}"
    );
}

/// A 401 from a bearer-protected endpoint, with an RFC 6750 challenge.
async fn assert_bearer_refused(resp: reqwest::Response, what: &str) {
    let challenge = resp
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"], "invalid_token", "{what}: {body}");
    assert!(
        challenge.starts_with("Bearer"),
        "{what}: WWW-Authenticate is {challenge:?}"
    );
}

/// Nothing stored changed: the refresh token is still live and still refreshes.
async fn assert_still_refreshes(app: &TestApp, token: &str) {
    let (status, body) = status_json(post_verify(app, token).await).await;
    assert_eq!(
        status, 200,
        "the refresh token should still be live: {body}"
    );
    rotate(app, token).await;
}

// ---------------------------------------------------------------------------------------
// Obtaining, refreshing, verifying, blacklisting.

both_backends!(
    login_with_a_json_body_returns_an_access_and_a_refresh_token,
    login_with_a_form_body_returns_an_access_and_a_refresh_token,
    access_token_has_an_rfc9068_header_and_simplejwt_claims,
    refresh_token_has_its_own_typ_and_is_meant_for_gatehouse_only,
    refresh_returns_a_new_pair,
    refresh_token_cannot_be_used_twice,
    reusing_a_spent_refresh_token_revokes_the_whole_family,
    verify_accepts_an_access_token_and_a_live_refresh_token,
    verify_rejects_garbage_and_spent_refresh_tokens,
    blacklisted_refresh_token_no_longer_refreshes_or_verifies,
);

async fn login_with_a_json_body_returns_an_access_and_a_refresh_token(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let resp = app
        .post_json(
            "/api/token/",
            json!({ "username": "alice", "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        resp.headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    let fields: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(fields, ["access", "refresh"], "{body}");
    let (access, refresh) = pair_of(&body);
    assert_ne!(access, refresh);
    verify_with_jwks(&access, &app.jwks().await, &app.settings.issuer).expect("access verifies");
}

async fn login_with_a_form_body_returns_an_access_and_a_refresh_token(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (status, body) = status_json(app.simplejwt_login("alice", PASSWORD).await).await;
    assert_eq!(status, 200, "{body}");
    let (access, refresh) = pair_of(&body);
    verify_with_jwks(&access, &app.jwks().await, &app.settings.issuer).expect("access verifies");
    // The form-issued refresh token is a working one.
    rotate(&app, &refresh).await;
}

async fn access_token_has_an_rfc9068_header_and_simplejwt_claims(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, _) = app.tokens("alice", PASSWORD).await;
    let (header, claims) = peek(&access);
    assert_eq!(header["alg"], "RS256", "{header}");
    assert_eq!(header["typ"], "at+jwt", "{header}");
    let kid = header["kid"].as_str().expect("kid");
    let jwks = app.jwks().await;
    assert!(
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k["kid"] == kid),
        "kid {kid} is not published in {jwks}"
    );

    let issuer = &app.settings.issuer;
    assert_eq!(claims["iss"], json!(issuer));
    let sub = claims["sub"].as_str().expect("sub");
    uuid::Uuid::parse_str(sub).expect("sub is a UUID");
    assert_eq!(claims["aud"], json!(issuer), "aud defaults to the issuer");
    assert_eq!(claims["client_id"], "simplejwt");
    let (exp, iat) = (
        claims["exp"].as_i64().expect("exp"),
        claims["iat"].as_i64().expect("iat"),
    );
    assert_eq!(exp - iat, 300, "ACCESS_TTL defaults to 5m");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert_eq!(claims["scope"], "openid profile email");
    assert_eq!(claims["token_type"], "access");
    assert_eq!(
        claims["user_id"],
        json!(sub),
        "user_id is the sub for a user who was not imported"
    );
    // Two logins never share a jti.
    let (again, _) = app.tokens("alice", PASSWORD).await;
    assert_ne!(peek(&again).1["jti"], claims["jti"]);
}

async fn refresh_token_has_its_own_typ_and_is_meant_for_gatehouse_only(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    let (header, claims) = peek(&refresh);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "rt+jwt", "{header}");
    assert_ne!(header["typ"], peek(&access).0["typ"]);
    assert_eq!(claims["token_type"], "refresh");
    assert_eq!(claims["client_id"], "simplejwt");
    assert_eq!(claims["sub"], peek(&access).1["sub"]);
    assert_ne!(claims["jti"], peek(&access).1["jti"]);
}

async fn refresh_returns_a_new_pair(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh0) = app.tokens("alice", PASSWORD).await;
    let resp = post_refresh(&app, &refresh0).await;
    assert_eq!(
        resp.headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    let fields: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(fields, ["access", "refresh"], "{body}");
    let (access1, refresh1) = pair_of(&body);
    assert_ne!(access1, access);
    assert_ne!(refresh1, refresh0);
    let claims = verify_with_jwks(&access1, &app.jwks().await, &app.settings.issuer)
        .expect("the new access token verifies");
    assert_eq!(claims["sub"], peek(&access).1["sub"]);
    assert_eq!(claims["token_type"], "access");
    assert_eq!(claims["scope"], "openid profile email");
    // The successor works in turn.
    rotate(&app, &refresh1).await;
}

async fn refresh_token_cannot_be_used_twice(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    rotate(&app, &refresh0).await;
    assert_token_not_valid(post_refresh(&app, &refresh0).await, "second use").await;
    assert_token_not_valid(post_refresh(&app, &refresh0).await, "third use").await;
}

async fn reusing_a_spent_refresh_token_revokes_the_whole_family(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, other_family) = app.tokens("alice", PASSWORD).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let (_, refresh1) = rotate(&app, &refresh0).await;
    let (_, refresh2) = rotate(&app, &refresh1).await;

    // The thief (or the victim) presents a spent token: the whole family ends.
    assert_token_not_valid(post_refresh(&app, &refresh0).await, "reuse").await;
    assert_token_not_valid(
        post_refresh(&app, &refresh2).await,
        "the live successor after reuse",
    )
    .await;
    assert_token_not_valid(
        post_verify(&app, &refresh2).await,
        "verify successor after reuse",
    )
    .await;
    assert_token_not_valid(
        post_blacklist(&app, &refresh2).await,
        "blacklist successor after reuse",
    )
    .await;
    // Another login of the same user is another family.
    assert_still_refreshes(&app, &other_family).await;
}

async fn verify_accepts_an_access_token_and_a_live_refresh_token(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    for (what, token) in [("access", &access), ("refresh", &refresh)] {
        let (status, body) = status_json(post_verify(&app, token).await).await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(body, json!({}), "{what}");
    }
    // Form bodies too.
    let (status, body) = status_json(
        app.post_form("/api/token/verify/", &[("token", &access)])
            .await,
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    // Verifying does not spend anything.
    assert_still_refreshes(&app, &refresh).await;
}

async fn verify_rejects_garbage_and_spent_refresh_tokens(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    for garbage in ["garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA"] {
        assert_token_not_valid(post_verify(&app, garbage).await, garbage).await;
    }
    let (_, refresh1) = rotate(&app, &refresh0).await;
    assert_token_not_valid(post_verify(&app, &refresh0).await, "spent refresh").await;
    // Verifying a spent token is not a reuse: the successor lives on.
    assert_still_refreshes(&app, &refresh1).await;
}

async fn blacklisted_refresh_token_no_longer_refreshes_or_verifies(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh0) = app.tokens("alice", PASSWORD).await;
    let (_, other_family) = app.tokens("alice", PASSWORD).await;
    let resp = post_blacklist(&app, &refresh0).await;
    let (status, body) = status_json(resp).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));

    assert_token_not_valid(
        post_refresh(&app, &refresh0).await,
        "refresh after blacklist",
    )
    .await;
    assert_token_not_valid(post_verify(&app, &refresh0).await, "verify after blacklist").await;
    assert_token_not_valid(post_blacklist(&app, &refresh0).await, "blacklist twice").await;
    // The family's access token goes with it here (downstream verifiers still accept it
    // until exp: access tokens are stateless for them).
    assert_token_not_valid(post_verify(&app, &access).await, "its access token").await;
    // Blacklisting one family leaves the user's other sessions alone.
    assert_still_refreshes(&app, &other_family).await;
}

// ---------------------------------------------------------------------------------------
// REFRESH_GRACE.

both_backends!(
    within_the_grace_window_the_immediate_predecessor_gets_the_identical_pair,
    within_the_grace_window_an_older_token_still_revokes_the_family,
    after_the_grace_window_the_predecessor_revokes_the_family,
);

async fn within_the_grace_window_the_immediate_predecessor_gets_the_identical_pair(
    backend: Backend,
) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_grace = Some("10s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;

    let (status, first) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!(status, 200, "{first}");
    // A client whose first answer was lost retries: it gets the very same pair.
    let (status, again) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first, "the retry must return the identical pair");
    let (status, third) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!((status, &third), (StatusCode::OK, &first));

    // The successor is live and rotates normally; its own retry gets its pair.
    let (_, refresh1) = pair_of(&first);
    let (status, second) = status_json(post_refresh(&app, &refresh1).await).await;
    assert_eq!(status, 200, "{second}");
    let (status, second_again) = status_json(post_refresh(&app, &refresh1).await).await;
    assert_eq!((status, &second_again), (StatusCode::OK, &second));
    let (_, refresh2) = pair_of(&second);
    assert_still_refreshes(&app, &refresh2).await;
}

async fn within_the_grace_window_an_older_token_still_revokes_the_family(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_grace = Some("10s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let (_, refresh1) = rotate(&app, &refresh0).await;
    let (_, refresh2) = rotate(&app, &refresh1).await;

    // refresh0 is the grand-parent of the live token: that is reuse, not a retry.
    assert_token_not_valid(post_refresh(&app, &refresh0).await, "grand-parent replay").await;
    assert_token_not_valid(
        post_refresh(&app, &refresh2).await,
        "live token after reuse",
    )
    .await;
    assert_token_not_valid(
        post_refresh(&app, &refresh1).await,
        "the predecessor after reuse",
    )
    .await;
    assert_token_not_valid(post_verify(&app, &refresh2).await, "verify after reuse").await;
}

async fn after_the_grace_window_the_predecessor_revokes_the_family(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_grace = Some("1s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let (status, first) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!(status, 200, "{first}");

    // A replay inside the window gets the same pair; once it is over, a replay is reuse.
    let (status, again) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again, first,
        "a replay within the window gets the same pair"
    );
    app.advance(2);
    let (status, body) = status_json(post_refresh(&app, &refresh0).await).await;
    assert_eq!(
        status, 401,
        "a replay after the grace window must be refused: {body}"
    );
    assert_eq!(body["code"], "token_not_valid", "{body}");
    let (_, refresh1) = pair_of(&first);
    assert_token_not_valid(
        post_refresh(&app, &refresh1).await,
        "successor after late replay",
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Hostile tokens: every forgery is refused everywhere, and the genuine tokens keep working.

both_backends!(
    token_with_alg_none_is_rejected,
    hs256_token_keyed_with_the_public_key_is_rejected,
    token_with_tampered_claims_is_rejected,
    token_signed_by_a_foreign_key_under_our_kid_is_rejected,
    malformed_tokens_are_rejected,
    expired_access_token_is_rejected,
    refresh_token_is_not_accepted_as_an_access_token,
    access_token_is_not_accepted_as_a_refresh_token,
);

/// Presents forged tokens at every endpoint that takes one.
async fn assert_forgery_rejected(app: &TestApp, forged_access: &str, forged_refresh: &str) {
    let what =
        |endpoint: &str| format!("{endpoint} with forged {forged_access} / {forged_refresh}");
    assert_token_not_valid(
        post_verify(app, forged_access).await,
        &what("verify access"),
    )
    .await;
    assert_token_not_valid(
        post_verify(app, forged_refresh).await,
        &what("verify refresh"),
    )
    .await;
    assert_bearer_refused(userinfo(app, forged_access).await, &what("userinfo")).await;
    assert_token_not_valid(post_refresh(app, forged_refresh).await, &what("refresh")).await;
    assert_token_not_valid(
        post_blacklist(app, forged_refresh).await,
        &what("blacklist"),
    )
    .await;
    let (status, body) = status_json(
        app.post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "simplejwt"),
                ("refresh_token", forged_refresh),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{}: {body}", what("/token"));
    assert_eq!(body["error"], "invalid_grant", "{}: {body}", what("/token"));
    // RFC 7009: an invalid token is "revoked" with a 200, but nothing genuine is touched.
    let resp = app
        .post_form(
            "/revoke",
            &[("client_id", "simplejwt"), ("token", forged_refresh)],
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", what("/revoke"));
}

/// Replaces header fields of a genuine token, keeping (or dropping) its signature.
fn with_header(token: &str, changes: Value, signature: &str) -> String {
    let (mut header, claims) = peek(token);
    for (k, v) in changes.as_object().expect("object") {
        header[k] = v.clone();
    }
    assemble_jwt(&header, &claims, signature)
}

fn signature_of(token: &str) -> &str {
    token.rsplit('.').next().expect("signature")
}

async fn token_with_alg_none_is_rejected(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        for signature in ["", signature_of(&access)] {
            let forged_access = with_header(&access, json!({ "alg": alg }), signature);
            let forged_refresh = with_header(&refresh, json!({ "alg": alg }), signature);
            assert_forgery_rejected(&app, &forged_access, &forged_refresh).await;
        }
    }
    // Without a kid and typ too: the bare `{"alg":"none"}` of textbook attacks.
    let bare = |token: &str| assemble_jwt(&json!({ "alg": "none" }), &peek(token).1, "");
    assert_forgery_rejected(&app, &bare(&access), &bare(&refresh)).await;
    assert_still_refreshes(&app, &refresh).await;
}

/// Every encoding of the server's public key a confused verifier might use as an HMAC secret.
fn public_key_encodings(jwk: &Value) -> Vec<Vec<u8>> {
    use base64::Engine;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let decode = |field: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk[field].as_str().expect("n and e"))
            .expect("base64url")
    };
    let (n, e) = (decode("n"), decode("e"));
    let key = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&n),
        rsa::BigUint::from_bytes_be(&e),
    )
    .expect("public key from the JWKS");
    let spki_pem = key.to_public_key_pem(LineEnding::LF).expect("spki pem");
    let pkcs1_pem = key.to_pkcs1_pem(LineEnding::LF).expect("pkcs1 pem");
    vec![
        spki_pem.as_bytes().to_vec(),
        spki_pem.trim_end().as_bytes().to_vec(),
        pkcs1_pem.as_bytes().to_vec(),
        key.to_public_key_der()
            .expect("spki der")
            .as_bytes()
            .to_vec(),
        key.to_pkcs1_der().expect("pkcs1 der").as_bytes().to_vec(),
        jwk.to_string().into_bytes(),
        n,
    ]
}

async fn hs256_token_keyed_with_the_public_key_is_rejected(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    let kid = peek(&access).0["kid"].as_str().expect("kid").to_string();
    let jwks = app.jwks().await;
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("signing key in JWKS")
        .clone();
    let hs256 = |token: &str, secret: &[u8], alg_in_header: &str| {
        let (mut header, claims) = peek(token);
        header["alg"] = json!(alg_in_header);
        let h = b64url(header.to_string().as_bytes());
        let p = b64url(claims.to_string().as_bytes());
        let message = format!("{h}.{p}");
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(secret),
            jsonwebtoken::Algorithm::HS256,
        )
        .expect("hmac");
        format!("{message}.{signature}")
    };
    for secret in public_key_encodings(&jwk) {
        // The classic confusion, and an HMAC signature passed off as RS256.
        for alg in ["HS256", "RS256"] {
            let forged_access = hs256(&access, &secret, alg);
            let forged_refresh = hs256(&refresh, &secret, alg);
            assert_forgery_rejected(&app, &forged_access, &forged_refresh).await;
        }
    }
    assert_still_refreshes(&app, &refresh).await;
}

async fn token_with_tampered_claims_is_rejected(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    app.add_user("bob", "another good password", true).await;
    let (bob_access, _) = app.tokens("bob", "another good password").await;
    let bob_sub = peek(&bob_access).1["sub"].clone();
    let (access, refresh) = app.tokens("alice", PASSWORD).await;

    let tamper = |token: &str, field: &str, value: Value| {
        let (header, mut claims) = peek(token);
        claims[field] = value;
        assemble_jwt(&header, &claims, signature_of(token))
    };
    let far = peek(&access).1["exp"].as_i64().expect("exp") + 86_400;
    let changes = [
        ("sub", bob_sub.clone()),
        ("user_id", bob_sub.clone()),
        ("exp", json!(far)),
        ("scope", json!("openid profile email admin")),
        ("client_id", json!("another-client")),
        ("iss", json!("https://evil.example")),
        ("token_type", json!("refresh")),
    ];
    for (field, value) in changes {
        let forged_access = tamper(&access, field, value.clone());
        let forged_refresh = tamper(&refresh, field, value);
        assert_forgery_rejected(&app, &forged_access, &forged_refresh).await;
    }
    // A header change breaks the signature as well (the header is signed).
    let forged_access = with_header(&access, json!({ "kid": "other" }), signature_of(&access));
    let forged_refresh = with_header(&refresh, json!({ "typ": "at+jwt" }), signature_of(&refresh));
    assert_forgery_rejected(&app, &forged_access, &forged_refresh).await;

    // Alice is still alice, and her refresh token was neither spent nor revoked.
    let (status, me) = status_json(userinfo(&app, &access).await).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["preferred_username"], "alice");
    assert_still_refreshes(&app, &refresh).await;
}

async fn token_signed_by_a_foreign_key_under_our_kid_is_rejected(backend: Backend) {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    let foreign = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("rsa key");
    let der = foreign.to_pkcs1_der().expect("der");
    let key = jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes());
    let resign = |token: &str| {
        let (header, claims) = peek(token);
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.typ = header["typ"].as_str().map(str::to_string);
        h.kid = header["kid"].as_str().map(str::to_string);
        jsonwebtoken::encode(&h, &claims, &key).expect("sign")
    };
    assert_forgery_rejected(&app, &resign(&access), &resign(&refresh)).await;
    assert_still_refreshes(&app, &refresh).await;
}

async fn malformed_tokens_are_rejected(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    let (h, p) = {
        let mut parts = access.split('.');
        (
            parts.next().expect("h").to_string(),
            parts.next().expect("p").to_string(),
        )
    };
    let huge = format!("{h}.{}.{}", "A".repeat(20_000), signature_of(&access));
    let cases = [
        "garbage".to_string(),
        "a.b".to_string(),
        "a.b.c".to_string(),
        "a.b.c.d".to_string(),
        "....".to_string(),
        format!("{h}.{p}"),
        format!("{access}.extra"),
        format!("{h}=.{p}.{}", signature_of(&access)),
        format!("{h}.{p}.{}", "A".repeat(342)),
        format!("{}.{p}.{}", b64url(b"not json"), signature_of(&access)),
        format!("{}.{p}.{}", b64url(b"[]"), signature_of(&access)),
        format!("{h}.{}.{}", b64url(b"null"), signature_of(&access)),
        huge,
    ];
    for token in &cases {
        assert_forgery_rejected(&app, token, token).await;
    }
    // A non-ASCII token in a JSON body.
    assert_token_not_valid(post_verify(&app, "é.é.é").await, "non-ASCII").await;
    assert_token_not_valid(post_refresh(&app, "é.é.é").await, "non-ASCII").await;
    assert_still_refreshes(&app, &refresh).await;
}

async fn expired_access_token_is_rejected(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.access_ttl = Some("1s".into());
        args.leeway = Some("0s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    let (_, claims) = peek(&access);
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        1
    );

    assert_eq!(userinfo(&app, &access).await.status(), StatusCode::OK);
    app.advance(1);
    let (_, refusal) = status_json(userinfo(&app, &access).await).await;
    assert_eq!(refusal["error"], "invalid_token", "{refusal}");
    assert!(
        refusal["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("expired")),
        "the refusal should say the token expired: {refusal}"
    );
    assert_token_not_valid(post_verify(&app, &access).await, "verify expired access").await;
    // The refresh token outlives it and gets a fresh access token.
    assert_still_refreshes(&app, &refresh).await;
}

async fn refresh_token_is_not_accepted_as_an_access_token(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    assert_bearer_refused(
        userinfo(&app, &refresh).await,
        "refresh token at GET /userinfo",
    )
    .await;
    let resp = app
        .http
        .post(app.url("/userinfo"))
        .bearer_auth(&refresh)
        .send()
        .await
        .expect("request");
    assert_bearer_refused(resp, "refresh token at POST /userinfo").await;
    let resp = app
        .post_form("/userinfo", &[("access_token", &refresh)])
        .await;
    assert_bearer_refused(resp, "refresh token as a form access_token").await;
    // Verify accepts refresh tokens by design (like simplejwt), without spending them.
    let (status, _) = status_json(post_verify(&app, &refresh).await).await;
    assert_eq!(status, 200);
    assert_still_refreshes(&app, &refresh).await;
}

async fn access_token_is_not_accepted_as_a_refresh_token(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    assert_token_not_valid(post_refresh(&app, &access).await, "access at refresh").await;
    assert_token_not_valid(post_blacklist(&app, &access).await, "access at blacklist").await;
    let (status, body) = status_json(
        app.post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "simplejwt"),
                ("refresh_token", &access),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant")),
        "{body}"
    );
    // Neither token was harmed.
    let (status, _) = status_json(userinfo(&app, &access).await).await;
    assert_eq!(status, 200);
    assert_still_refreshes(&app, &refresh).await;
}

// ---------------------------------------------------------------------------------------
// Hostile requests at /api/token/: clear 4xx answers, nothing changed.

both_backends!(
    wrong_password_gets_the_same_answer_as_an_unknown_user,
    malformed_json_is_a_400_parse_error,
    one_megabyte_body_is_refused_with_413,
    blank_or_missing_fields_are_drf_field_errors,
    ten_kilobyte_username_is_refused_with_a_field_error,
    unsupported_content_type_is_refused_with_415,
);

async fn wrong_password_gets_the_same_answer_as_an_unknown_user(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    app.add_user("carol", PASSWORD, false).await;
    let out = app.cli(&["user", "disable", "carol"], "").await;
    assert!(out.status.success(), "{}", out.stderr);

    let expected = json!({
        "detail": "No active account found with the given credentials",
        "code": "no_active_account",
    });
    for (username, password) in [
        ("alice", "wrong password"),
        ("alice", ""),
        ("mallory", "wrong password"),
        ("mallory", PASSWORD),
        ("carol", PASSWORD),
        ("al ice", PASSWORD),
        ("al\0ice", PASSWORD),
        ("ALICE", PASSWORD),
    ] {
        let resp = app
            .post_json(
                "/api/token/",
                json!({ "username": username, "password": password }),
            )
            .await;
        let (status, body) = status_json(resp).await;
        if password.is_empty() {
            // Blank is a field error before any check, as in DRF.
            assert_eq!(status, 400, "{body}");
            continue;
        }
        assert_eq!(status, 401, "{username}: {body}");
        assert_eq!(body, expected, "{username}");
    }
    assert_still_refreshes(&app, &refresh).await;
    app.tokens("alice", PASSWORD).await;
}

async fn malformed_json_is_a_400_parse_error(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"username": "alice", "password": "hunter2-SECRET""#.to_vec(),
        b"not json".to_vec(),
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"[1, 2, 3]".to_vec(),
        br#""alice""#.to_vec(),
        br#"{"username": 5, "password": "x"}"#.to_vec(),
        br#"{"username": ["alice"], "password": "x"}"#.to_vec(),
        br#"{"refresh": {"nested": true}, "token": 1.5}"#.to_vec(),
        b"{\"username\": \"\xff\xfe\", \"password\": \"x\"}".to_vec(),
        deep.into_bytes(),
    ];
    for path in [
        "/api/token/",
        "/api/token/refresh/",
        "/api/token/verify/",
        "/api/token/blacklist/",
    ] {
        for body in &bodies {
            let resp = app
                .http
                .post(app.url(path))
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await
                .expect("request");
            let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
            let (status, answer) = status_json(resp).await;
            assert_eq!(status, 400, "{path} {shown:?}: {answer}");
            // Unparseable, or (unknown fields being ignored) a body without the field.
            assert!(
                answer["code"] == "parse_error" || answer["code"] == "invalid",
                "{path} {shown:?}: {answer}"
            );
            let detail = answer["detail"].as_str().unwrap_or_default();
            assert!(!detail.is_empty(), "{path} {shown:?}: {answer}");
            assert!(
                !detail.contains("hunter2"),
                "the error must not echo the body: {answer}"
            );
        }
    }
    assert_still_refreshes(&app, &refresh).await;
}

async fn one_megabyte_body_is_refused_with_413(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    let big_json = format!(
        r#"{{"username": "alice", "password": "{PASSWORD}", "padding": "{}"}}"#,
        "x".repeat(1 << 20)
    );
    let big_form = format!("username=alice&password=x&padding={}", "x".repeat(1 << 20));
    for path in [
        "/api/token/",
        "/api/token/refresh/",
        "/api/token/verify/",
        "/api/token/blacklist/",
    ] {
        for (content_type, body) in [
            ("application/json", &big_json),
            ("application/x-www-form-urlencoded", &big_form),
        ] {
            let resp = app
                .http
                .post(app.url(path))
                .header(CONTENT_TYPE, content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path} {content_type}: no answer to a 1 MB body: {e}"));
            let (status, answer) = status_json(resp).await;
            assert_eq!(status, 413, "{path} {content_type}: {answer}");
            assert_eq!(answer["code"], "parse_error", "{answer}");
            assert!(answer["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }
    assert_still_refreshes(&app, &refresh).await;
}

async fn blank_or_missing_fields_are_drf_field_errors(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    let blank = json!(["This field may not be blank."]);
    let required = json!(["This field is required."]);

    let cases = [
        (
            "/api/token/",
            json!({ "username": "", "password": PASSWORD }),
            vec![("username", &blank)],
        ),
        (
            "/api/token/",
            json!({ "username": "   ", "password": PASSWORD }),
            vec![("username", &blank)],
        ),
        (
            "/api/token/",
            json!({}),
            vec![("username", &required), ("password", &required)],
        ),
        (
            "/api/token/",
            json!({ "username": "alice" }),
            vec![("password", &required)],
        ),
        (
            "/api/token/",
            json!({ "username": null, "password": PASSWORD }),
            vec![("username", &required)],
        ),
        (
            "/api/token/refresh/",
            json!({}),
            vec![("refresh", &required)],
        ),
        (
            "/api/token/refresh/",
            json!({ "refresh": "" }),
            vec![("refresh", &blank)],
        ),
        ("/api/token/verify/", json!({}), vec![("token", &required)]),
        (
            "/api/token/verify/",
            json!({ "token": "" }),
            vec![("token", &blank)],
        ),
        (
            "/api/token/blacklist/",
            json!({}),
            vec![("refresh", &required)],
        ),
    ];
    for (path, body, fields) in cases {
        let (status, answer) = status_json(app.post_json(path, body.clone()).await).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(answer["code"], "invalid", "{path} {body}: {answer}");
        assert!(answer["detail"].is_string(), "{answer}");
        for (field, message) in fields {
            assert_eq!(&answer[field], message, "{path} {body}: {answer}");
        }
    }
    // The same from a form body.
    let (status, answer) = status_json(
        app.post_form("/api/token/", &[("username", ""), ("password", "")])
            .await,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["username"], blank);
    assert_eq!(answer["password"], blank);
    assert_still_refreshes(&app, &refresh).await;
}

async fn ten_kilobyte_username_is_refused_with_a_field_error(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    for username in ["a".repeat(10 * 1024), "é".repeat(5 * 1024)] {
        let (status, answer) = status_json(
            app.post_json(
                "/api/token/",
                json!({ "username": username, "password": PASSWORD }),
            )
            .await,
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["code"], "invalid", "{answer}");
        assert!(
            answer["username"][0]
                .as_str()
                .is_some_and(|m| m.contains("150")),
            "{answer}"
        );
        let (status, answer) = status_json(
            app.post_form(
                "/api/token/",
                &[("username", &username), ("password", PASSWORD)],
            )
            .await,
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["username"].is_array(), "{answer}");
    }
    // A 10 KB password is refused before any hashing, as a field error too.
    let (status, answer) = status_json(
        app.post_json(
            "/api/token/",
            json!({ "username": "alice", "password": "p".repeat(10 * 1024) }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["password"].is_array(), "{answer}");
    assert_still_refreshes(&app, &refresh).await;
}

async fn unsupported_content_type_is_refused_with_415(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    let body = json!({ "username": "alice", "password": PASSWORD }).to_string();
    for content_type in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=xyz",
        "application/octet-stream",
        "nonsense",
    ] {
        for path in ["/api/token/", "/api/token/refresh/", "/api/token/verify/"] {
            let resp = app
                .http
                .post(app.url(path))
                .header(CONTENT_TYPE, content_type)
                .body(body.clone())
                .send()
                .await
                .expect("request");
            let (status, answer) = status_json(resp).await;
            assert_eq!(status, 415, "{path} {content_type}: {answer}");
            assert_eq!(answer["code"], "parse_error", "{answer}");
            assert!(
                answer["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("application/json")),
                "the error should name what is accepted: {answer}"
            );
        }
    }
    // A JSON media type with parameters is fine.
    let resp = app
        .http
        .post(app.url("/api/token/"))
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    assert_still_refreshes(&app, &refresh).await;
}

// ---------------------------------------------------------------------------------------
// Concurrency and the ends of a refresh token's life.

both_backends!(
    concurrent_refreshes_of_one_token_yield_exactly_one_pair,
    with_grace_concurrent_refreshes_of_one_token_all_get_the_same_pair,
    expired_refresh_token_is_rejected,
    refresh_family_ends_at_refresh_max_lifetime,
);

/// Presents `token` to `/api/token/refresh/` from `n` tasks at once.
async fn refresh_concurrently(app: &TestApp, token: &str, n: usize) -> Vec<(StatusCode, Value)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (http, url) = (app.http.clone(), app.url("/api/token/refresh/"));
            let body = json!({ "refresh": token });
            tokio::spawn(async move {
                status_json(http.post(url).json(&body).send().await.expect("request")).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers
}

async fn concurrent_refreshes_of_one_token_yield_exactly_one_pair(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let answers = refresh_concurrently(&app, &refresh0, 8).await;
    let winners: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one spend wins: {answers:?}");
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::OK
                || (*status == StatusCode::UNAUTHORIZED && body["code"] == "token_not_valid"),
            "no other answer than the pair or token_not_valid: {answers:?}"
        );
    }
    // Strict mode: the losers were replays, so the family is gone, winner's pair included.
    let (_, refresh1) = pair_of(winners[0]);
    assert_token_not_valid(post_refresh(&app, &refresh1).await, "winner after replays").await;
}

async fn with_grace_concurrent_refreshes_of_one_token_all_get_the_same_pair(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_grace = Some("30s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let answers = refresh_concurrently(&app, &refresh0, 8).await;
    let first = &answers[0].1;
    for (status, body) in &answers {
        assert_eq!(
            *status, 200,
            "every retry within the window succeeds: {answers:?}"
        );
        assert_eq!(body, first, "and gets the same pair");
    }
    let (_, refresh1) = pair_of(first);
    assert_still_refreshes(&app, &refresh1).await;
}

async fn expired_refresh_token_is_rejected(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_ttl = Some("1s".into());
        args.leeway = Some("0s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    let (_, claims) = peek(&refresh);
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        1
    );
    assert_eq!(post_verify(&app, &refresh).await.status(), StatusCode::OK);
    app.advance(1);
    assert_token_not_valid(post_verify(&app, &refresh).await, "verify expired refresh").await;
    assert_token_not_valid(post_refresh(&app, &refresh).await, "expired refresh").await;
    assert_token_not_valid(post_blacklist(&app, &refresh).await, "blacklist expired").await;
    let (status, body) = status_json(
        app.post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "simplejwt"),
                ("refresh_token", &refresh),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant")),
        "{body}"
    );
    // Logging in again works.
    app.tokens("alice", PASSWORD).await;
}

async fn refresh_family_ends_at_refresh_max_lifetime(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.refresh_max_lifetime = Some("1h".into());
        args.leeway = Some("0s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh0) = app.tokens("alice", PASSWORD).await;
    let family_end = peek(&refresh0).1["iat"].as_i64().expect("iat") + 3600;
    assert_eq!(
        peek(&refresh0).1["exp"],
        family_end,
        "REFRESH_TTL (24h) is capped by the family's end"
    );

    // However often it rotates, no token outlives the family, and the family ends.
    let mut current = refresh0;
    for minutes in [30, 29] {
        app.advance(minutes * 60);
        let (status, body) = status_json(post_refresh(&app, &current).await).await;
        assert_eq!(status, 200, "the family is still alive: {body}");
        let (_, next) = pair_of(&body);
        let exp = peek(&next).1["exp"].as_i64().expect("exp");
        assert_eq!(exp, family_end, "a successor never outlives its family");
        current = next;
    }
    app.advance(60);
    let (status, body) = status_json(post_refresh(&app, &current).await).await;
    assert_eq!(status, 401, "the family ended after an hour: {body}");
    assert_eq!(body["code"], "token_not_valid", "{body}");
}

both_backends!(
    repeated_password_failures_are_throttled_on_the_json_endpoints,
    the_address_window_throttles_a_spray_over_many_usernames,
);

/// `/api/token/` and the password grant share the login page's windows: after N failures
/// for a username, even the right password gets 429 with Retry-After until the window ends,
/// and an unknown username is answered exactly like a known one.
async fn repeated_password_failures_are_throttled_on_the_json_endpoints(backend: Backend) {
    let Some(app) =
        spawn_app_with(backend, |a| a.login_throttle = Some("3/15m,50/15m".into())).await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    for user in ["alice", "nobody-here"] {
        let mut answers = Vec::new();
        for _ in 0..3 {
            let resp = app.simplejwt_login(user, "wrong").await;
            answers.push(resp.status());
        }
        assert_eq!(answers, [StatusCode::UNAUTHORIZED; 3], "{user}");
        let resp = app.simplejwt_login(user, PASSWORD).await;
        let retry_after: i64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&retry_after), "{retry_after}");
        let (status, body) = status_json(resp).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{user}: {body}");
        assert_eq!(body["code"], "throttled");
        assert!(
            !body.to_string().contains(user),
            "no hint about the account"
        );
    }
    // The same window holds for the password grant at /token.
    let secret = app
        .add_client(&["pw", "--grant", "password"])
        .await
        .expect("confidential");
    let resp = crate::helpers::password_grant(
        &app.http,
        &app.address,
        "pw",
        &secret,
        "alice",
        PASSWORD,
        "openid",
    )
    .await;
    assert!(resp.headers().contains_key("retry-after"));
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"gatehouse_login_throttled_total{endpoint="simplejwt"} 2"#));
    assert!(metrics.contains(r#"gatehouse_login_throttled_total{endpoint="password_grant"} 1"#));
}

async fn the_address_window_throttles_a_spray_over_many_usernames(backend: Backend) {
    let Some(app) =
        spawn_app_with(backend, |a| a.login_throttle = Some("100/15m,4/15m".into())).await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    for i in 0..4 {
        let resp = app.simplejwt_login(&format!("user{i}"), "wrong").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let resp = app.simplejwt_login("alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
}
