//! Open redirects through every redirecting parameter, and `state` and `nonce` coming back
//! byte for byte.

use super::*;

both_backends!(
    no_redirecting_parameter_sends_the_browser_to_an_unregistered_place,
    state_and_nonce_come_back_byte_for_byte,
);

/// The response is a page of this server with `status`, sending the browser nowhere.
fn assert_answered_here(resp: &reqwest::Response, status: StatusCode, what: &str) {
    assert_eq!(resp.status(), status, "{what}");
    assert!(
        resp.headers().get("location").is_none(),
        "{what}: redirected to {:?}",
        resp.headers()["location"]
    );
}

async fn no_redirecting_parameter_sends_the_browser_to_an_unregistered_place(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let redirect_variants = [
        "https://evil.example/cb",
        "http://evil.example:9999/cb",
        "http://localhost:9999@evil.example/cb",
        "http://evil.example@localhost:9999/cb",
        "http://localhost:9999.evil.example/cb",
        "http://localhost:9999/cb/../../evil",
        "http://localhost:9999/cb/..%2f..%2fevil",
        "http://localhost:9999/cb%2f..%2fevil",
        "http://localhost:9999/cb#@evil.example",
        "http://localhost:9999/cb?next=https://evil.example",
        "http://localhost:9999/cb/",
        "http://localhost:9999/CB",
        "HTTP://LOCALHOST:9999/cb",
        "http://localhost:9999/cb%00",
        "http://localhost:9999/cb\\@evil.example",
        "//evil.example/cb",
        "/cb",
        " http://localhost:9999/cb",
        "javascript:alert(1)//http://localhost:9999/cb",
    ];
    // /authorize: an error page, never a redirect, with or without a session.
    let b = browser();
    let _ = sign_in(&app, &b, &authorize_url(&app, &[]), ALICE).await;
    for uri in redirect_variants {
        for client in [&b, &browser()] {
            let resp = client
                .get(authorize_url(&app, &[("redirect_uri", uri)]))
                .send()
                .await
                .expect("request");
            assert_eq!(resp.status(), 400, "redirect_uri {uri}");
            assert!(
                resp.headers().get("location").is_none(),
                "redirect_uri {uri}"
            );
        }
    }
    // return_to (the login page's and the consent form's way back): only here.
    let return_tos = [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2F%2Fevil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "/authorize?x=1\r\nLocation: https://evil.example",
        "/console//evil.example",
        "/login?return_to=https://evil.example",
    ];
    for back in return_tos {
        let b = browser();
        let page = b
            .get(app.url(&format!(
                "/login?{}",
                serde_urlencoded::to_string([("return_to", back)]).expect("query")
            )))
            .send()
            .await
            .expect("request");
        assert_answered_here(&page, StatusCode::OK, back);
        let page = page.text().await.expect("page");
        let kept = hidden(&page, "return_to");
        assert!(
            kept.is_empty() || kept.starts_with("/authorize?"),
            "{back}: {kept}"
        );
        let resp = b
            .post(app.url("/login"))
            .form(&[
                ("csrf", hidden(&page, "csrf").as_str()),
                ("return_to", back),
                ("username", "alice"),
                ("password", ALICE),
            ])
            .send()
            .await
            .expect("request");
        // Signed in, with nowhere safe to go back to: the "signed in" page.
        let what = format!("POST /login return_to {back}");
        assert_answered_here(&resp, StatusCode::OK, &what);
        let signed_in = resp.text().await.expect("page");
        assert!(
            signed_in.contains("You are signed in as alice"),
            "{what}: {signed_in}"
        );
        let resp = b
            .post(app.url("/consent"))
            .form(&[
                ("csrf", hidden(&page, "csrf").as_str()),
                ("return_to", back),
            ])
            .send()
            .await
            .expect("request");
        let what = format!("POST /consent return_to {back}");
        assert_answered_here(&resp, StatusCode::BAD_REQUEST, &what);
    }
    // post_logout_redirect_uri: registered ones only, also after the confirmation.
    let registered = "http://localhost:9999/bye";
    for uri in redirect_variants.iter().copied().chain([
        "http://localhost:9999/bye/",
        "http://localhost:9999/bye?x=1",
    ]) {
        let b = browser();
        let cb = sign_in(&app, &b, &authorize_url(&app, &[]), ALICE).await;
        let code = query_param(&cb, "code").expect("code");
        let (_, tokens) = status_json(exchange(&app, &code, Some(VERIFIER), "app").await).await;
        let hint = tokens["id_token"].as_str().expect("id_token");
        let query = serde_urlencoded::to_string([
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", uri),
            ("state", "s"),
        ])
        .expect("query");
        let resp = b
            .get(app.url(&format!("/logout?{query}")))
            .send()
            .await
            .expect("request");
        assert_answered_here(&resp, StatusCode::BAD_REQUEST, &format!("logout to {uri}"));
        let query =
            serde_urlencoded::to_string([("client_id", "app"), ("post_logout_redirect_uri", uri)])
                .expect("query");
        let page = b
            .get(app.url(&format!("/logout?{query}")))
            .send()
            .await
            .expect("request");
        let what = format!("logout page for {uri}");
        assert_answered_here(&page, StatusCode::BAD_REQUEST, &what);
        // The confirmation form of a logout without a URI, posted with the unregistered one.
        let page = b
            .get(app.url("/logout?client_id=app"))
            .send()
            .await
            .expect("request");
        assert_answered_here(&page, StatusCode::OK, "logout confirmation page");
        let csrf = hidden(&page.text().await.expect("page"), "csrf");
        let resp = b
            .post(app.url("/logout"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("client_id", "app"),
                ("post_logout_redirect_uri", uri),
            ])
            .send()
            .await
            .expect("request");
        let what = format!("confirmed logout to {uri}");
        assert_answered_here(&resp, StatusCode::BAD_REQUEST, &what);
    }
    // Control: the registered URI is followed.
    let b = browser();
    let cb = sign_in(&app, &b, &authorize_url(&app, &[]), ALICE).await;
    let code = query_param(&cb, "code").expect("code");
    let (_, tokens) = status_json(exchange(&app, &code, Some(VERIFIER), "app").await).await;
    let query = serde_urlencoded::to_string([
        (
            "id_token_hint",
            tokens["id_token"].as_str().expect("id_token"),
        ),
        ("post_logout_redirect_uri", registered),
    ])
    .expect("query");
    let resp = b
        .get(app.url(&format!("/logout?{query}")))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(
        location(&resp).starts_with(registered),
        "{}",
        location(&resp)
    );
}

