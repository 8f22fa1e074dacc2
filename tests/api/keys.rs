//! Signing keys as the outside world sees them: the JWKS, rotation (CLI, admin API,
//! schedule, emergency) and the master key. Several processes on one database:
//! tests/system/key_processes.rs.

use std::collections::BTreeSet;

use base64::Engine;
use gatehouse::keys::rotation::RotationKind;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::both_backends;
use crate::helpers::{
    eventually, kid_of, kids, only, run_cli_env, spawn_app, spawn_app_first_start, spawn_app_with,
    verify_with_jwks, with_state, Backend, TestApp,
};
use gatehouse::domain::utc_datetime;

both_backends!(
    jwks_lists_current_next_and_standby_public_keys_with_thumbprint_kids,
    jwks_is_cacheable_with_a_strong_etag_and_answers_304,
    jwks_max_age_follows_the_setting,
    keys_have_the_configured_size,
    cli_rotation_keeps_earlier_tokens_valid_and_signs_with_the_former_next_key,
    emergency_rotation_via_cli_revokes_the_current_key_and_its_tokens,
    emergency_rotation_via_admin_api_takes_effect_at_once,
    jwks_keeps_retired_key_until_its_tokens_expire,
    scheduled_rotation_promotes_the_next_key_by_itself,
    an_emergency_right_after_a_scheduled_rotation_promotes_a_key_every_cache_holds,
    revoking_a_retired_key_by_kid_refuses_its_tokens_and_keeps_the_current_ones,
    revoking_the_next_or_standby_key_replans_the_schedule,
    a_different_master_key_is_refused_with_a_plain_message,
);

const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// RFC 7638 thumbprint of an RSA key, computed independently of the server.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = json!({ "e": e, "kty": "RSA", "n": n }).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

async fn jwks_etag(app: &TestApp) -> String {
    app.http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("request")
        .headers()
        .get("etag")
        .expect("etag")
        .to_str()
        .expect("ascii")
        .to_string()
}

async fn verify_status(app: &TestApp, token: &str) -> u16 {
    app.post_json("/api/token/verify/", json!({ "token": token }))
        .await
        .status()
        .as_u16()
}

