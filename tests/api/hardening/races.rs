//! Races that gave a 500 or lost a revocation: concurrent consents, a hash upgrade beside a
//! password change, two redemptions of one code at once.

use super::*;

both_backends!(
    concurrent_consents_for_one_user_and_client_all_succeed,
    an_upgraded_hash_never_undoes_a_password_change,
    two_redemptions_of_one_code_at_once_leave_its_tokens_revoked,
);

async fn concurrent_consents_for_one_user_and_client_all_succeed(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, true).await;
    let b = browser();
    let resp = b
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("authorize");
    let login = location(&resp);
    let resp = submit_login(&app, &b, &login, "alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let consent_page = b
        .get(app.url(&location(&resp)))
        .send()
        .await
        .expect("consent");
    let html = consent_page.text().await.expect("html");
    let decision = [
        ("csrf", hidden(&html, "csrf")),
        ("return_to", hidden(&html, "return_to")),
        ("decision", "allow".to_string()),
    ];
    // Each is one upsert: none may meet the other's row as a unique violation (a 500).
    let answers =
        join_all((0..10).map(|_| b.post(app.url("/consent")).form(&decision).send())).await;
    for resp in answers {
        assert_eq!(resp.expect("answered").status(), StatusCode::SEE_OTHER);
    }
}

async fn an_upgraded_hash_never_undoes_a_password_change(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let user = app.state.accounts.find_user("alice").await.expect("alice");
    let verified_hash = user.password_hash.clone();
    app.state
        .accounts
        .set_password(
            "alice",
            gatehouse::passwords::Password::new("a new password".into()),
        )
        .await
        .expect("password changed");
    // A rehash that verified the old hash lands after the change: it must not apply.
    let id = user.id.clone();
    let replaced = app
        .state
        .db
        .run(move |conn| {
            gatehouse::db::repo::users::upgrade_password_hash(
                conn,
                &id,
                &verified_hash,
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
                0,
            )
        })
        .await
        .expect("update");
    assert!(!replaced, "an upgrade overwrote a newer password");
    assert_eq!(
        app.simplejwt_login("alice", "a new password")
            .await
            .status(),
        200
    );
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 401);
}

async fn two_redemptions_of_one_code_at_once_leave_its_tokens_revoked(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let rs = resource_server(&app).await;
    for round in 0..5 {
        let b = browser();
        let cb = sign_in(&app, &b, &authorize_url(&app, &[]), PASSWORD).await;
        let code = query_param(&cb, "code").expect("code");
        let (first, second) = tokio::join!(
            exchange(&app, &code, Some(VERIFIER), "app"),
            exchange(&app, &code, Some(VERIFIER), "app")
        );
        let mut answers = vec![status_json(first).await, status_json(second).await];
        answers.sort_by_key(|(s, _)| s.as_u16());
        let [(won, tokens), (lost, refusal)] = [answers.remove(0), answers.remove(0)];
        assert_eq!(won, StatusCode::OK, "round {round}: {tokens}");
        assert_eq!(lost, StatusCode::BAD_REQUEST, "round {round}: {refusal}");
        assert_eq!(refusal["error"], "invalid_grant");
        // The replay revoked what the winner issued, however the two interleaved.
        let access = tokens["access_token"].as_str().expect("access");
        let refresh = tokens["refresh_token"].as_str().expect("refresh");
        assert_eq!(
            introspect(&app, "rs", &rs, access).await,
            json!({ "active": false })
        );
        assert_eq!(
            introspect(&app, "rs", &rs, refresh).await,
            json!({ "active": false })
        );
    }
}
