//! Who may introspect what: nothing live for a disabled client or user, and a client only
//! its own tokens.

use super::*;

both_backends!(
    introspection_is_inactive_for_a_disabled_client_or_user,
    introspection_answers_a_client_only_about_its_own_tokens,
);

async fn introspection_is_inactive_for_a_disabled_client_or_user(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let rs = resource_server(&app).await;
    let cc = app
        .add_client(&["svc", "--grant", "client_credentials", "--scope", "api"])
        .await
        .expect("confidential");
    let resp = app
        .post_form_basic(
            "/token",
            "svc",
            &cc,
            &[("grant_type", "client_credentials")],
        )
        .await;
    let (_, body) = status_json(resp).await;
    let service_token = body["access_token"].as_str().expect("access").to_string();
    let (alice_token, _) = app.tokens("alice", PASSWORD).await;
    assert_eq!(
        introspect(&app, "rs", &rs, &service_token).await["active"],
        true
    );
    assert_eq!(
        introspect(&app, "rs", &rs, &alice_token).await["active"],
        true
    );

    app.state
        .accounts
        .set_client_disabled("svc", true)
        .await
        .expect("disable client");
    assert_eq!(
        introspect(&app, "rs", &rs, &service_token).await,
        json!({ "active": false })
    );
    app.state
        .accounts
        .delete_client("svc")
        .await
        .expect("delete client");
    assert_eq!(
        introspect(&app, "rs", &rs, &service_token).await,
        json!({ "active": false })
    );
    app.state
        .accounts
        .set_user_disabled("alice", true, gatehouse::accounts::LastAdmin::Keep)
        .await
        .expect("disable user");
    assert_eq!(
        introspect(&app, "rs", &rs, &alice_token).await,
        json!({ "active": false })
    );
}

async fn introspection_answers_a_client_only_about_its_own_tokens(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let rs = resource_server(&app).await;
    let a = app
        .add_client(&["a", "--grant", "password", "refresh_token"])
        .await
        .expect("confidential");
    let b = app
        .add_client(&["b", "--grant", "client_credentials", "--scope", "api"])
        .await
        .expect("confidential");
    let resp = password_grant(&app.http, &app.address, "a", &a, "alice", PASSWORD, "").await;
    let (status, tokens) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    for name in ["access_token", "refresh_token"] {
        let token = tokens[name].as_str().expect("token");
        assert_eq!(
            introspect(&app, "a", &a, token).await["active"],
            true,
            "{name}"
        );
        assert_eq!(
            introspect(&app, "b", &b, token).await,
            json!({ "active": false }),
            "client b learned about a's {name}"
        );
        assert_eq!(
            introspect(&app, "rs", &rs, token).await["active"],
            true,
            "{name}"
        );
    }
}