async fn userinfo_status(app: &TestApp, access: &str) -> u16 {
    app.http
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn refresh(app: &TestApp, refresh: &str) -> reqwest::Response {
    app.post_json("/api/token/refresh/", json!({ "refresh": refresh }))
        .await
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

async fn cli_rotation_keeps_earlier_tokens_valid_and_signs_with_the_former_next_key(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "correct horse battery", false).await;
    let (old_access, old_refresh) = app.tokens("alice", "correct horse battery").await;
    let before = app.stored_keys().await;
    let (old_current, old_next, old_standby) = (
        only(&before, "current"),
        only(&before, "next"),
        only(&before, "standby"),
    );
    assert_eq!(kid_of(&old_access), old_current);
    let old_etag = jwks_etag(&app).await;

    let out = app.cli(&["keys", "rotate"], "").await;
    assert!(out.status.success(), "keys rotate: {}", out.stderr);
    let outcome: Value = serde_json::from_str(&out.stdout).expect("rotate prints JSON");
    assert_eq!(outcome["rotated"], true);
    assert_eq!(outcome["current"], json!(old_next));
    assert_eq!(outcome["next"], json!(old_standby));
    assert_eq!(outcome["retired"], json!(old_current));
    assert!(outcome["revoked"].is_null());
    let new_standby = outcome["standby"]
        .as_str()
        .expect("a new standby key")
        .to_string();
    assert!(![&old_current, &old_next, &old_standby].contains(&&new_standby));
    // The next key was published a moment ago, well under JWKS_MAX_AGE: the operator is told.
    assert!(
        outcome["warning"].as_str().is_some_and(|w| !w.is_empty()),
        "{outcome}"
    );
    assert!(out.stderr.contains("warning"), "{}", out.stderr);

    // Another process rotated: the server picks it up at its next key upkeep, which a move
    // of its clock runs at once (stack.rs holds real instances to the 5 s of the contract).
    app.advance(1);
    let noticed = eventually(5, || async { jwks_etag(&app).await != old_etag }).await;
    assert!(
        noticed,
        "the server did not pick up the rotation at its next upkeep"
    );
    let jwks = app.jwks().await;
    assert_eq!(
        kids(&jwks),
        BTreeSet::from([
            old_current.clone(),
            old_next.clone(),
            old_standby.clone(),
            new_standby.clone()
        ]),
        "current, next, standby and the retired key are published"
    );

    // Tokens signed before the rotation still verify, downstream and here.
    verify_with_jwks(&old_access, &jwks, &app.settings.issuer).expect("old token verifies");
    assert_eq!(verify_status(&app, &old_access).await, 200);
    assert_eq!(verify_status(&app, &old_refresh).await, 200);
    assert_eq!(userinfo_status(&app, &old_access).await, 200);

    // New tokens carry the former next key's kid; a refresh of an old token too.
    let (new_access, _) = app.tokens("alice", "correct horse battery").await;
    assert_eq!(kid_of(&new_access), old_next);
    verify_with_jwks(&new_access, &jwks, &app.settings.issuer).expect("new token verifies");
    let refreshed = refresh(&app, &old_refresh).await;
    assert_eq!(refreshed.status(), 200);
    let pair: Value = refreshed.json().await.unwrap();
    assert_eq!(kid_of(pair["access"].as_str().unwrap()), old_next);
    assert_eq!(kid_of(pair["refresh"].as_str().unwrap()), old_next);

    let after = app.stored_keys().await;
    assert_eq!(only(&after, "current"), old_next);
    assert_eq!(only(&after, "next"), old_standby);
    assert_eq!(only(&after, "standby"), new_standby);
    assert_eq!(only(&after, "retired"), old_current);
    assert!(with_state(&after, "revoked").is_empty());
}

async fn emergency_rotation_via_cli_revokes_the_current_key_and_its_tokens(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "correct horse battery", false).await;
    let (old_access, old_refresh) = app.tokens("alice", "correct horse battery").await;
    let before = app.stored_keys().await;
    let (compromised, next, standby) = (
        only(&before, "current"),
        only(&before, "next"),
        only(&before, "standby"),
    );

    let out = app.cli(&["keys", "rotate", "--emergency"], "").await;
    assert!(
        out.status.success(),
        "keys rotate --emergency: {}",
        out.stderr
    );
    let outcome: Value = serde_json::from_str(&out.stdout).expect("rotate prints JSON");
    assert_eq!(outcome["revoked"], json!(compromised));
    assert!(outcome["retired"].is_null());
    assert_eq!(outcome["current"], json!(next));
    assert_eq!(outcome["next"], json!(standby));
    assert_eq!(outcome["families_revoked"], 1, "alice's family: {outcome}");
    let new_standby = outcome["standby"]
        .as_str()
        .expect("a new standby key")
        .to_string();
    // In words too: the key revoked, the key that signs now and when it was published.
    let published = before.iter().find(|k| k.kid == next).unwrap().created_at;
    assert_eq!(outcome["current_published_at"], published);
    assert!(
        out.stderr.contains(&format!("revoked {compromised}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "{next} signs now, published {}",
            utc_datetime(published)
        )),
        "{}",
        out.stderr
    );

    // Picked up at the server's next key upkeep, which a move of its clock runs at once.
    app.advance(1);
    let gone = eventually(5, || async {
        !kids(&app.jwks().await).contains(&compromised)
    })
    .await;
    assert!(
        gone,
        "the revoked key is still published after the next upkeep"
    );
    let jwks = app.jwks().await;
    assert_eq!(
        kids(&jwks),
        BTreeSet::from([next.clone(), standby.clone(), new_standby.clone()])
    );

    assert!(verify_with_jwks(&old_access, &jwks, &app.settings.issuer).is_err());
    let verify = app
        .post_json("/api/token/verify/", json!({ "token": old_access }))
        .await;
    assert_eq!(verify.status(), 401);
    let body: Value = verify.json().await.unwrap();
    assert_eq!(body["code"], "token_not_valid");
    assert_eq!(verify_status(&app, &old_refresh).await, 401);
    assert_eq!(userinfo_status(&app, &old_access).await, 401);
    assert_eq!(refresh(&app, &old_refresh).await.status(), 401);

    let (new_access, new_refresh) = app.tokens("alice", "correct horse battery").await;
    assert_eq!(kid_of(&new_access), next);
    assert_eq!(verify_status(&app, &new_access).await, 200);
    assert_eq!(refresh(&app, &new_refresh).await.status(), 200);

    let after = app.stored_keys().await;
    assert_eq!(with_state(&after, "revoked"), [compromised]);
    assert_eq!(only(&after, "current"), next);
    assert_eq!(only(&after, "next"), standby);
    assert_eq!(only(&after, "standby"), new_standby);
    assert!(with_state(&after, "retired").is_empty());
}

