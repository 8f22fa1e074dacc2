//! The account page (`/account`): reached through the login page, with the pages' headers;
//! the signed-in user changes their password (current password, the policy, every other
//! session and refresh family ended, audited), and every hostile or mistaken form is refused
//! in its section with nothing changed.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{
    browser, hidden, location, page_text, spawn_app, submit_login, Backend, TestApp,
};

both_backends!(
    the_account_page_asks_for_a_sign_in_and_comes_back,
    changing_the_password_keeps_this_session_and_ends_the_others,
    a_refused_password_change_changes_nothing,
    guessing_the_current_password_is_throttled_like_a_sign_in,
    a_password_change_without_a_session_goes_to_the_login_page,
);

const PASSWORD: &str = "alice's long password";
const NEW_PASSWORD: &str = "a new and longer passphrase";

/// A browser signed in as alice through the login page, returned to the account page.
pub(crate) async fn signed_in_browser(app: &TestApp, password: &str) -> reqwest::Client {
    let b = browser();
    let resp = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let login = location(&resp);
    assert_eq!(login, "/login?return_to=%2Faccount");
    // The form's own return_to brings the browser back to the account page.
    let resp = submit_login(app, &b, &login, "alice", password).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/account");
    b
}

/// The account page as `b` sees it: its status and HTML.
pub(crate) async fn account_page(app: &TestApp, b: &reqwest::Client) -> (StatusCode, String) {
    let resp = b.get(app.url("/account")).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// Posts the password section's form with the page's CSRF token.
async fn change_password(
    app: &TestApp,
    b: &reqwest::Client,
    current: &str,
    new: &str,
    confirm: &str,
) -> reqwest::Response {
    let (status, page) = account_page(app, b).await;
    assert_eq!(status, StatusCode::OK);
    b.post(app.url("/account/password"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("current", current),
            ("password", new),
            ("confirm", confirm),
        ])
        .send()
        .await
        .unwrap()
}

async fn password_changes_recorded(app: &TestApp) -> Vec<Value> {
    let out = app
        .cli(&["audit", "--json", "--kind", "user.password_changed"], "")
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

async fn the_account_page_asks_for_a_sign_in_and_comes_back(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let b = signed_in_browser(&app, PASSWORD).await;
    let resp = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self'"), "{csp}");
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Signed in as <strong>alice</strong>"),
        "{html}"
    );
    assert!(html.contains("action=\"/account/password\""), "{html}");
    assert!(!html.contains("class=\"error\""), "{html}");
    // Only the same path: a look-alike is no place to return to.
    for bad in ["/account/../console", "/accounts", "//evil.example/account"] {
        let page = browser()
            .get(app.url(&format!(
                "/login?{}",
                serde_urlencoded::to_string([("return_to", bad)]).unwrap()
            )))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(hidden(&page, "return_to"), "", "{bad}");
    }
}

async fn changing_the_password_keeps_this_session_and_ends_the_others(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    app.add_user("bob", PASSWORD, false).await;
    let here = signed_in_browser(&app, PASSWORD).await;
    let elsewhere = signed_in_browser(&app, PASSWORD).await;
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    let (_, bobs_refresh) = app.tokens("bob", PASSWORD).await;

    let resp = change_password(&app, &here, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Your password is changed"), "{html}");

    assert_eq!(account_page(&app, &here).await.0, StatusCode::OK);
    assert_eq!(account_page(&app, &elsewhere).await.0, StatusCode::FOUND);
    let refreshed = app
        .post_json(
            "/api/token/refresh/",
            serde_json::json!({ "refresh": refresh }),
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 401);
    assert_eq!(
        app.simplejwt_login("alice", NEW_PASSWORD).await.status(),
        200
    );
    // Nobody else's sessions or families.
    let bobs = app
        .post_json(
            "/api/token/refresh/",
            serde_json::json!({ "refresh": bobs_refresh }),
        )
        .await;
    assert_eq!(bobs.status(), StatusCode::OK);

    let recorded = password_changes_recorded(&app).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["subject"], "alice");
    assert_eq!(recorded[0]["actor"], "alice");
    assert_eq!(recorded[0]["detail"], "account page");
    let trail = app.cli(&["audit", "--json"], "").await.stdout;
    for secret in [PASSWORD, NEW_PASSWORD] {
        assert!(
            !trail.contains(secret),
            "a password reached the audit trail"
        );
    }
}

/// The password still works, the other session is still live, and nothing was recorded.
async fn assert_nothing_changed(app: &TestApp, other: &reqwest::Client) {
    assert_eq!(account_page(app, other).await.0, StatusCode::OK);
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 200);
    assert!(password_changes_recorded(app).await.is_empty());
}

