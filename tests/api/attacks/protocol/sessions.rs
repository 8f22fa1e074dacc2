//! Client-secret guessing in parallel, a session cookie planted before sign-in, and login
//! and logout CSRF.

use super::*;

both_backends!(
    parallel_wrong_client_secrets_are_throttled_at_the_limit_and_a_right_one_from_elsewhere_works,
    a_session_cookie_planted_before_sign_in_is_replaced_and_never_signs_anybody_in,
    login_and_logout_forms_refuse_a_csrf_token_from_another_browser,
);

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
