//! Revoking a key by kid: a retired one refuses its tokens, a next or standby one replans
//! the schedule.

use super::*;

both_backends!(
    revoking_a_retired_key_by_kid_refuses_its_tokens_and_keeps_the_current_ones,
    revoking_the_next_or_standby_key_replans_the_schedule,
);

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
