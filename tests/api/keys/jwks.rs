//! The JWKS: the current, next and standby public keys with thumbprint kids, its ETag and
//! caching, and the configured key size.

use super::*;

both_backends!(
    jwks_lists_current_next_and_standby_public_keys_with_thumbprint_kids,
    jwks_is_cacheable_with_a_strong_etag_and_answers_304,
    jwks_max_age_follows_the_setting,
    keys_have_the_configured_size,
);

const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// RFC 7638 thumbprint of an RSA key, computed independently of the server.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = json!({ "e": e, "kty": "RSA", "n": n }).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

async fn jwks_lists_current_next_and_standby_public_keys_with_thumbprint_kids(backend: Backend) {
    let Some(app) = spawn_app_first_start(backend).await else {
        return;
    };
    let resp = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("application/json"), "{ctype}");
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let jwks: Value = resp.json().await.unwrap();
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 3, "current, next and standby: {jwks}");
    for key in keys {
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "RS256");
        let (n, e) = (key["n"].as_str().unwrap(), key["e"].as_str().unwrap());
        assert_eq!(
            key["kid"].as_str().unwrap(),
            thumbprint(n, e),
            "RFC 7638 kid"
        );
        let modulus = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(n)
            .expect("n is base64url without padding");
        assert_eq!(modulus.len() * 8, 2048, "KEY_SIZE default");
        assert_eq!(e, "AQAB");
        for member in PRIVATE_MEMBERS {
            assert!(
                key.get(member).is_none(),
                "private member {member} published"
            );
        }
    }

    let rows = app.stored_keys().await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    let (current, next, standby) = (
        only(&rows, "current"),
        only(&rows, "next"),
        only(&rows, "standby"),
    );
    assert_eq!(
        kids(&jwks),
        BTreeSet::from([current.clone(), next, standby])
    );

    app.add_user("alice", "correct horse battery", false).await;
    let (access, refresh) = app.tokens("alice", "correct horse battery").await;
    assert_eq!(kid_of(&access), current);
    assert_eq!(kid_of(&refresh), current);
    let claims =
        verify_with_jwks(&access, &jwks, &app.settings.issuer).expect("verifies against the JWKS");
    // ISSUER defaults to http://BIND.
    assert_eq!(claims["iss"], format!("http://127.0.0.1:{}", app.port));
}

async fn jwks_is_cacheable_with_a_strong_etag_and_answers_304(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let resp = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "a strong ETag: {etag}"
    );

    let get_with = |value: String| {
        let app = &app;
        async move {
            app.http
                .get(app.url("/.well-known/jwks.json"))
                .header("If-None-Match", value)
                .send()
                .await
                .unwrap()
        }
    };
    let not_modified = get_with(etag.clone()).await;
    assert_eq!(not_modified.status(), 304);
    assert_eq!(not_modified.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(
        not_modified.headers()["cache-control"],
        "public, max-age=300"
    );
    assert!(not_modified.bytes().await.unwrap().is_empty());

    // One of several tags, and the weak form of ours (If-None-Match compares weakly,
    // RFC 9110 §13.1.2; nginx's gzip turns strong tags into weak ones).
    let listed = get_with(format!("\"something-else\", {etag}")).await;
    assert_eq!(listed.status(), 304);
    let weak = get_with(format!("W/{etag}")).await;
    assert_eq!(weak.status(), 304, "W/ form of the current ETag");

    let other = get_with("\"not-the-etag\"".into()).await;
    assert_eq!(other.status(), 200);
    assert_eq!(other.headers()["etag"].to_str().unwrap(), etag);
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["keys"].as_array().unwrap().len(), 3);

    // Same keys, same body, same tag.
    assert_eq!(jwks_etag(&app).await, etag);
}

async fn jwks_max_age_follows_the_setting(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.jwks_max_age = Some("42s".into());
    })
    .await
    else {
        return;
    };
    let resp = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "public, max-age=42");
}

async fn keys_have_the_configured_size(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.key_size = Some("3072".into());
    })
    .await
    else {
        return;
    };
    let check = |jwks: &Value| {
        for key in jwks["keys"].as_array().unwrap() {
            let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(key["n"].as_str().unwrap())
                .unwrap();
            assert_eq!(n.len() * 8, 3072, "{}", key["kid"]);
        }
    };
    check(&app.jwks().await);
    // Keys made by a rotation too (the same use case as the CLI's and the admin API's).
    let outcome = app
        .state
        .keys
        .rotate(None, RotationKind::Manual)
        .await
        .map(gatehouse::keys::rotation::RotationOutcome::combined)
        .expect("rotation");
    let new_next = outcome.next.expect("a new next key");
    let jwks = app.jwks().await;
    assert!(kids(&jwks).contains(&new_next), "served at once: {jwks}");
    check(&jwks);
}
