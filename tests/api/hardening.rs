//! The gaps a security review against RFC 9700, RFC 8725 and OpenID Connect found, each
//! closed and proven here on SQLite and PostgreSQL: races that gave a 500 or lost a
//! revocation, scope `admin` for non-admins, sessions outliving a password change, refresh
//! tokens that looked like access tokens to an `aud`-checking verifier, a revoked family's
//! access tokens, logout by someone else's id_token, cookie prefixes and `form-action`, the
//! last admin, IPv6 windows, and who may introspect what.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    password_grant, peek, spawn_app, spawn_app_with, status_json, Backend, TestApp, ADMIN_PASSWORD,
};
use crate::sso::{
    authorize_url, browser, exchange, hidden, location, query_param, setup, sign_in, REDIRECT,
    VERIFIER,
};

const PASSWORD: &str = "alice-password-1";

both_backends!(
    concurrent_consents_for_one_user_and_client_all_succeed,
    an_upgraded_hash_never_undoes_a_password_change,
    two_redemptions_of_one_code_at_once_leave_its_tokens_revoked,
    a_non_admin_never_gets_scope_admin_through_the_code_flow,
    a_demoted_admin_can_no_longer_refresh_a_token_with_scope_admin,
    a_password_change_ends_the_users_browser_sessions,
    refresh_tokens_carry_an_audience_no_access_token_has,
    after_reuse_detection_the_familys_access_tokens_are_refused,
    introspection_is_inactive_for_a_disabled_client_or_user,
    introspection_answers_a_client_only_about_its_own_tokens,
    logout_with_someone_elses_id_token_asks_for_confirmation,
    the_login_page_names_only_a_registered_enabled_client,
    with_an_https_issuer_cookies_carry_the_host_prefix,
    forms_may_post_only_here_and_to_the_clients_redirect_origin,
    the_last_enabled_admin_cannot_be_disabled_or_deleted_through_the_admin_api,
    ipv6_clients_share_the_address_window_of_their_64,
    a_code_verifier_for_a_code_issued_without_a_challenge_is_refused,
);

/// Signs alice in through the code flow of the public client `app` and redeems the code.
async fn code_flow_tokens(app: &TestApp) -> (reqwest::Client, Value) {
    let b = browser();
    let cb = sign_in(app, &b, &authorize_url(app, &[]), PASSWORD).await;
    let code = query_param(&cb, "code").expect("code");
    let (status, tokens) = status_json(exchange(app, &code, Some(VERIFIER), "app").await).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    (b, tokens)
}

async fn userinfo_status(app: &TestApp, access: &str) -> StatusCode {
    app.http
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .expect("request")
        .status()
}

