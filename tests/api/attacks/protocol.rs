//! Protocol attacks on the browser and token flows: authorization-code injection, mix-up
//! (RFC 9207 `iss`), open redirects through every redirecting parameter, `state` and
//! `nonce` round trips, client-secret guessing, session fixation, login and logout CSRF, and
//! the headers every HTML page carries (framing, caching, referrer).

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::snapshot;
use crate::both_backends;
use crate::helpers::{peek, spawn_app, spawn_app_with, status_json, Backend, TestApp};
use crate::sso::{
    authorize_url, browser, exchange, hidden, location, query_param, setup, sign_in, REDIRECT,
    VERIFIER,
};

both_backends!(
    an_injected_code_of_another_client_redirect_uri_or_verifier_is_invalid_grant_and_spent,
    the_authorization_response_names_the_issuer_and_discovery_says_so,
    response_type_token_and_the_hybrid_types_are_unsupported_and_an_unregistered_scope_is_invalid_scope,
    no_redirecting_parameter_sends_the_browser_to_an_unregistered_place,
    state_and_nonce_come_back_byte_for_byte,
    parallel_wrong_client_secrets_are_throttled_at_the_limit_and_a_right_one_from_elsewhere_works,
    a_session_cookie_planted_before_sign_in_is_replaced_and_never_signs_anybody_in,
    login_and_logout_forms_refuse_a_csrf_token_from_another_browser,
    every_html_page_is_unframeable_uncached_and_sends_no_referrer,
);

const ALICE: &str = "alice-password-1";

/// Signs alice in with a fresh browser and returns the code of the callback.
async fn fresh_code(app: &TestApp) -> String {
    let cb = sign_in(app, &browser(), &authorize_url(app, &[]), ALICE).await;
    query_param(&cb, "code").expect("code")
}

async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    status_json(app.post_form("/token", form).await).await
}

async fn an_injected_code_of_another_client_redirect_uri_or_verifier_is_invalid_grant_and_spent(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    // The attacker's own client, registered for the same callback.
    app.add_client(&["other", "--public", "--redirect-uri", REDIRECT])
        .await;
    let other_verifier = "attacker-verifier-0123456789-0123456789-0123456789";
    let attacks: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "another client",
            vec![
                ("client_id", "other"),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        ),
        (
            "another redirect_uri",
            vec![
                ("client_id", "app"),
                ("redirect_uri", "http://localhost:9999/cb2"),
                ("code_verifier", VERIFIER),
            ],
        ),
        (
            "another PKCE verifier",
            vec![
                ("client_id", "app"),
                ("redirect_uri", REDIRECT),
                ("code_verifier", other_verifier),
            ],
        ),
        (
            "no PKCE verifier",
            vec![("client_id", "app"), ("redirect_uri", REDIRECT)],
        ),
    ];
    for (what, fields) in attacks {
        let code = fresh_code(&app).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ];
        form.extend(fields);
        let (status, body) = token_request(&app, &form).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
        assert!(body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
        // RFC 9700 §4.5: the code is in the wrong hands; the rightful exchange now fails too
        // and issues nothing.
        let before = snapshot(&app).await;
        let resp = exchange(&app, &code, Some(VERIFIER), "app").await;
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 400, "{what}: the code was still redeemable: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
        assert_eq!(snapshot(&app).await, before, "{what}: tokens were issued");
    }
    // Control: an untouched code is redeemed by its client.
    let code = fresh_code(&app).await;
    assert_eq!(
        exchange(&app, &code, Some(VERIFIER), "app").await.status(),
        200
    );
}

