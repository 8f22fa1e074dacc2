//! What a code or a refresh may grant: no scope `admin` for a non-admin or a demoted admin,
//! no code verifier for a code issued without a challenge.

use super::*;

both_backends!(
    a_non_admin_never_gets_scope_admin_through_the_code_flow,
    a_demoted_admin_can_no_longer_refresh_a_token_with_scope_admin,
    a_code_verifier_for_a_code_issued_without_a_challenge_is_refused,
);

async fn a_non_admin_never_gets_scope_admin_through_the_code_flow(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    app.add_client(&[
        "console",
        "--public",
        "--redirect-uri",
        REDIRECT,
        "--scope",
        "openid",
        "admin",
    ])
    .await;
    let b = browser();
    let url = authorize_url(&app, &[("client_id", "console"), ("scope", "openid admin")]);
    let cb = sign_in(&app, &b, &url, PASSWORD).await;
    assert!(cb.starts_with(REDIRECT), "{cb}");
    assert_eq!(query_param(&cb, "error").as_deref(), Some("invalid_scope"));
    assert_eq!(query_param(&cb, "state").as_deref(), Some("st-1"));
    assert_eq!(query_param(&cb, "code"), None, "no code for scope admin");
    // Without admin, the same client and user get a code.
    let resp = b
        .get(authorize_url(
            &app,
            &[("client_id", "console"), ("scope", "openid")],
        ))
        .send()
        .await
        .expect("authorize");
    assert!(query_param(&location(&resp), "code").is_some());
}

async fn a_demoted_admin_can_no_longer_refresh_a_token_with_scope_admin(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let _ = app.admin_token().await; // root (admin) and the client adm
    let secret = app
        .add_client(&[
            "adm-rt",
            "--grant",
            "password",
            "refresh_token",
            "--scope",
            "admin",
        ])
        .await
        .expect("confidential");
    let resp = password_grant(
        &app.http,
        &app.address,
        "adm-rt",
        &secret,
        "root",
        ADMIN_PASSWORD,
        "admin",
    )
    .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh = body["refresh_token"].as_str().expect("refresh").to_string();
    // root loses admin rights (another admin exists, so the API allows it).
    app.add_user("other-admin", "other admin password", true)
        .await;
    app.state
        .db
        .run(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("UPDATE users SET is_admin = false WHERE username = 'root'")
                .execute(conn)
                .map_err(gatehouse::db::DbError::from_diesel)
        })
        .await
        .expect("demote");
    let resp = app
        .post_form_basic(
            "/token",
            "adm-rt",
            &secret,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

/// PKCE downgrade (RFC 9700 §4.8): a confidential client may leave PKCE out, but then a
/// `code_verifier` at the token endpoint means somebody stripped the challenge from the
/// authorization request; the code must not be redeemed with it.
async fn a_code_verifier_for_a_code_issued_without_a_challenge_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let secret = app
        .add_client(&["conf", "--redirect-uri", REDIRECT, "--scope", "openid"])
        .await
        .expect("confidential");
    let b = browser();
    let url = authorize_url(
        &app,
        &[
            ("client_id", "conf"),
            ("scope", "openid"),
            ("code_challenge", ""),
            ("code_challenge_method", ""),
        ],
    );
    let cb = sign_in(&app, &b, &url, PASSWORD).await;
    let code = query_param(&cb, "code").expect("code");
    // Control: another code of the same kind (same client, no challenge) redeems without a
    // verifier, so the refusal below is the verifier's doing.
    let resp = b.get(&url).send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::FOUND);
    let control = query_param(&location(&resp), "code").expect("control code");
    let redeem = |code: &String, verifier: Option<&'static str>| {
        let (app, code, secret) = (&app, code.clone(), secret.clone());
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
            ];
            if let Some(v) = verifier {
                form.push(("code_verifier", v));
            }
            app.post_form_basic("/token", "conf", &secret, &form).await
        }
    };
    let (status, body) = status_json(redeem(&control, None).await).await;
    assert_eq!(status, StatusCode::OK, "the control code: {body}");
    assert!(body["access_token"].is_string(), "{body}");
    let (status, body) = status_json(redeem(&code, Some(VERIFIER)).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    // A code presented with a verifier it was not bound to is in the wrong hands: the
    // refusal spends it (RFC 9700 §4.5; attacks::protocol proves it for every binding), so
    // it does not redeem afterwards, with or without a verifier.
    let (status, body) = status_json(redeem(&code, None).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
}
