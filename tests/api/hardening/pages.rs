//! The browser pages: logout with someone else's id_token, the login page's client name,
//! cookie prefixes and `form-action`.

use super::*;

both_backends!(
    logout_with_someone_elses_id_token_asks_for_confirmation,
    the_login_page_names_only_a_registered_enabled_client,
    with_an_https_issuer_cookies_carry_the_host_prefix,
    forms_may_post_only_here_and_to_the_clients_redirect_origin,
);

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
    let login = location(&resp);
    let resp = submit_login(&app, &attacker_b, &login, "mallory", "mallory-password").await;
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