async fn a_refused_password_change_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let b = signed_in_browser(&app, PASSWORD).await;
    let other = signed_in_browser(&app, PASSWORD).await;
    let long = "x".repeat(2000);
    let cases: [(&str, &str, &str, StatusCode, &str); 6] = [
        (
            "wrong password",
            NEW_PASSWORD,
            NEW_PASSWORD,
            StatusCode::UNAUTHORIZED,
            "current password is not right",
        ),
        (
            "",
            NEW_PASSWORD,
            NEW_PASSWORD,
            StatusCode::BAD_REQUEST,
            "current password is not right",
        ),
        (
            &long,
            NEW_PASSWORD,
            NEW_PASSWORD,
            StatusCode::BAD_REQUEST,
            "current password is not right",
        ),
        (
            PASSWORD,
            NEW_PASSWORD,
            "a different confirmation",
            StatusCode::BAD_REQUEST,
            "differ",
        ),
        (
            PASSWORD,
            "short",
            "short",
            StatusCode::BAD_REQUEST,
            "at least 12",
        ),
        (
            PASSWORD,
            "000000000000",
            "000000000000",
            StatusCode::BAD_REQUEST,
            "common",
        ),
    ];
    for (current, new, confirm, status, says) in cases {
        let resp = change_password(&app, &b, current, new, confirm).await;
        assert_eq!(resp.status(), status, "{current:.20} {new}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("class=\"error\""), "{html}");
        assert!(html.contains(says), "{says}: {html}");
        assert!(
            !html.contains(current) || current.is_empty(),
            "the page echoed a password"
        );
    }
    // A stale or missing CSRF token, a malformed or oversized form: refused, not a 5xx.
    for csrf in ["", "x"] {
        let resp = b
            .post(app.url("/account/password"))
            .form(&[
                ("csrf", csrf),
                ("current", PASSWORD),
                ("password", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(resp.text().await.unwrap().contains("expired"));
    }
    let malformed = b
        .post(app.url("/account/password"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("current=a&current=b")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let oversized = b
        .post(app.url("/account/password"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("current={}", "a".repeat(70 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_nothing_changed(&app, &other).await;
}

async fn guessing_the_current_password_is_throttled_like_a_sign_in(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let b = signed_in_browser(&app, PASSWORD).await;
    let other = signed_in_browser(&app, PASSWORD).await;
    // The default window: five failures per username in 15 minutes.
    for _ in 0..5 {
        let resp = change_password(&app, &b, "a wrong guess!", NEW_PASSWORD, NEW_PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    // The right password too is refused now, before any hash, with Retry-After.
    let resp = change_password(&app, &b, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Too many failed attempts"));
    // The same window as the login page's.
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 429);
    app.advance(15 * 60 + 1);
    assert_nothing_changed(&app, &other).await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("gatehouse_login_failures_total{endpoint=\"account_page\"} 5"),
        "failures counted under account_page"
    );
}

async fn a_password_change_without_a_session_goes_to_the_login_page(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let other = signed_in_browser(&app, PASSWORD).await;
    let stranger = browser();
    let page = page_text(&app, &stranger, "/login").await;
    let resp = stranger
        .post(app.url("/account/password"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("current", PASSWORD),
            ("password", NEW_PASSWORD),
            ("confirm", NEW_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), "/login?return_to=%2Faccount");
    assert_nothing_changed(&app, &other).await;
}
