//! The headers every HTML page carries: no framing, no caching, no referrer.

use super::*;

both_backends!(every_html_page_is_unframeable_uncached_and_sends_no_referrer,);

fn assert_page_headers(resp: &reqwest::Response, what: &str) {
    let h = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        h("content-type").starts_with("text/html"),
        "{what}: {}",
        h("content-type")
    );
    assert_eq!(h("x-frame-options"), "DENY", "{what}");
    assert!(
        h("content-security-policy").contains("frame-ancestors 'none'"),
        "{what}"
    );
    assert_eq!(h("cache-control"), "no-store", "{what}");
    assert_eq!(h("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
}

async fn every_html_page_is_unframeable_uncached_and_sends_no_referrer(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, true).await;
    app.add_user("root", crate::helpers::ADMIN_PASSWORD, true)
        .await;
    let mut pages: Vec<(String, reqwest::Response)> = Vec::new();
    let anonymous = browser();
    for path in [
        "/login",
        "/logout",
        "/authorize",
        "/authorize?client_id=nobody",
    ] {
        pages.push((
            path.into(),
            anonymous.get(app.url(path)).send().await.expect("request"),
        ));
    }
    pages.push((
        "/authorize with an unregistered redirect_uri".into(),
        anonymous
            .get(authorize_url(
                &app,
                &[("redirect_uri", "https://evil.example/")],
            ))
            .send()
            .await
            .expect("request"),
    ));
    let login = anonymous
        .get(app.url("/login"))
        .send()
        .await
        .expect("request");
    let csrf = hidden(&login.text().await.expect("page"), "csrf");
    for (what, form) in [
        (
            "wrong password",
            vec![
                ("csrf", csrf.as_str()),
                ("username", "alice"),
                ("password", "nope"),
            ],
        ),
        (
            "stale csrf",
            vec![
                ("csrf", "stale"),
                ("username", "alice"),
                ("password", "nope"),
            ],
        ),
        (
            "signed in",
            vec![
                ("csrf", csrf.as_str()),
                ("username", "alice"),
                ("password", ALICE),
            ],
        ),
    ] {
        let resp = anonymous
            .post(app.url("/login"))
            .form(&form)
            .send()
            .await
            .expect("request");
        pages.push((format!("POST /login, {what}"), resp));
    }
    // The consent page of a client that asks for it.
    let alice = browser();
    let resp = alice
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("request");
    let login = alice
        .get(app.url(&location(&resp)))
        .send()
        .await
        .expect("request");
    let html = login.text().await.expect("page");
    let resp = alice
        .post(app.url("/login"))
        .form(&[
            ("csrf", hidden(&html, "csrf").as_str()),
            ("return_to", hidden(&html, "return_to").as_str()),
            ("username", "alice"),
            ("password", ALICE),
        ])
        .send()
        .await
        .expect("request");
    let consent = alice
        .get(app.url(&location(&resp)))
        .send()
        .await
        .expect("request");
    assert_eq!(consent.status(), 200, "the consent page");
    pages.push(("consent".into(), consent));
    pages.push((
        "logout confirmation".into(),
        alice.get(app.url("/logout")).send().await.expect("request"),
    ));
    // The console, signed in as an admin.
    let admin = browser();
    let login = admin
        .get(app.url("/login?return_to=/console"))
        .send()
        .await
        .expect("request");
    let html = login.text().await.expect("page");
    let resp = admin
        .post(app.url("/login"))
        .form(&[
            ("csrf", hidden(&html, "csrf").as_str()),
            ("return_to", "/console"),
            ("username", "root"),
            ("password", crate::helpers::ADMIN_PASSWORD),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(location(&resp), "/console");
    for path in [
        "/console",
        "/console/keys",
        "/console/keys/rotate",
        "/console/users",
        "/console/clients",
        "/console/audit",
        "/console/users/alice/delete",
        "/console/clients/app/delete",
    ] {
        let resp = admin.get(app.url(path)).send().await.expect("request");
        // `/console` itself sends the browser on to its first page.
        let expected = match path {
            "/console" => 303,
            _ => 200,
        };
        assert_eq!(resp.status(), expected, "{path}");
        pages.push((path.into(), resp));
    }
    pages.push((
        "console, signed out".into(),
        anonymous
            .get(app.url("/console/users"))
            .send()
            .await
            .expect("request"),
    ));
    for (what, resp) in &pages {
        if resp.status().is_redirection() {
            continue;
        }
        assert_page_headers(resp, what);
    }
    assert!(
        pages
            .iter()
            .filter(|(_, r)| !r.status().is_redirection())
            .count()
            >= 15
    );
}
