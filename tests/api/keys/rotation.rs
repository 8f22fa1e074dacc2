//! Rotation by the CLI and the admin API, emergencies included, and a retired key kept
//! until its tokens expire.

use super::*;

both_backends!(
    cli_rotation_keeps_earlier_tokens_valid_and_signs_with_the_former_next_key,
    emergency_rotation_via_cli_revokes_the_current_key_and_its_tokens,
    emergency_rotation_via_admin_api_takes_effect_at_once,
    jwks_keeps_retired_key_until_its_tokens_expire,
);

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