async fn introspect(app: &TestApp, client: &str, secret: &str, token: &str) -> Value {
    let resp = app
        .post_form_basic("/introspect", client, secret, &[("token", token)])
        .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A confidential resource server registered to introspect every client's tokens.
async fn resource_server(app: &TestApp) -> String {
    app.add_client(&[
        "rs",
        "--grant",
        "client_credentials",
        "--scope",
        "api",
        "--introspect-any",
    ])
    .await
    .expect("confidential")
}

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
    let page = b.get(app.url(&login)).send().await.expect("login page");
    let html = page.text().await.expect("html");
    let form = [
        ("csrf", hidden(&html, "csrf")),
        ("return_to", hidden(&html, "return_to")),
        ("username", "alice".to_string()),
        ("password", PASSWORD.to_string()),
    ];
    let resp = b
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .expect("login");
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

async fn a_password_change_ends_the_users_browser_sessions(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    sign_in(&app, &b, &authorize_url(&app, &[]), PASSWORD).await;
    let resp = b
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("authorize");
    assert!(location(&resp).starts_with(REDIRECT), "signed in");
    app.state
        .accounts
        .set_password(
            "alice",
            gatehouse::passwords::Password::new("a changed password".into()),
        )
        .await
        .expect("changed");
    let resp = b
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("authorize");
    assert!(
        location(&resp).starts_with("/login?"),
        "the session outlived the password change"
    );
}

async fn refresh_tokens_carry_an_audience_no_access_token_has(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    let issuer = &app.settings.issuer;
    assert_eq!(peek(&refresh).1["aud"], json!(format!("{issuer}/token")));
    assert_eq!(peek(&access).1["aud"], json!(issuer));
    // A downstream verifier that checks aud (the issuer, the default audience) but not typ.
    let jwks = app.jwks().await;
    let verify = |token: &str| {
        let (header, _) = peek(token);
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
        let jwk = set.find(header["kid"].as_str().unwrap()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&[issuer]);
        v.set_issuer(&[issuer]);
        jsonwebtoken::decode::<Value>(token, &key, &v)
    };
    assert!(verify(&access).is_ok());
    let refused = verify(&refresh).expect_err("a refresh token passed an aud check");
    assert_eq!(
        refused.kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidAudience
    );
    // And it still refreshes here.
    let (status, body) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": refresh }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn after_reuse_detection_the_familys_access_tokens_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let rs = resource_server(&app).await;
    let (access0, refresh0) = app.tokens("alice", PASSWORD).await;
    let (status, next) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": refresh0 }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let access1 = next["access"].as_str().expect("access").to_string();
    assert_eq!(userinfo_status(&app, &access1).await, StatusCode::OK);
    // The spent token comes back: reuse, the family is revoked.
    let (status, _) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": refresh0 }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for access in [&access0, &access1] {
        assert_eq!(
            userinfo_status(&app, access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            introspect(&app, "rs", &rs, access).await,
            json!({ "active": false })
        );
        let (status, body) = status_json(
            app.post_json("/api/token/verify/", json!({ "token": access }))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["code"], "token_not_valid");
    }
    // Another login's tokens are untouched.
    let (fresh, _) = app.tokens("alice", PASSWORD).await;
    assert_eq!(userinfo_status(&app, &fresh).await, StatusCode::OK);
}

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

async fn logout_with_someone_elses_id_token_asks_for_confirmation(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    app.add_user("mallory", "mallory-password", false).await;
    // The attacker signs in in their own browser and keeps their id_token.
    let attacker = browser();
    let cb = sign_in(&app, &attacker, &authorize_url(&app, &[]), PASSWORD).await;
    let _ = cb;
    let attacker_b = browser();
    let resp = attacker_b
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("authorize");
    let page = attacker_b
        .get(app.url(&location(&resp)))
        .send()
        .await
        .expect("login");
    let html = page.text().await.expect("html");
    let resp = attacker_b
        .post(app.url("/login"))
        .form(&[
            ("csrf", hidden(&html, "csrf")),
            ("return_to", hidden(&html, "return_to")),
            ("username", "mallory".into()),
            ("password", "mallory-password".into()),
        ])
        .send()
        .await
        .expect("login");
    let resp = attacker_b
        .get(app.url(&location(&resp)))
        .send()
        .await
        .expect("authorize");
    let code = query_param(&location(&resp), "code").expect("code");
    let (_, tokens) = status_json(exchange(&app, &code, Some(VERIFIER), "app").await).await;
    let mallory_id_token = tokens["id_token"].as_str().expect("id_token").to_string();

    // The victim (alice) is signed in; the attacker's link carries the attacker's id_token.
    let (victim, _) = code_flow_tokens(&app).await;
    let link = format!(
        "{}/logout?{}",
        app.address,
        serde_urlencoded::to_string([
            ("id_token_hint", mallory_id_token.as_str()),
            ("post_logout_redirect_uri", "http://localhost:9999/bye"),
        ])
        .expect("query")
    );
    let resp = victim.get(&link).send().await.expect("logout");
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "a confirmation page, not a redirect"
    );
    assert!(resp.headers().get("location").is_none());
    let html = resp.text().await.expect("html");
    assert!(html.contains("csrf"), "{html}");
    let resp = victim
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("authorize");
    assert!(
        location(&resp).starts_with(REDIRECT),
        "the victim is still signed in"
    );
}

async fn the_login_page_names_only_a_registered_enabled_client(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let page = |client: &str| {
        let return_to = format!(
            "/authorize?{}",
            serde_urlencoded::to_string([("client_id", client), ("response_type", "code")])
                .expect("query")
        );
        let url = app.url(&format!(
            "/login?{}",
            serde_urlencoded::to_string([("return_to", return_to)]).expect("query")
        ));
        let http = app.http.clone();
        async move {
            let resp = http.get(url).send().await.expect("page");
            assert_eq!(resp.status(), StatusCode::OK);
            resp.text().await.expect("html")
        }
    };
    assert!(page("app").await.contains("to continue to"));
    // An unregistered name travels back in the hidden return_to field, and nowhere else.
    let spoofed = page("Your-Bank-Security-Team").await;
    assert!(!spoofed.contains("to continue to"), "{spoofed}");
    assert!(!spoofed.contains("<strong>Your-Bank"), "{spoofed}");
    assert_eq!(
        spoofed.matches("Your-Bank-Security-Team").count(),
        1,
        "{spoofed}"
    );
    app.state
        .accounts
        .set_client_disabled("app", true)
        .await
        .expect("disable");
    assert!(!page("app").await.contains("to continue to"));
}

