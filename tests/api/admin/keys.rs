//! The admin API: the signing keys: listing without key material, rotation and its warning.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::json_of;
use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend};

both_backends!(
    admin_lists_keys_without_key_material,
    admin_rotation_answers_current_next_retired_and_warns_on_a_young_next_key,
    admin_rotation_does_not_warn_when_the_next_key_is_old_enough,
);

async fn admin_lists_keys_without_key_material(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let resp = app.admin_get(&admin, "/admin/keys").await;
    assert_eq!(resp.status(), 200);
    let body = json_of(resp).await;
    let keys = body["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 3);
    let mut states: Vec<&str> = keys.iter().map(|k| k["state"].as_str().unwrap()).collect();
    states.sort();
    assert_eq!(states, ["current", "next", "standby"]);
    let jwks = app.jwks().await;
    for key in keys {
        let kid = key["kid"].as_str().expect("kid");
        assert!(jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid));
        assert!(key["created_at"].as_i64().is_some(), "{key}");
        assert_eq!(key["bits"], 2048);
        // Public facts only: any other member (d, p, q, dp, dq, qi, a sealed blob) fails.
        let members: BTreeSet<&str> = key
            .as_object()
            .expect("a key is an object")
            .keys()
            .map(String::as_str)
            .collect();
        let public = BTreeSet::from([
            "kid",
            "alg",
            "state",
            "bits",
            "created_at",
            "activated_at",
            "retired_at",
            "remove_after",
            "revoked_at",
        ]);
        assert_eq!(members, public, "{key}");
        if key["state"] == "current" {
            assert!(key["activated_at"].as_i64().is_some(), "{key}");
            assert_eq!(json!(kid), crate::helpers::peek(&admin).0["kid"]);
        }
    }
}

async fn admin_rotation_answers_current_next_retired_and_warns_on_a_young_next_key(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let keys = json_of(app.admin_get(&admin, "/admin/keys").await).await;
    let kid_in = |state: &str| {
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["state"] == state)
            .unwrap()["kid"]
            .clone()
    };
    let (current, next, standby) = (kid_in("current"), kid_in("next"), kid_in("standby"));

    // No body at all is a manual rotation.
    let resp = app.admin_post(&admin, "/admin/keys/rotate", None).await;
    assert_eq!(resp.status(), 200);
    let outcome = json_of(resp).await;
    assert_eq!(outcome["rotated"], true);
    assert_eq!(outcome["current"], next);
    assert_eq!(outcome["retired"], current);
    assert!(outcome["revoked"].is_null());
    let new_next = outcome["next"].clone();
    assert_eq!(new_next, standby, "the standby key moves up");
    let new_standby = outcome["standby"].clone();
    assert!(new_standby.is_string() && ![&current, &next, &standby].contains(&&new_standby));
    let warning = outcome["warning"].as_str().expect("a warning");
    assert!(warning.contains("max-age"), "{warning}");

    // The rotating instance serves the new key set at once.
    let jwks = app.jwks().await;
    let kids: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["kid"])
        .collect();
    assert_eq!(kids.len(), 4);
    for kid in [&current, &next, &new_next, &new_standby] {
        assert!(kids.contains(&kid), "{kid} in {jwks}");
    }
    app.add_user("alice", "correct horse battery", false).await;
    let (access, _) = app.tokens("alice", "correct horse battery").await;
    assert_eq!(crate::helpers::peek(&access).0["kid"], next);

    // An explicit {"emergency": false} is a manual rotation too; the admin token (signed by
    // a key now retired) still works.
    let resp = app
        .admin_post(
            &admin,
            "/admin/keys/rotate",
            Some(json!({ "emergency": false })),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let second = json_of(resp).await;
    assert_eq!(second["current"], new_next);
    assert_eq!(second["retired"], next);
    let listed = json_of(app.admin_get(&admin, "/admin/keys").await).await;
    let count = |state: &str| {
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["state"] == state)
            .count()
    };
    assert_eq!(
        (
            count("current"),
            count("next"),
            count("standby"),
            count("retired")
        ),
        (1, 1, 1, 2)
    );
    let retired_at = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == current)
        .unwrap()
        .clone();
    assert!(retired_at["retired_at"].as_i64().is_some(), "{retired_at}");
    assert!(
        retired_at["remove_after"].as_i64().unwrap() > retired_at["retired_at"].as_i64().unwrap()
    );
}

async fn admin_rotation_does_not_warn_when_the_next_key_is_old_enough(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.jwks_max_age = Some("60s".into());
        args.key_poll_interval = Some("1s".into());
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    // The next key has been published for JWKS_MAX_AGE and the time instances take to serve
    // it (KEY_POLL_INTERVAL and a second): every honest cache holds it.
    let cached = app.state.keys.policy.rotation.cached_everywhere_after();
    assert_eq!(cached, 62, "within the admin token's life");
    app.advance(cached as u64);
    let resp = app
        .admin_post(&admin, "/admin/keys/rotate", Some(json!({})))
        .await;
    assert_eq!(resp.status(), 200);
    let outcome = json_of(resp).await;
    assert_eq!(outcome["rotated"], true);
    assert!(outcome["warning"].is_null(), "{outcome}");
}