async fn the_authorization_response_names_the_issuer_and_discovery_says_so(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let doc: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    let b = browser();
    let cb = sign_in(&app, &b, &authorize_url(&app, &[]), ALICE).await;
    assert!(cb.starts_with(&format!("{REDIRECT}?")), "{cb}");
    assert_eq!(
        query_param(&cb, "iss").as_deref(),
        Some(app.settings.issuer.as_str())
    );
    // Error responses too (RFC 9207 §2): a refused scope, an unsupported response type.
    for extra in [
        [("scope", "openid not-registered")],
        [("response_type", "token")],
    ] {
        let resp = b
            .get(authorize_url(&app, &extra))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::FOUND, "{extra:?}");
        let to = location(&resp);
        assert!(to.starts_with(&format!("{REDIRECT}?")), "{to}");
        assert!(query_param(&to, "error").is_some(), "{to}");
        assert_eq!(
            query_param(&to, "iss").as_deref(),
            Some(app.settings.issuer.as_str())
        );
        assert_eq!(query_param(&to, "state").as_deref(), Some("st-1"));
    }
}

/// RFC 9700 §2.1.2, RFC 6819 §4.4.2: no implicit grant, and no hybrid flow that would put
/// a token in the front channel. With a live session (so a supported request would be
/// answered with a code at once), each is sent back to the registered URI as
/// `unsupported_response_type` (RFC 6749 §4.1.2.1) with `state` and `iss`, carrying no code
/// or token; an unregistered scope goes back as `invalid_scope`. Nothing is stored.
async fn response_type_token_and_the_hybrid_types_are_unsupported_and_an_unregistered_scope_is_invalid_scope(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    let _ = sign_in(&app, &b, &authorize_url(&app, &[]), ALICE).await;
    let before = snapshot(&app).await;
    let refused = [
        ("response_type", "token", "unsupported_response_type"),
        ("response_type", "id_token", "unsupported_response_type"),
        (
            "response_type",
            "id_token token",
            "unsupported_response_type",
        ),
        ("response_type", "code token", "unsupported_response_type"),
        (
            "response_type",
            "code id_token",
            "unsupported_response_type",
        ),
        (
            "response_type",
            "code id_token token",
            "unsupported_response_type",
        ),
        ("response_type", "none", "unsupported_response_type"),
        ("scope", "openid not-registered", "invalid_scope"),
        ("scope", "openid admin", "invalid_scope"),
    ];
    for (name, value, error) in refused {
        let what = format!("{name}={value}");
        let resp = b
            .get(authorize_url(&app, &[(name, value)]))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::FOUND, "{what}");
        let to = location(&resp);
        assert!(to.starts_with(&format!("{REDIRECT}?")), "{what}: {to}");
        assert!(!to.contains('#'), "{what}: a fragment in {to}");
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some(error),
            "{what}: {to}"
        );
        assert_eq!(
            query_param(&to, "state").as_deref(),
            Some("st-1"),
            "{what}: {to}"
        );
        assert_eq!(
            query_param(&to, "iss").as_deref(),
            Some(app.settings.issuer.as_str()),
            "{what}: {to}"
        );
        for carried in ["code", "access_token", "id_token", "token"] {
            assert!(
                query_param(&to, carried).is_none(),
                "{what}: {carried} in {to}"
            );
        }
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused request stored something"
    );
    // Control: the same session and request with response_type=code gets a code.
    let resp = b
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(
        query_param(&location(&resp), "code").is_some(),
        "{}",
        location(&resp)
    );
}

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