async fn emergency_rotation_via_admin_api_takes_effect_at_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.add_user("alice", "correct horse battery", false).await;
    let (old_access, old_refresh) = app.tokens("alice", "correct horse battery").await;
    let compromised = kid_of(&old_access);

    let resp = app
        .http
        .post(app.url("/admin/keys/rotate"))
        .bearer_auth(&admin)
        .json(&json!({ "emergency": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let outcome: Value = resp.json().await.unwrap();
    assert_eq!(outcome["revoked"], json!(compromised));
    let promoted = outcome["current"].as_str().expect("current").to_string();
    let new_next = outcome["next"].as_str().expect("next").to_string();
    let new_standby = outcome["standby"].as_str().expect("standby").to_string();
    assert_ne!(promoted, compromised);

    // The instance that rotated serves the change at once: no polling needed.
    let jwks = app.jwks().await;
    assert_eq!(
        kids(&jwks),
        BTreeSet::from([promoted.clone(), new_next, new_standby])
    );
    assert_eq!(verify_status(&app, &old_access).await, 401);
    assert_eq!(userinfo_status(&app, &old_access).await, 401);
    assert_eq!(refresh(&app, &old_refresh).await.status(), 401);
    // The admin token was signed by the revoked key too.
    let keys = app
        .http
        .get(app.url("/admin/keys"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), 401);

    let (new_access, _) = app.tokens("alice", "correct horse battery").await;
    assert_eq!(kid_of(&new_access), promoted);
    verify_with_jwks(&new_access, &jwks, &app.settings.issuer).expect("verifies");
}

async fn jwks_keeps_retired_key_until_its_tokens_expire(backend: Backend) {
    // Every token lives 2 s, no leeway: a retired key is needed for 2 s after retirement.
    let Some(app) = spawn_app_with(backend, |args| {
        args.access_ttl = Some("2s".into());
        args.refresh_ttl = Some("2s".into());
        args.id_token_ttl = Some("2s".into());
        args.leeway = Some("0s".into());
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let retired = kid_of(&admin);
    let resp = app
        .http
        .post(app.url("/admin/keys/rotate"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let outcome: Value = resp.json().await.unwrap();
    assert_eq!(outcome["retired"], json!(retired));
    assert!(
        kids(&app.jwks().await).contains(&retired),
        "a freshly retired key stays published"
    );
    let rows = app.stored_keys().await;
    assert_eq!(with_state(&rows, "retired"), std::slice::from_ref(&retired));

    // A second later its last tokens are still alive: the upkeep keeps it.
    app.advance(1);
    app.state.keys.maintain_once().await.expect("upkeep");
    assert!(
        kids(&app.jwks().await).contains(&retired),
        "removed while tokens it signed were still alive"
    );
    // They expire two seconds after retirement; the upkeep runs when time moves.
    app.advance(1);
    let removed = eventually(5, || async { !kids(&app.jwks().await).contains(&retired) }).await;
    assert!(removed, "the retired key outlived its tokens");
    assert_eq!(app.jwks().await["keys"].as_array().unwrap().len(), 3);
    let gone_from_db = eventually(5, || async {
        !app.stored_keys().await.iter().any(|r| r.kid == retired)
    })
    .await;
    assert!(gone_from_db, "the expired retired key was not removed");
}

/// Seconds after which a stored key is in every honest cache: JWKS_MAX_AGE plus the time
/// instances take to serve it (KEY_POLL_INTERVAL, an hour in these tests, and a second).
fn cached_everywhere_after(app: &TestApp) -> u64 {
    app.state.keys.policy.rotation.cached_everywhere_after() as u64
}

/// Moves the clock by `secs` and runs the key upkeep, as every move does.
async fn advance_and_upkeep(app: &TestApp, secs: u64) {
    app.advance(secs);
    app.state.keys.maintain_once().await.expect("upkeep");
}

async fn scheduled_rotation_promotes_the_next_key_by_itself(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.key_rotation_interval = Some("2s".into());
        args.jwks_max_age = Some("1s".into());
    })
    .await
    else {
        return;
    };
    let before = app.stored_keys().await;
    let (first, second) = (only(&before, "current"), only(&before, "next"));
    let initial: BTreeSet<String> = before.iter().map(|k| k.kid.clone()).collect();
    let cached = cached_everywhere_after(&app);

    // Not due before the interval is over, nor before the next and standby keys have been
    // published for JWKS_MAX_AGE plus the time instances take to serve them.
    advance_and_upkeep(&app, 2).await;
    assert_eq!(kids(&app.jwks().await), initial, "rotated too early");
    advance_and_upkeep(&app, cached - 3).await;
    assert_eq!(kids(&app.jwks().await), initial, "rotated too early");
    // Then a rotation generates a new standby key, which the JWKS lists.
    app.advance(1);
    let rotated = eventually(5, || async { !kids(&app.jwks().await).is_subset(&initial) }).await;
    assert!(rotated, "no scheduled rotation once it was due");

    let after = app.stored_keys().await;
    let row = |kid: &str| after.iter().find(|r| r.kid == kid).cloned();
    assert_eq!(row(&first).expect("first key").state, "retired");
    assert_eq!(row(&second).expect("second key").state, "current");
    for state in ["current", "next", "standby"] {
        assert_eq!(with_state(&after, state).len(), 1, "{state}: {after:?}");
    }
    // The schedule never promotes a key that a cache may still lack.
    for r in after.iter().filter(|r| r.kid != first) {
        if let Some(activated) = r.activated_at {
            assert!(
                activated - r.created_at >= cached as i64,
                "key {} signed {}s after it was published",
                r.kid,
                activated - r.created_at
            );
        }
    }

    app.add_user("alice", "correct horse battery", false).await;
    let (access, _) = app.tokens("alice", "correct horse battery").await;
    assert_eq!(kid_of(&access), second, "the promoted next key signs");
    assert_eq!(verify_status(&app, &access).await, 200);
}

async fn an_emergency_right_after_a_scheduled_rotation_promotes_a_key_every_cache_holds(
    backend: Backend,
) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.key_rotation_interval = Some("2s".into());
        args.jwks_max_age = Some("1s".into());
    })
    .await
    else {
        return;
    };
    let cached = cached_everywhere_after(&app);
    // The schedule is due once the seed keys are cached everywhere; a verifier fetched the
    // JWKS a second before, and may keep it for JWKS_MAX_AGE plus the propagation time.
    advance_and_upkeep(&app, cached - 1).await;
    let verifier_cache = app.jwks().await;
    let before = app.stored_keys().await;
    advance_and_upkeep(&app, 1).await;
    let rotated = app.stored_keys().await;
    assert_ne!(
        only(&rotated, "current"),
        only(&before, "current"),
        "the scheduled rotation"
    );

    // One second later the key that just became current leaks.
    app.advance(1);
    let leaked = only(&rotated, "current");
    let outcome = app
        .state
        .keys
        .rotate(None, RotationKind::Emergency)
        .await
        .map(gatehouse::keys::rotation::RotationOutcome::combined)
        .expect("emergency rotation");
    assert_eq!(outcome.revoked.as_deref(), Some(leaked.as_str()));
    assert_eq!(outcome.warning, None, "{outcome:?}");
    let promoted = outcome.current.expect("a key signs");
    let published = outcome.current_published_at.expect("published at");
    assert!(
        app.clock.now() - published >= cached as i64,
        "the emergency promoted {promoted}, published {}s ago",
        app.clock.now() - published
    );

    // Tokens it signs verify against the JWKS the verifier still holds: no unknown kid.
    app.add_user("alice", "correct horse battery", false).await;
    let (access, _) = app.tokens("alice", "correct horse battery").await;
    assert_eq!(kid_of(&access), promoted);
    verify_with_jwks(&access, &verifier_cache, &app.settings.issuer)
        .expect("the promoted key was in the cached JWKS");
    assert!(!kids(&app.jwks().await).contains(&leaked));
}

async fn revoking_a_retired_key_by_kid_refuses_its_tokens_and_keeps_the_current_ones(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "correct horse battery", false).await;
    let (old_access, old_refresh) = app.tokens("alice", "correct horse battery").await;
    let leaked = kid_of(&old_access);
    app.state
        .keys
        .rotate(None, RotationKind::Manual)
        .await
        .map(gatehouse::keys::rotation::RotationOutcome::combined)
        .expect("rotation");
    let (new_access, new_refresh) = app.tokens("alice", "correct horse battery").await;
    let current = kid_of(&new_access);
    assert_ne!(current, leaked);
    let line_before = app.stored_keys().await;
    assert_eq!(only(&line_before, "retired"), leaked);

    let out = app
        .cli(
            &[
                "keys",
                "revoke",
                &leaked,
                "--reason",
                "found in a debug log",
            ],
            "",
        )
        .await;
    assert!(out.status.success(), "keys revoke: {}", out.stderr);
    let outcome: Value = serde_json::from_str(&out.stdout).expect("revoke prints JSON");
    assert_eq!(outcome["revoked"], json!(leaked));
    assert_eq!(
        outcome["current"],
        json!(current),
        "the current key signs on"
    );
    assert_eq!(outcome["families_revoked"], 1, "{outcome}");
    assert!(outcome["warning"].is_null(), "{outcome}");
    assert!(
        out.stderr.contains(&format!("revoked {leaked}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("{current} signs now, published")),
        "{}",
        out.stderr
    );

    // Picked up at the server's next key upkeep, which a move of its clock runs at once.
    app.advance(1);
    let gone = eventually(5, || async { !kids(&app.jwks().await).contains(&leaked) }).await;
    assert!(gone, "the revoked key is still published");
    let jwks = app.jwks().await;
    assert!(verify_with_jwks(&old_access, &jwks, &app.settings.issuer).is_err());
    assert_eq!(verify_status(&app, &old_access).await, 401);
    assert_eq!(verify_status(&app, &old_refresh).await, 401);
    assert_eq!(userinfo_status(&app, &old_access).await, 401);
    assert_eq!(refresh(&app, &old_refresh).await.status(), 401);
    // Nothing else moved; the current key's tokens live on.
    let line_after = app.stored_keys().await;
    for state in ["current", "next", "standby"] {
        assert_eq!(only(&line_after, state), only(&line_before, state));
    }
    assert_eq!(
        with_state(&line_after, "revoked"),
        std::slice::from_ref(&leaked)
    );
    verify_with_jwks(&new_access, &jwks, &app.settings.issuer).expect("current token");
    assert_eq!(verify_status(&app, &new_access).await, 200);
    assert_eq!(userinfo_status(&app, &new_access).await, 200);
    assert_eq!(refresh(&app, &new_refresh).await.status(), 200);

    // Who did it and why.
    let out = app
        .cli(&["audit", "--json", "--kind", "key.revoked"], "")
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    let event: Value =
        serde_json::from_str(out.stdout.lines().next().expect("an event")).expect("a JSON line");
    assert_eq!(event["subject"], json!(leaked));
    assert!(
        event["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("cli:")),
        "{event}"
    );
    let detail = event["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("reason: found in a debug log"), "{detail}");

    // Again, an unknown kid, or no reason: refused plainly, nothing changed.
    for (args, says) in [
        (
            vec!["keys", "revoke", leaked.as_str(), "--reason", "again"],
            "already revoked",
        ),
        (
            vec!["keys", "revoke", "no-such-kid", "--reason", "typo"],
            "no-such-kid",
        ),
        (
            vec!["keys", "revoke", current.as_str(), "--reason", " "],
            "reason",
        ),
    ] {
        let out = app.cli(&args, "").await;
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    assert_eq!(app.stored_keys().await, line_after);
}

async fn revoking_the_next_or_standby_key_replans_the_schedule(backend: Backend) {
    // Small numbers: a key is cached everywhere 3 s after it is stored (JWKS_MAX_AGE 1 s,
    // KEY_POLL_INTERVAL 1 s, a second for whole-second times); rotation every 10 s.
    let Some(app) = spawn_app_with(backend, |args| {
        args.key_rotation_interval = Some("10s".into());
        args.jwks_max_age = Some("1s".into());
        args.key_poll_interval = Some("1s".into());
    })
    .await
    else {
        return;
    };
    assert_eq!(cached_everywhere_after(&app), 3);
    let admin = app.admin_token().await;
    let revoke = |kid: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let resp = app
                .http
                .post(app.url(&format!("/admin/keys/{kid}/revoke")))
                .bearer_auth(admin)
                .json(&json!({ "reason": "left on a laptop" }))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()
        }
    };
    let start = app.stored_keys().await;
    let (current, next, standby) = (
        only(&start, "current"),
        only(&start, "next"),
        only(&start, "standby"),
    );

    // At 8 s the next key is revoked: the standby key moves up, a fresh standby key is
    // published, and the rotation due at 10 s waits until every cache holds it (11 s).
    advance_and_upkeep(&app, 8).await;
    let outcome = revoke(next.clone()).await;
    assert_eq!(outcome["revoked"], json!(next));
    assert_eq!(outcome["current"], json!(current));
    assert_eq!(outcome["next"], json!(standby));
    let fresh = outcome["standby"]
        .as_str()
        .expect("a new standby")
        .to_string();
    assert!(outcome["warning"].is_null(), "{outcome}");
    assert_eq!(
        kids(&app.jwks().await),
        BTreeSet::from([current.clone(), standby.clone(), fresh.clone()])
    );
    advance_and_upkeep(&app, 2).await;
    assert_eq!(app.current_kid().await, current, "rotated on the old plan");
    advance_and_upkeep(&app, 1).await;
    assert_eq!(app.current_kid().await, standby, "the replanned rotation");
    let line = app.stored_keys().await;
    assert_eq!(only(&line, "next"), fresh);
    let newest = only(&line, "standby");

    // At 20 s the standby key is revoked: only it is replaced, and the rotation due at 21 s
    // waits for its successor (23 s).
    advance_and_upkeep(&app, 9).await;
    let outcome = revoke(newest.clone()).await;
    assert_eq!(outcome["current"], json!(standby));
    assert_eq!(outcome["next"], json!(fresh));
    let successor = outcome["standby"]
        .as_str()
        .expect("a new standby")
        .to_string();
    assert_ne!(successor, newest);
    advance_and_upkeep(&app, 2).await;
    assert_eq!(app.current_kid().await, standby, "rotated on the old plan");
    advance_and_upkeep(&app, 1).await;
    assert_eq!(app.current_kid().await, fresh, "the replanned rotation");
    assert_eq!(only(&app.stored_keys().await, "next"), successor);

    // Unknown and revoked kids, and a revocation without a reason, are plain 4xx.
    let post = |kid: &str, body: Value| {
        let (app, admin) = (&app, &admin);
        let url = app.url(&format!("/admin/keys/{kid}/revoke"));
        async move {
            let resp = app
                .http
                .post(url)
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let reason = json!({ "reason": "again" });
    assert_eq!(post("no-such-kid", reason.clone()).await.0, 404);
    assert_eq!(post(&newest, reason).await.0, 409);
    for body in [
        json!({}),
        json!({ "reason": "" }),
        json!({ "reason": "two\nlines" }),
    ] {
        let (status, answer) = post(&successor, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error_description"].is_string(), "{answer}");
    }
    assert_eq!(only(&app.stored_keys().await, "next"), successor);
}

async fn a_different_master_key_is_refused_with_a_plain_message(backend: Backend) {
    let Some(app) = spawn_app_first_start(backend).await else {
        return;
    };
    let path = app.storage.master_key_file();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("the master key file was created")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "master key file mode {:o}",
            mode & 0o777
        );
    }
    let right = std::fs::read_to_string(&path).unwrap().trim().to_string();
    let other = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let keys_before = app.stored_keys().await;

    let plain_refusal = |out: &crate::helpers::CliOutput, what: &str| {
        assert!(
            !out.status.success(),
            "{what} succeeded with a wrong master key"
        );
        assert!(
            out.stderr.to_lowercase().contains("master key"),
            "{what}: the message names the master key: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
        assert!(!out.stderr.contains(&other), "{what} echoed the key");
        assert!(!out.stderr.contains(&right), "{what} echoed the key");
    };

    let out = run_cli_env(
        &app.storage,
        &["keys", "list"],
        "",
        &[("GATEHOUSE_MASTER_KEY", &other)],
    )
    .await;
    plain_refusal(&out, "keys list");

    // `serve` refuses to start (and exits rather than serving).
    let serve = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        run_cli_env(
            &app.storage,
            &["serve"],
            "",
            &[
                ("GATEHOUSE_MASTER_KEY", &other),
                ("GATEHOUSE_BIND", "127.0.0.1:0"),
            ],
        ),
    )
    .await
    .expect("serve with a wrong master key exits instead of serving");
    plain_refusal(&serve, "serve");

    // A master key that is not 32 bytes of base64 is refused without being echoed.
    for bad in ["c2hvcnQ=", "not base64 at all!"] {
        let out = run_cli_env(
            &app.storage,
            &["keys", "list"],
            "",
            &[("GATEHOUSE_MASTER_KEY", bad)],
        )
        .await;
        assert!(!out.status.success());
        assert!(
            out.stderr.contains("GATEHOUSE_MASTER_KEY"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains(bad), "{}", out.stderr);
    }

    // A wrong key in a file is refused the same way.
    let wrong_file = app.storage.dir.path().join("other.key");
    std::fs::write(&wrong_file, format!("{other}\n")).unwrap();
    let out = run_cli_env(
        &app.storage,
        &["keys", "rotate"],
        "",
        &[("GATEHOUSE_MASTER_KEY_FILE", wrong_file.to_str().unwrap())],
    )
    .await;
    plain_refusal(&out, "keys rotate");

    // A missing file is not silently replaced by a new key once keys are sealed.
    let missing = app.storage.dir.path().join("gone").join("master.key");
    let out = run_cli_env(
        &app.storage,
        &["keys", "list"],
        "",
        &[("GATEHOUSE_MASTER_KEY_FILE", missing.to_str().unwrap())],
    )
    .await;
    plain_refusal(&out, "keys list without the key file");
    assert!(!missing.exists(), "a new master key file was created");

    // Nothing was changed by the refused attempts; the right key, as a variable, works.
    let out = run_cli_env(
        &app.storage,
        &["keys", "list"],
        "",
        &[("GATEHOUSE_MASTER_KEY", &right)],
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(app.stored_keys().await, keys_before);
    let jwks = app.jwks().await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 3);
}
