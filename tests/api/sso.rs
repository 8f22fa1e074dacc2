//! Browser single sign-on over HTTP with a cookie-keeping client: the code flow with PKCE,
//! the SSO session, consent, logout, and the hostile cases.

use base64::Engine;
use reqwest::StatusCode;
use sha2::Digest;

use crate::both_backends;
use crate::helpers::{
    page_text, peek, spawn_app, spawn_app_with, submit_login, verify_with_jwks, Backend, TestApp,
};
// The user agent's helpers, where the tests that use them have always found them.
pub(crate) use crate::helpers::{browser, hidden, location, query_param, sign_in};

pub(crate) const REDIRECT: &str = "http://localhost:9999/cb";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) async fn setup(app: &TestApp, consent: bool) {
    app.add_user("alice", "alice-password-1", false).await;
    let mut args = vec![
        "app",
        "--public",
        "--redirect-uri",
        REDIRECT,
        "--post-logout-redirect-uri",
        "http://localhost:9999/bye",
        "--scope",
        "openid",
        "profile",
        "email",
        "offline_access",
    ];
    if consent {
        args.push("--consent");
    }
    app.add_client(&args).await;
}

pub(crate) fn authorize_url(app: &TestApp, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", "app"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile offline_access"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        params.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    format!(
        "{}/authorize?{}",
        app.address,
        serde_urlencoded::to_string(&params).unwrap()
    )
}

/// Every `Set-Cookie` header of a response.
fn set_cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii cookie").to_string())
        .collect()
}