async fn parallel_wrong_client_secrets_are_throttled_at_the_limit_and_a_right_one_from_elsewhere_works(
    backend: Backend,
) {
    // The test's requests come through a trusted proxy that names the client's address.
    let Some(app) = spawn_app_with(backend, |a| {
        a.trusted_proxies = Some("127.0.0.1".into());
        // Per address as low as per client, so that the password sign-in below would be
        // throttled if the client-secret failures counted in the password windows.
        a.login_throttle = Some("5/15m,5/15m".into());
    })
    .await
    else {
        return;
    };
    let secret = app
        .add_client(&["backend", "--grant", "client_credentials"])
        .await
        .expect("confidential");
    let guess = |client: &'static str, secret: String, from: &'static str| {
        let (http, url) = (app.http.clone(), app.url("/token"));
        tokio::spawn(async move {
            let resp = http
                .post(url)
                .header("x-forwarded-for", from)
                .basic_auth(client, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("request");
            let retry_after = resp.headers().get("retry-after").is_some();
            let (status, body) = status_json(resp).await;
            (status, body, retry_after)
        })
    };
    let attacker = "203.0.113.66";
    let tasks: Vec<_> = (0..50)
        .map(|i| guess("backend", format!("wrong-secret-{i}"), attacker))
        .collect();
    let (mut refused, mut throttled) = (0, 0);
    for task in tasks {
        let (status, body, retry_after) = task.await.expect("task");
        assert_eq!(body["error"], "invalid_client", "{status}: {body}");
        match status.as_u16() {
            401 => refused += 1,
            429 => {
                assert!(retry_after, "429 without Retry-After");
                throttled += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(
        (refused, throttled),
        (5, 45),
        "exactly the limit of wrong secrets is checked, the rest throttled"
    );
    // Now even the right secret from the attacker's address waits...
    let (status, _, _) = guess("backend", secret.clone(), attacker)
        .await
        .expect("task");
    assert_eq!(status, 429);
    // The guesses are counted apart from passwords: a person signing in from the same
    // address (behind the same NAT) is not throttled by them.
    app.add_user("nat", "nat's long password", false).await;
    let resp = app
        .http
        .post(app.url("/api/token/"))
        .header("x-forwarded-for", attacker)
        .form(&[("username", "nat"), ("password", "nat's long password")])
        .send()
        .await
        .expect("request");
    assert_eq!(
        resp.status(),
        200,
        "client-secret failures throttled a password sign-in"
    );
    // ...but the client itself, from its own address, is not locked out by the attacker,
    // and a success gives its reservation back: 20 right answers in a row.
    for _ in 0..20 {
        let (status, body, _) = guess("backend", secret.clone(), "198.51.100.7")
            .await
            .expect("task");
        assert_eq!(status, 200, "{body}");
    }
    // An unknown client's guesses count in the same windows and give the same answers.
    let (mut refused, mut throttled) = (0, 0);
    for i in 0..8 {
        let (status, body, _) = guess("ghost", format!("guess-{i}"), "192.0.2.1")
            .await
            .expect("task");
        assert_eq!(body["error"], "invalid_client", "{body}");
        match status.as_u16() {
            401 => refused += 1,
            429 => throttled += 1,
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!((refused, throttled), (5, 3));
    // The windows pass with time.
    app.advance(15 * 60 + 1);
    let (status, body, _) = guess("backend", secret.clone(), attacker)
        .await
        .expect("task");
    assert_eq!(status, 200, "{body}");
}

fn set_cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or("").to_string())
}

async fn a_session_cookie_planted_before_sign_in_is_replaced_and_never_signs_anybody_in(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    // A value the attacker made up and planted (a sibling subdomain or a script can set
    // cookies for this host).
    let planted_values = ["attacker-chosen-session-value-0123456789ab".to_string()];
    for planted in planted_values {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let base: reqwest::Url = app.address.parse().expect("url");
        jar.add_cookie_str(&format!("gh_session={planted}; Path=/"), &base);
        let victim = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        // The planted value is no session: the victim is asked to sign in.
        let resp = victim
            .get(authorize_url(&app, &[]))
            .send()
            .await
            .expect("request");
        assert!(
            location(&resp).starts_with("/login?"),
            "{}",
            location(&resp)
        );
        let page = victim
            .get(app.url(&location(&resp)))
            .send()
            .await
            .expect("request");
        let page = page.text().await.expect("page");
        let resp = victim
            .post(app.url("/login"))
            .form(&[
                ("csrf", hidden(&page, "csrf").as_str()),
                ("return_to", hidden(&page, "return_to").as_str()),
                ("username", "alice"),
                ("password", ALICE),
            ])
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let issued = set_cookie_value(&resp, "gh_session").expect("a new session cookie");
        assert_ne!(issued, planted, "the planted session value was kept");
        assert!(issued.len() >= 43, "a 256-bit session value");
        // A browser holding only the planted value is still not signed in.
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(&format!("gh_session={planted}; Path=/"), &base);
        let other = reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let resp = other
            .get(authorize_url(&app, &[]))
            .send()
            .await
            .expect("request");
        assert!(
            location(&resp).starts_with("/login?"),
            "planted value signs in"
        );
    }
    // Signing in again in a signed-in browser ends the old session and issues a new value:
    // whoever learnt the old value (or planted it) holds nothing.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let b = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let _ = sign_in(&app, &b, &authorize_url(&app, &[]), ALICE).await;
    let base: reqwest::Url = app.address.parse().expect("url");
    let old = session_in(&jar, &base).expect("signed in");
    let page = b.get(app.url("/login")).send().await.expect("request");
    let page = page.text().await.expect("page");
    let resp = b
        .post(app.url("/login"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("return_to", ""),
            ("username", "alice"),
            ("password", ALICE),
        ])
        .send()
        .await
        .expect("request");
    let new = set_cookie_value(&resp, "gh_session").expect("a new session cookie");
    assert_ne!(new, old, "the session value did not change at sign-in");
    let holder = reqwest::Client::builder()
        .cookie_provider({
            let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
            jar.add_cookie_str(&format!("gh_session={old}; Path=/"), &base);
            jar
        })
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = holder
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("request");
    assert!(
        location(&resp).starts_with("/login?"),
        "the session before the sign-in still signs in: {}",
        location(&resp)
    );
}

/// The `gh_session` value a cookie jar holds for the server.
fn session_in(jar: &reqwest::cookie::Jar, base: &reqwest::Url) -> Option<String> {
    use reqwest::cookie::CookieStore;
    let cookies = jar.cookies(base)?;
    cookies
        .to_str()
        .ok()?
        .split("; ")
        .find_map(|c| c.strip_prefix("gh_session="))
        .map(str::to_string)
}

async fn login_and_logout_forms_refuse_a_csrf_token_from_another_browser(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    app.add_user("mallory", "mallory-password-1", false).await;
    // The attacker's CSRF token, from their own browser.
    let attacker = browser();
    let page = attacker
        .get(app.url("/login"))
        .send()
        .await
        .expect("request");
    let attacker_csrf = hidden(&page.text().await.expect("page"), "csrf");
    // Login CSRF: a page of the attacker's makes the victim's browser sign in as mallory.
    let victim = browser();
    let _ = victim.get(app.url("/login")).send().await.expect("request");
    let before = snapshot(&app).await;
    let resp = victim
        .post(app.url("/login"))
        .form(&[
            ("csrf", attacker_csrf.as_str()),
            ("return_to", ""),
            ("username", "mallory"),
            ("password", "mallory-password-1"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie_value(&resp, "gh_session").is_none());
    // Without any CSRF cookie (a cross-site POST carries no SameSite=Lax cookie) as well.
    let resp = browser()
        .post(app.url("/login"))
        .form(&[
            ("csrf", attacker_csrf.as_str()),
            ("username", "mallory"),
            ("password", "mallory-password-1"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(snapshot(&app).await, before, "a session was created");

    // Logout CSRF: the victim is signed in; a forged confirmation or a bare GET ends nothing.
    let _ = sign_in(&app, &victim, &authorize_url(&app, &[]), ALICE).await;
    let before = snapshot(&app).await;
    for csrf in [attacker_csrf.as_str(), ""] {
        let resp = victim
            .post(app.url("/logout"))
            .form(&[("csrf", csrf)])
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    let resp = victim
        .get(app.url("/logout"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK, "a confirmation page");
    assert_eq!(snapshot(&app).await, before, "the session ended");
    let resp = victim
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("request");
    assert!(
        location(&resp).starts_with(REDIRECT),
        "the victim was signed out"
    );
}

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