async fn state_and_nonce_come_back_byte_for_byte(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let values = [
        "plain",
        "a+b c",
        "100%25 %20 %",
        "+++",
        "=&?/#;,",
        "\"'<>`",
        "ñandú ✓ 😀 \u{202e}",
        "line\u{2028}sep",
        "eyJhbGciOiJub25lIn0.e30.",
        &"x".repeat(512),
    ];
    let b = browser();
    let _ = sign_in(&app, &b, &authorize_url(&app, &[]), ALICE).await;
    for value in values {
        let url = authorize_url(&app, &[("state", value), ("nonce", value)]);
        let resp = b.get(url).send().await.expect("request");
        assert_eq!(resp.status(), StatusCode::FOUND, "{value}");
        let cb = location(&resp);
        assert_eq!(
            query_param(&cb, "state").as_deref(),
            Some(value),
            "state in {cb}"
        );
        let code = query_param(&cb, "code").unwrap_or_else(|| panic!("no code: {cb}"));
        let (status, tokens) =
            status_json(exchange(&app, &code, Some(VERIFIER), "app").await).await;
        assert_eq!(status, 200, "{tokens}");
        let (_, claims) = peek(tokens["id_token"].as_str().expect("id_token"));
        assert_eq!(claims["nonce"], json!(value), "nonce");
        // An error response echoes it too.
        let url = authorize_url(
            &app,
            &[("state", value), ("prompt", "none"), ("max_age", "0")],
        );
        let resp = browser().get(url).send().await.expect("request");
        let to = location(&resp);
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some("login_required"),
            "{to}"
        );
        assert_eq!(
            query_param(&to, "state").as_deref(),
            Some(value),
            "state in {to}"
        );
    }
}