async fn with_an_https_issuer_cookies_carry_the_host_prefix(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |a| {
        a.issuer = Some("https://id.example".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let page = app.http.get(app.url("/login")).send().await.expect("page");
    let set_cookie = |resp: &reqwest::Response| -> Vec<String> {
        resp.headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_string())
            .collect()
    };
    let cookies = set_cookie(&page);
    let csrf_cookie = cookies
        .iter()
        .find(|c| c.starts_with("__Host-gh_csrf="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    for attribute in ["Secure", "HttpOnly", "Path=/"] {
        assert!(csrf_cookie.contains(attribute), "{csrf_cookie}");
    }
    assert!(!csrf_cookie.contains("Domain"), "{csrf_cookie}");
    let csrf = hidden(&page.text().await.expect("html"), "csrf");
    // The unprefixed name is not accepted in its place.
    let resp = app
        .http
        .post(app.url("/login"))
        .header("cookie", format!("gh_csrf={csrf}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app
        .http
        .post(app.url("/login"))
        .header("cookie", format!("__Host-gh_csrf={csrf}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::OK);
    let cookies = set_cookie(&resp);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-gh_session="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    for attribute in ["Secure", "HttpOnly", "Path=/", "SameSite=Lax"] {
        assert!(session.contains(attribute), "{session}");
    }
}

async fn forms_may_post_only_here_and_to_the_clients_redirect_origin(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let csp = |resp: &reqwest::Response| {
        resp.headers()["content-security-policy"]
            .to_str()
            .expect("ascii")
            .to_string()
    };
    let plain = app.http.get(app.url("/login")).send().await.expect("page");
    assert!(
        csp(&plain).ends_with("form-action 'self'"),
        "{}",
        csp(&plain)
    );
    // For the app's sign-in, the form's answer ends in a redirect to its callback origin.
    let b = browser();
    let resp = b
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("authorize");
    let page = b.get(app.url(&location(&resp))).send().await.expect("page");
    let policy = csp(&page);
    assert!(
        policy.ends_with("form-action 'self' http://localhost:9999"),
        "{policy}"
    );
    let confirm = b
        .get(app.url(
            "/logout?client_id=app&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A9999%2Fbye",
        ))
        .send()
        .await
        .expect("logout");
    assert!(
        csp(&confirm).ends_with("form-action 'self' http://localhost:9999"),
        "{}",
        csp(&confirm)
    );
}

async fn the_last_enabled_admin_cannot_be_disabled_or_deleted_through_the_admin_api(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await; // root is the only admin
    let call = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, app.url(path))
            .bearer_auth(&token)
            .send()
    };
    for (method, path) in [
        (reqwest::Method::POST, "/admin/users/root/disable"),
        (reqwest::Method::DELETE, "/admin/users/root"),
    ] {
        let (status, body) = status_json(call(method, path).await.expect("request")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
        assert_eq!(body["error"], "conflict");
    }
    // With a second enabled admin, one of them may go.
    app.add_user("deputy", "deputy admin password", true).await;
    let resp = call(reqwest::Method::POST, "/admin/users/deputy/disable")
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, _) = status_json(
        call(reqwest::Method::DELETE, "/admin/users/root")
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "deputy is disabled: root is the last"
    );
    // The operator's CLI may still do it (break-glass).
    let out = app.cli(&["user", "disable", "root"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
}

async fn ipv6_clients_share_the_address_window_of_their_64(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |a| {
        a.login_throttle = Some("100/15m,3/15m".into());
        a.trusted_proxies = Some("127.0.0.1".into());
    })
    .await
    else {
        return;
    };
    let from = |addr: &str, user: &str| {
        app.http
            .post(app.url("/api/token/"))
            .header("x-forwarded-for", addr)
            .form(&[("username", user), ("password", "wrong")])
            .send()
    };
    for (i, addr) in ["2001:db8:7:7::1", "2001:db8:7:7:ffff::2", "2001:db8:7:7::3"]
        .iter()
        .enumerate()
    {
        let resp = from(addr, &format!("user{i}")).await.expect("request");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    // A fourth address of the same /64, a fresh username: the /64's window is full.
    let resp = from("2001:db8:7:7::4", "user9").await.expect("request");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another /64 is counted apart.
    let resp = from("2001:db8:7:8::1", "user10").await.expect("request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
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
