//! Password reset links: issued by the admin API, the CLI and the console; the page they
//! open (`/reset`) sets a new password once, ends the user's sessions and refresh families,
//! and refuses every dead link with a page that says what to do, changing nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    browser, hidden, run_cli_env, spawn_app, status_json, Backend, TestApp, ADMIN_PASSWORD,
};

both_backends!(
    a_reset_link_sets_a_new_password_once_and_signs_the_user_out,
    the_cli_and_the_console_hand_out_links_and_a_newer_one_voids_the_older,
    each_dead_link_is_refused_with_a_page_and_nothing_changes,
    of_two_concurrent_submissions_exactly_one_sets_the_password,
    a_refused_password_shows_the_reason_and_keeps_the_link,
);

const OLD: &str = "alice's old password";
const NEW: &str = "alice's brand new passphrase";

/// `POST /admin/users/{name}/reset-link` with `body`.
async fn issue(app: &TestApp, token: &str, name: &str, body: Value) -> (StatusCode, Value) {
    let resp = app
        .http
        .post(app.url(&format!("/admin/users/{name}/reset-link")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    status_json(resp).await
}

/// A link for alice from the admin API.
async fn link(app: &TestApp, token: &str) -> String {
    let (status, body) = issue(app, token, "alice", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["url"].as_str().expect("url").to_string()
}

fn token_of(url: &str) -> String {
    url.split_once("?token=").expect("a token").1.to_string()
}

async fn open(b: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let resp = b.get(url).send().await.expect("page");
    (resp.status(), resp.text().await.expect("html"))
}

/// Posts the reset form with `b`'s CSRF token (from any page it opened).
async fn submit(
    app: &TestApp,
    b: &reqwest::Client,
    csrf: &str,
    token: &str,
    password: &str,
    confirm: &str,
) -> (StatusCode, String) {
    let form = [
        ("csrf", csrf),
        ("token", token),
        ("password", password),
        ("confirm", confirm),
    ];
    let resp = b
        .post(app.url("/reset"))
        .form(&form)
        .send()
        .await
        .expect("post");
    (resp.status(), resp.text().await.expect("html"))
}

/// A browser holding a CSRF cookie, and its token, without opening any reset link.
async fn browser_with_csrf(app: &TestApp) -> (reqwest::Client, String) {
    let b = browser();
    let (_, html) = open(&b, &app.url("/login")).await;
    let csrf = hidden(&html, "csrf");
    (b, csrf)
}

/// Signs alice in on the login page: the browser holds her session.
async fn alice_session(app: &TestApp, password: &str) -> reqwest::Client {
    let (b, csrf) = browser_with_csrf(app).await;
    let resp = b
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("return_to", ""),
            ("username", "alice"),
            ("password", password),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::OK, "alice signs in");
    b
}

/// Whether the browser's session is live: the console answers a signed-in non-admin 403
/// and anybody else with the login page.
async fn session_live(app: &TestApp, b: &reqwest::Client) -> bool {
    let resp = b
        .get(app.url("/console/keys"))
        .send()
        .await
        .expect("console");
    match resp.status() {
        StatusCode::FORBIDDEN => true,
        StatusCode::FOUND => false,
        other => panic!("console answered {other}"),
    }
}

async fn signs_in(app: &TestApp, password: &str) -> bool {
    app.simplejwt_login("alice", password).await.status() == StatusCode::OK
}

async fn stored_hash(app: &TestApp, name: &str) -> String {
    let user = app.state.accounts.find_user(name).await.expect("user");
    user.password_hash
}

async fn a_reset_link_sets_a_new_password_once_and_signs_the_user_out(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.add_user("alice", OLD, false).await;
    let session = alice_session(&app, OLD).await;
    let (_, refresh) = app.tokens("alice", OLD).await;

    let (status, body) = issue(&app, &admin, "alice", json!({ "ttl": "1h" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/reset?token=", app.address)),
        "{url}"
    );
    assert_eq!(token_of(&url).len(), 43, "256 random bits, base64url");
    assert_eq!(body["expires_at"], app.clock.now() + 3600);

    let b = browser();
    let resp = b.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    assert_eq!(
        headers["referrer-policy"], "no-referrer",
        "the token never leaks"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("Set a new password"), "{html}");
    assert!(html.contains("alice"), "{html}");
    let csrf = hidden(&html, "csrf");
    assert_eq!(hidden(&html, "token"), token_of(&url));

    let (status, html) = submit(&app, &b, &csrf, &token_of(&url), NEW, NEW).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Your password is set"), "{html}");
    assert!(!signs_in(&app, OLD).await, "the old password is refused");
    assert!(signs_in(&app, NEW).await, "the new one works");
    assert!(!session_live(&app, &session).await, "the session ended");
    let resp = app
        .post_json("/api/token/refresh/", json!({ "refresh": refresh }))
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "the family ended");

    // Once only.
    let (status, html) = submit(
        &app,
        &b,
        &csrf,
        &token_of(&url),
        "another fine passphrase",
        "another fine passphrase",
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("This link has been used"), "{html}");
    assert!(signs_in(&app, NEW).await);
    let (status, html) = open(&b, &url).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("This link has been used"), "{html}");

    // Audited, without the token.
    let resp = app
        .http
        .get(app.url("/admin/audit?limit=50"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let (_, page) = status_json(resp).await;
    let text = page.to_string();
    assert!(text.contains("user.reset_link_issued"), "{text}");
    assert!(text.contains("user.password_reset"), "{text}");
    assert!(!text.contains(&token_of(&url)), "{text}");

    // The admin API's refusals.
    let (status, body) = issue(&app, &admin, "nobody", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    for ttl in ["0s", "8d", "soon"] {
        let (status, body) = issue(&app, &admin, "alice", json!({ "ttl": ttl })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{ttl}: {body}");
        assert!(
            body["error_description"].as_str().unwrap().contains("ttl"),
            "{body}"
        );
    }
    let (status, _) = issue(
        &app,
        &admin,
        "alice",
        json!({ "ttl": "1h", "user": "root" }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused"
    );
    let resp = app
        .http
        .post(app.url("/admin/users/alice/reset-link"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

async fn the_cli_and_the_console_hand_out_links_and_a_newer_one_voids_the_older(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", OLD, false).await;
    let out = run_cli_env(
        &app.storage,
        &["user", "reset-link", "alice", "--ttl", "2h"],
        "",
        &[("GATEHOUSE_ISSUER", app.address.as_str())],
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    let cli_url = out.stdout.trim().to_string();
    assert!(
        cli_url.starts_with(&format!("{}/reset?token=", app.address)),
        "{cli_url}"
    );
    assert!(out.stderr.contains("valid until"), "{}", out.stderr);
    let (status, html) = open(&browser(), &cli_url).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let out = run_cli_env(&app.storage, &["user", "reset-link", "nobody"], "", &[]).await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("not found"), "{}", out.stderr);

    // The console: a button on alice's row, the link shown once on its own page.
    let _ = app.admin_token().await;
    let console = crate::console::signed_in(&app, "root", ADMIN_PASSWORD, "/console/keys").await;
    let (_, users) = open(&console, &app.url("/console/users")).await;
    assert!(users.contains("/console/users/alice/reset-link"), "{users}");
    let csrf = hidden(&users, "csrf");
    let resp = console
        .post(app.url("/console/users/alice/reset-link"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    let shown = html
        .split("id=\"reset-link\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .map(crate::helpers::unescape)
        .unwrap_or_else(|| panic!("no link in {html}"));
    assert!(
        shown.starts_with(&format!("{}/reset?token=", app.address)),
        "{shown}"
    );
    let resp = console
        .post(app.url("/console/users/alice/reset-link"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "CSRF-checked");

    // The console's link replaced the CLI's (the forged request issued none).
    let (status, html) = open(&browser(), &cli_url).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("no longer valid"), "{html}");
    let b = browser();
    let (status, page) = open(&b, &shown).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = submit(
        &app,
        &b,
        &hidden(&page, "csrf"),
        &token_of(&shown),
        NEW,
        NEW,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(signs_in(&app, NEW).await);
}

async fn each_dead_link_is_refused_with_a_page_and_nothing_changes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.add_user("alice", OLD, false).await;
    app.add_user("bob", "bob's long password", false).await;
    let (b, csrf) = browser_with_csrf(&app).await;

    // Each case: the token presented, the status and what the page says.
    let live = token_of(&link(&app, &admin).await);
    let mut tampered = live.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        ("tampered", tampered, StatusCode::BAD_REQUEST, "not valid"),
        (
            "truncated",
            live[..42].to_string(),
            StatusCode::BAD_REQUEST,
            "not valid",
        ),
        (
            "missing",
            String::new(),
            StatusCode::BAD_REQUEST,
            "not valid",
        ),
        (
            "overlong",
            format!("{live}{live}"),
            StatusCode::BAD_REQUEST,
            "not valid",
        ),
    ];
    for (what, token, status, says) in cases {
        let url = app.url(&format!("/reset?token={token}"));
        let (got, html) = open(&b, &url).await;
        assert_eq!(got, status, "{what}: GET");
        assert!(
            html.contains(says) && html.contains("administrator"),
            "{what}: {html}"
        );
        let (got, html) = submit(&app, &b, &csrf, &token, NEW, NEW).await;
        assert_eq!(got, status, "{what}: POST");
        assert!(html.contains(says), "{what}: {html}");
    }
    let (got, _) = open(&b, &app.url("/reset")).await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "no token at all");

    // Voided by a newer link.
    let _newer = link(&app, &admin).await;
    let (got, html) = submit(&app, &b, &csrf, &live, NEW, NEW).await;
    assert_eq!(got, StatusCode::GONE);
    assert!(html.contains("no longer valid"), "{html}");
    // The user disabled (and enabled again: disabling voided the link).
    let token = token_of(&link(&app, &admin).await);
    app.state
        .accounts
        .set_user_disabled("alice", true, gatehouse::accounts::LastAdmin::MayRemove)
        .await
        .unwrap();
    let (got, html) = submit(&app, &b, &csrf, &token, NEW, NEW).await;
    assert_eq!(got, StatusCode::FORBIDDEN);
    assert!(html.contains("disabled"), "{html}");
    let (status, body) = issue(&app, &admin, "alice", json!({})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "no link for a disabled user: {body}"
    );
    app.state
        .accounts
        .set_user_disabled("alice", false, gatehouse::accounts::LastAdmin::MayRemove)
        .await
        .unwrap();
    let (got, _) = submit(&app, &b, &csrf, &token, NEW, NEW).await;
    assert_eq!(got, StatusCode::GONE, "disabling voided it for good");
    // A password set by an admin voids it too.
    let token = token_of(&link(&app, &admin).await);
    app.state
        .accounts
        .set_password("alice", gatehouse::passwords::Password::new(OLD.into()))
        .await
        .unwrap();
    let (got, _) = submit(&app, &b, &csrf, &token, NEW, NEW).await;
    assert_eq!(got, StatusCode::GONE);
    let before = stored_hash(&app, "alice").await;
    // The user deleted.
    let (_, bob_link) = issue(&app, &admin, "bob", json!({})).await;
    let bob_token = token_of(bob_link["url"].as_str().unwrap());
    app.state
        .accounts
        .delete_user("bob", gatehouse::accounts::LastAdmin::MayRemove)
        .await
        .unwrap();
    let (got, html) = submit(&app, &b, &csrf, &bob_token, NEW, NEW).await;
    assert_eq!(got, StatusCode::BAD_REQUEST);
    assert!(html.contains("not valid"), "{html}");

    // Expired: valid for 30 minutes by default, not a second more.
    let url = link(&app, &admin).await;
    app.advance(30 * 60 - 1);
    let (got, _) = open(&b, &url).await;
    assert_eq!(got, StatusCode::OK, "still valid");
    app.advance(1);
    let (got, html) = open(&b, &url).await;
    assert_eq!(got, StatusCode::GONE);
    assert!(html.contains("has expired"), "{html}");
    let (got, html) = submit(&app, &b, &csrf, &token_of(&url), NEW, NEW).await;
    assert_eq!(got, StatusCode::GONE);
    assert!(html.contains("has expired"), "{html}");

    assert_eq!(stored_hash(&app, "alice").await, before, "nothing changed");
    assert!(signs_in(&app, OLD).await);
}

async fn of_two_concurrent_submissions_exactly_one_sets_the_password(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.add_user("alice", OLD, false).await;
    for round in 0..3 {
        let token = token_of(&link(&app, &admin).await);
        let (b, csrf) = browser_with_csrf(&app).await;
        let first = format!("first passphrase of round {round}");
        let second = format!("second passphrase of round {round}");
        let (a, z) = tokio::join!(
            submit(&app, &b, &csrf, &token, &first, &first),
            submit(&app, &b, &csrf, &token, &second, &second),
        );
        let mut statuses = [a.0, z.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::GONE],
            "round {round}"
        );
        let winner = if a.0 == StatusCode::OK {
            &first
        } else {
            &second
        };
        let loser = if a.0 == StatusCode::OK {
            &second
        } else {
            &first
        };
        assert!(signs_in(&app, winner).await, "round {round}");
        assert!(!signs_in(&app, loser).await, "round {round}");
    }
}

async fn a_refused_password_shows_the_reason_and_keeps_the_link(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.add_user("alice", OLD, false).await;
    let url = link(&app, &admin).await;
    let token = token_of(&url);
    let b = browser();
    let (_, page) = open(&b, &url).await;
    let csrf = hidden(&page, "csrf");
    let refusals = [
        (
            "short",
            "too short",
            "too short",
            StatusCode::BAD_REQUEST,
            "at least 12 characters",
        ),
        (
            "common",
            "1q2w3e4r5t6y",
            "1q2w3e4r5t6y",
            StatusCode::BAD_REQUEST,
            "most common",
        ),
        (
            "mistyped",
            NEW,
            "alice's brand new passphrasE",
            StatusCode::BAD_REQUEST,
            "differ",
        ),
    ];
    for (what, password, confirm, status, says) in refusals {
        let (got, html) = submit(&app, &b, &csrf, &token, password, confirm).await;
        assert_eq!(got, status, "{what}");
        assert!(html.contains(says), "{what}: {html}");
        assert!(
            html.contains("Set a new password"),
            "{what}: the form again"
        );
        assert_eq!(hidden(&html, "token"), token);
    }
    let (got, html) = submit(&app, &b, "forged", &token, NEW, NEW).await;
    assert_eq!(got, StatusCode::FORBIDDEN);
    assert!(html.contains("expired"), "{html}");
    assert!(signs_in(&app, OLD).await, "nothing changed");
    let (got, html) = submit(&app, &b, &csrf, &token, NEW, NEW).await;
    assert_eq!(got, StatusCode::OK, "{html}");
    assert!(signs_in(&app, NEW).await);
}
