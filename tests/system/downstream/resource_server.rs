//! `examples/resource_server.rs` keeps the JWKS as long as `Cache-Control` says, fetches it
//! again when a token names a key it does not hold, and does so at most once per
//! `--min-refetch-secs`, however many made-up key ids arrive. Fetches are counted by
//! Gatehouse's own request metrics.

use gatehouse::keys::rotation::RotationKind;
use serde_json::json;

use super::verifiers::{signed_by_another_key, ResourceServer, World, USER_ID};
use crate::both_backends;
use crate::django_import::LONG;
use crate::helpers::{peek, TestApp};

both_backends!(rust_resource_server_caches_the_jwks_and_refetches_an_unknown_kid_at_most_once);

/// JWKS requests Gatehouse has served (any status).
async fn jwks_fetches(app: &TestApp) -> u64 {
    app.metrics()
        .await
        .lines()
        .filter(|l| {
            l.starts_with("gatehouse_http_requests_total{")
                && l.contains("route=\"/.well-known/jwks.json\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn rust_resource_server_caches_the_jwks_and_refetches_an_unknown_kid_at_most_once(
    backend: crate::helpers::Backend,
) {
    let Some(world) = World::new(backend, "RS256").await else {
        return;
    };
    let app = &world.app;
    // A long window, so that the burst below falls inside it whatever the machine's speed.
    let Some(server) = ResourceServer::start(&app.address, &["--min-refetch-secs", "600"]).await
    else {
        return;
    };
    let base = jwks_fetches(app).await;

    for _ in 0..5 {
        let v = server.whoami(&world.valid).await;
        assert!(v.ok, "{}", v.error);
        assert_eq!(v.user_id, json!(USER_ID));
    }
    assert_eq!(
        jwks_fetches(app).await,
        base + 1,
        "one fetch, then the cache"
    );

    // Three rotations (past the next and the standby key): the current key is one the
    // cached JWKS has never listed.
    let cached: Vec<String> = app.stored_keys().await.into_iter().map(|k| k.kid).collect();
    for _ in 0..3 {
        app.state
            .keys
            .rotate(Some(gatehouse::keys::Alg::Rs256), RotationKind::Manual)
            .await
            .expect("rotation");
    }
    let (fresh, _) = app.tokens("alice", LONG).await;
    let fresh_kid = peek(&fresh).0["kid"].as_str().unwrap().to_string();
    assert!(!cached.contains(&fresh_kid));
    let v = server.whoami(&fresh).await;
    assert!(v.ok, "the new key's token: {}", v.error);
    assert_eq!(
        jwks_fetches(app).await,
        base + 2,
        "one refetch for the unknown kid"
    );
    // The old token's key is retired, still published, still cached.
    assert!(server.whoami(&world.valid).await.ok);

    // Made-up key ids, many: refused, and no further fetch inside the window.
    let claims = peek(&fresh).1;
    for i in 0..20 {
        let v = server
            .whoami(&signed_by_another_key(&claims, &format!("made-up-{i}")))
            .await;
        assert!(!v.ok, "made-up kid {i} accepted");
    }
    assert_eq!(
        jwks_fetches(app).await,
        base + 2,
        "made-up kids made it fetch"
    );
    assert!(server.whoami(&fresh).await.ok);
}
