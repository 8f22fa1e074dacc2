//! Forged tokens (alg none, HS256 keyed with the public key, tampered claims, a foreign key
//! under our kid, malformed JWTs) are refused at every endpoint that takes a token, and
//! the genuine tokens keep working.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    assemble_jwt, assert_invalid_token, b64url, peek, status_json, Backend, TestApp,
};

use super::{
    app_with_alice, assert_still_refreshes, assert_token_not_valid, post_blacklist, post_refresh,
    post_verify, PASSWORD,
};

both_backends!(
    token_with_alg_none_is_rejected,
    hs256_token_keyed_with_the_public_key_is_rejected,
    token_with_tampered_claims_is_rejected,
    token_signed_by_a_foreign_key_under_our_kid_is_rejected,
    malformed_tokens_are_rejected,
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
    assert_invalid_token(app.userinfo(forged_access).await, &what("userinfo")).await;
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
    let (status, me) = status_json(app.userinfo(&access).await).await;
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