pub(crate) async fn exchange(
    app: &TestApp,
    code: &str,
    verifier: Option<&str>,
    client: &str,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", client),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    app.http
        .post(app.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

both_backends!(
    code_flow_issues_tokens_and_a_verifiable_id_token,
    second_application_signs_in_without_a_password,
    look_alike_redirect_uris_show_an_error_page_and_never_redirect,
    pkce_is_required_for_public_clients_and_plain_is_refused,
    wrong_or_missing_code_verifier_is_invalid_grant,
    replayed_code_fails_and_revokes_the_tokens_of_its_first_use,
    code_cannot_be_used_by_another_client,
    login_without_or_with_a_stale_csrf_token_is_refused,
    repeated_login_failures_are_throttled_without_revealing_the_account,
    prompt_none_without_a_session_returns_login_required,
    logout_with_id_token_hint_ends_the_session,
    logout_without_hint_asks_for_confirmation,
    login_page_is_not_frameable_and_not_cached,
    third_party_client_asks_for_consent_once,
    discovery_advertises_urls_built_from_the_issuer,
);

async fn code_flow_issues_tokens_and_a_verifiable_id_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    let cb = sign_in(&app, &b, &authorize_url(&app, &[]), "alice-password-1").await;
    assert!(cb.starts_with(REDIRECT), "{cb}");
    assert_eq!(query_param(&cb, "state").as_deref(), Some("st-1"));
    assert_eq!(
        query_param(&cb, "iss").as_deref(),
        Some(app.settings.issuer.as_str())
    );
    let resp = exchange(
        &app,
        &query_param(&cb, "code").unwrap(),
        Some(VERIFIER),
        "app",
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    for field in [
        "access_token",
        "id_token",
        "refresh_token",
        "expires_in",
        "scope",
    ] {
        assert!(body.get(field).is_some(), "missing {field}: {body}");
    }
    assert_eq!(body["token_type"], "Bearer");
    let jwks = app.jwks().await;
    let id = verify_with_jwks(
        body["id_token"].as_str().unwrap(),
        &jwks,
        &app.settings.issuer,
    )
    .unwrap();
    assert_eq!(id["aud"], "app");
    assert_eq!(id["nonce"], "n-1");
    assert!(id["sid"].is_string() && id["auth_time"].is_i64());
    let digest = sha2::Sha256::digest(body["access_token"].as_str().unwrap().as_bytes());
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    assert_eq!(id["at_hash"], expected.as_str());
    let (header, _) = peek(body["id_token"].as_str().unwrap());
    assert_eq!(header["alg"], "RS256");
    let me: serde_json::Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["preferred_username"], "alice");
    assert_eq!(me["sub"], id["sub"]);
}

async fn second_application_signs_in_without_a_password(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    app.add_client(&[
        "other",
        "--public",
        "--redirect-uri",
        "http://127.0.0.2:9998/cb",
    ])
    .await;
    let b = browser();
    sign_in(&app, &b, &authorize_url(&app, &[]), "alice-password-1").await;
    let url = authorize_url(
        &app,
        &[
            ("client_id", "other"),
            ("redirect_uri", "http://127.0.0.2:9998/cb"),
            ("scope", "openid"),
        ],
    );
    let resp = b.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let cb = location(&resp);
    assert!(
        cb.starts_with("http://127.0.0.2:9998/cb?code="),
        "no password asked: {cb}"
    );
    let resp = b
        .get(authorize_url(&app, &[("prompt", "login")]))
        .send()
        .await
        .unwrap();
    assert!(
        location(&resp).starts_with("/login?"),
        "prompt=login asks again"
    );
}

async fn look_alike_redirect_uris_show_an_error_page_and_never_redirect(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    for uri in [
        "http://localhost:9999/cb/extra",
        "http://localhost:9999/cb?x=1",
        "http://localhost:9998/cb",
        "http://localhost.evil/cb",
        "http://user@localhost:9999/cb",
        "https://localhost:9999/cb",
    ] {
        let resp = b
            .get(authorize_url(&app, &[("redirect_uri", uri)]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            resp.headers().get("location").is_none(),
            "{uri} must not redirect"
        );
    }
    let resp = b
        .get(authorize_url(&app, &[("client_id", "nobody")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
}

async fn pkce_is_required_for_public_clients_and_plain_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    let resp = b
        .get(authorize_url(
            &app,
            &[("code_challenge", ""), ("code_challenge_method", "")],
        ))
        .send()
        .await
        .unwrap();
    let loc = location(&resp);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-1"));
    let resp = b
        .get(authorize_url(&app, &[("code_challenge_method", "plain")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_param(&location(&resp), "error").as_deref(),
        Some("invalid_request")
    );
}

async fn wrong_or_missing_code_verifier_is_invalid_grant(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    let cb = sign_in(&app, &b, &authorize_url(&app, &[]), "alice-password-1").await;
    let code = query_param(&cb, "code").unwrap();
    for verifier in [
        None,
        Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"),
        Some("short"),
    ] {
        let resp = exchange(&app, &code, verifier, "app").await;
        assert_eq!(resp.status(), 400);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
    }
    // A failed verifier spends the code (it is in the wrong hands): the right one comes too
    // late (attacks::protocol proves it for every binding).
    assert_eq!(
        exchange(&app, &code, Some(VERIFIER), "app").await.status(),
        400
    );
}

async fn replayed_code_fails_and_revokes_the_tokens_of_its_first_use(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    let cb = sign_in(&app, &b, &authorize_url(&app, &[]), "alice-password-1").await;
    let code = query_param(&cb, "code").unwrap();
    let first: serde_json::Value = exchange(&app, &code, Some(VERIFIER), "app")
        .await
        .json()
        .await
        .unwrap();
    let replay = exchange(&app, &code, Some(VERIFIER), "app").await;
    assert_eq!(replay.status(), 400);
    assert_eq!(
        replay.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let refresh = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        refresh.status(),
        400,
        "the refresh token of the first use is revoked"
    );
    let me = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        401,
        "the access token of the first use is revoked"
    );
}

async fn code_cannot_be_used_by_another_client(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    app.add_client(&["other", "--public", "--redirect-uri", REDIRECT])
        .await;
    let b = browser();
    let cb = sign_in(&app, &b, &authorize_url(&app, &[]), "alice-password-1").await;
    let resp = exchange(
        &app,
        &query_param(&cb, "code").unwrap(),
        Some(VERIFIER),
        "other",
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}

async fn login_without_or_with_a_stale_csrf_token_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    let page = page_text(&app, &b, "/login").await;
    let csrf = hidden(&page, "csrf");
    for token in ["", "stale-token-from-another-browser-xxxxxxxxxxxx"] {
        let resp = b
            .post(app.url("/login"))
            .form(&[
                ("csrf", token),
                ("username", "alice"),
                ("password", "alice-password-1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        for cookie in set_cookies(&resp) {
            assert!(!cookie.contains("gh_session"), "{cookie}");
        }
    }
    // Another browser's valid token does not work in this one.
    let other = browser();
    let resp = other
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", "alice-password-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

async fn repeated_login_failures_are_throttled_without_revealing_the_account(backend: Backend) {
    let Some(app) =
        spawn_app_with(backend, |a| a.login_throttle = Some("3/15m,50/15m".into())).await
    else {
        return;
    };
    setup(&app, false).await;
    let mut answers = Vec::new();
    for user in ["alice", "nobody-here"] {
        let b = browser();
        let page = page_text(&app, &b, "/login").await;
        let csrf = hidden(&page, "csrf");
        let mut statuses = Vec::new();
        let mut pages = Vec::new();
        for _ in 0..4 {
            let resp = b
                .post(app.url("/login"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("username", user),
                    ("password", "wrong"),
                ])
                .send()
                .await
                .unwrap();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            statuses.push((resp.status(), retry_after));
            // The page with what differs by design (the name typed back, this browser's
            // form token) masked: all else must be the same for both names.
            let page = resp.text().await.unwrap();
            pages.push(page.replace(user, "USERNAME").replace(&csrf, "CSRF"));
        }
        assert_eq!(
            statuses[..3],
            [
                (StatusCode::UNAUTHORIZED, None),
                (StatusCode::UNAUTHORIZED, None),
                (StatusCode::UNAUTHORIZED, None)
            ],
            "{user}"
        );
        // The window opened at the first failure and the clock has not moved: all of it.
        assert_eq!(
            statuses[3],
            (StatusCode::TOO_MANY_REQUESTS, Some("900".to_string())),
            "{user}"
        );
        answers.push((statuses, pages));
    }
    let [(statuses, pages), (other_statuses, other_pages)] = &answers[..] else {
        unreachable!("two accounts")
    };
    assert_eq!(statuses, other_statuses, "statuses differ by account");
    for (n, (page, other)) in pages.iter().zip(other_pages).enumerate() {
        let differs = page.lines().zip(other.lines()).find(|(a, b)| a != b);
        assert!(
            page == other,
            "attempt {n}: the pages differ by account: {differs:?}"
        );
    }
    // Once the window has ended, the right password signs alice in.
    app.advance(900);
    let cb = sign_in(
        &app,
        &browser(),
        &authorize_url(&app, &[]),
        "alice-password-1",
    )
    .await;
    assert!(cb.starts_with(REDIRECT), "{cb}");
}

async fn prompt_none_without_a_session_returns_login_required(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let resp = browser()
        .get(authorize_url(&app, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let loc = location(&resp);
    assert!(loc.starts_with(REDIRECT));
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-1"));
}

async fn logout_with_id_token_hint_ends_the_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    let cb = sign_in(&app, &b, &authorize_url(&app, &[]), "alice-password-1").await;
    let tokens: serde_json::Value = exchange(
        &app,
        &query_param(&cb, "code").unwrap(),
        Some(VERIFIER),
        "app",
    )
    .await
    .json()
    .await
    .unwrap();
    let url = format!(
        "{}/logout?{}",
        app.address,
        serde_urlencoded::to_string([
            ("id_token_hint", tokens["id_token"].as_str().unwrap()),
            ("post_logout_redirect_uri", "http://localhost:9999/bye"),
            ("state", "bye-1")
        ])
        .unwrap()
    );
    let resp = b.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), "http://localhost:9999/bye?state=bye-1");
    let resp = b.get(authorize_url(&app, &[])).send().await.unwrap();
    assert!(
        location(&resp).starts_with("/login?"),
        "the session is gone"
    );
    // An unregistered post_logout_redirect_uri is never followed.
    let bad = format!(
        "{}/logout?{}",
        app.address,
        serde_urlencoded::to_string([
            ("client_id", "app"),
            ("post_logout_redirect_uri", "http://evil.example/")
        ])
        .unwrap()
    );
    let resp = b.get(&bad).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
}

async fn logout_without_hint_asks_for_confirmation(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    sign_in(&app, &b, &authorize_url(&app, &[]), "alice-password-1").await;
    let page = b.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let resp = b.get(authorize_url(&app, &[])).send().await.unwrap();
    assert!(
        location(&resp).starts_with(REDIRECT),
        "a GET alone logs nobody out"
    );
    let resp = b
        .post(app.url("/logout"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = b
        .post(app.url("/logout"))
        .form(&[("csrf", hidden(&html, "csrf").as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = b.get(authorize_url(&app, &[])).send().await.unwrap();
    assert!(
        location(&resp).starts_with("/login?"),
        "the confirmed logout ended the session"
    );
}

async fn login_page_is_not_frameable_and_not_cached(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let resp = browser().get(app.url("/login")).send().await.unwrap();
    let h = resp.headers();
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    let cookies = set_cookies(&resp);
    assert!(!cookies.is_empty(), "the login page sets its form cookie");
    for cookie in cookies {
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
    }
    let html = resp.text().await.unwrap();
    assert!(html.contains("<label for=\"username\">") && html.contains("autofocus"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );
}

async fn third_party_client_asks_for_consent_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, true).await;
    let b = browser();
    let resp = b.get(authorize_url(&app, &[])).send().await.unwrap();
    let login = location(&resp);
    let resp = submit_login(&app, &b, &login, "alice", "alice-password-1").await;
    let consent = b.get(app.url(&location(&resp))).send().await.unwrap();
    assert_eq!(consent.status(), 200);
    let html = consent.text().await.unwrap();
    assert!(
        html.contains("offline_access"),
        "the consent page lists the scopes"
    );
    let resp = b
        .post(app.url("/consent"))
        .form(&[
            ("csrf", hidden(&html, "csrf").as_str()),
            ("return_to", hidden(&html, "return_to").as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = b.get(app.url(&location(&resp))).send().await.unwrap();
    assert!(location(&resp).starts_with(&format!("{REDIRECT}?code=")));
    let resp = b.get(authorize_url(&app, &[])).send().await.unwrap();
    assert!(
        location(&resp).starts_with(&format!("{REDIRECT}?code=")),
        "consent is remembered"
    );
}

async fn discovery_advertises_urls_built_from_the_issuer(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |a| {
        a.issuer = Some("https://id.example.test".into())
    })
    .await
    else {
        return;
    };
    let doc: serde_json::Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], "https://id.example.test");
    assert_eq!(
        doc["authorization_endpoint"],
        "https://id.example.test/authorize"
    );
    assert_eq!(
        doc["jwks_uri"],
        "https://id.example.test/.well-known/jwks.json"
    );
    assert_eq!(
        doc["end_session_endpoint"],
        "https://id.example.test/logout"
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let same: serde_json::Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc, same);
}
