//! Scheduled rotation, by itself and followed at once by an emergency.

use super::*;

both_backends!(
    scheduled_rotation_promotes_the_next_key_by_itself,
    an_emergency_right_after_a_scheduled_rotation_promotes_a_key_every_cache_holds,
);

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
