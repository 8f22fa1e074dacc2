//! The second step of a sign-in for a user with an authenticator app: the login page asks for
//! a code after the password (or a recovery code), `/api/token/` answers `mfa_required` with
//! a single-use, short-lived `mfa_token` completed at `/api/token/mfa/`, and the password
//! grant refuses such a user. Wrong, replayed, expired, malformed codes and tokens are
//! refused with nothing issued, on both databases, the manual clock moved across steps.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::account::{account_page, signed_in_browser};
use crate::both_backends;
use crate::helpers::totp::code;
use crate::helpers::{
    browser, hidden, location, password_grant, peek, spawn_app, status_json, submit_login, Backend,
    TestApp,
};
use crate::totp::{audit_kinds, enrol, PASSWORD};

both_backends!(
    the_login_page_asks_for_a_code_after_the_password,
    a_code_counts_once_and_a_late_step_starts_over,
    a_recovery_code_signs_in_once_and_says_how_many_remain,
    the_json_exchange_answers_mfa_required_and_completes_at_api_token_mfa,
    mfa_tokens_are_single_use_short_lived_and_bound_to_their_surface,
    the_password_grant_refuses_a_user_with_a_second_factor,
    a_password_set_by_a_reset_link_still_asks_for_the_second_factor,
);

/// Password at the login page (returning to the account page): the second step's page.
async fn password_step(app: &TestApp, b: &reqwest::Client) -> (StatusCode, String) {
    let resp = submit_login(app, b, "/login?return_to=%2Faccount", "alice", PASSWORD).await;
    (resp.status(), resp.text().await.unwrap())
}

/// Posts the second step's form with `code`.
async fn second_step(
    app: &TestApp,
    b: &reqwest::Client,
    step_page: &str,
    code: &str,
) -> reqwest::Response {
    b.post(app.url("/login/mfa"))
        .form(&[
            ("csrf", hidden(step_page, "csrf").as_str()),
            ("return_to", hidden(step_page, "return_to").as_str()),
            ("mfa_token", hidden(step_page, "mfa_token").as_str()),
            ("code", code),
        ])
        .send()
        .await
        .unwrap()
}

/// alice with an app: the secret and her recovery codes.
async fn alice_with_an_app(app: &TestApp) -> (Vec<u8>, Vec<String>) {
    app.add_user("alice", PASSWORD, false).await;
    let b = signed_in_browser(app, PASSWORD).await;
    enrol(app, &b).await
}

async fn the_login_page_asks_for_a_code_after_the_password(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (secret, _) = alice_with_an_app(&app).await;
    app.advance(30);
    let b = browser();
    let (status, step) = password_step(&app, &b).await;
    assert_eq!(status, StatusCode::OK, "{step}");
    assert!(step.contains("Two-step sign-in"), "{step}");
    assert_eq!(hidden(&step, "mfa_token").len(), 43);
    // No session yet.
    assert_eq!(account_page(&app, &b).await.0, StatusCode::FOUND);
    // Wrong and malformed codes: the step again, still no session.
    let now = app.clock.now();
    let wrong = if code(&secret, now) == "123456" {
        "654321"
    } else {
        "123456"
    };
    let resp = second_step(&app, &b, &step, wrong).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let again = resp.text().await.unwrap();
    assert!(again.contains("not right"), "{again}");
    assert_eq!(hidden(&again, "mfa_token"), hidden(&step, "mfa_token"));
    for bad in ["12345", "abc", &"9".repeat(3000)] {
        let resp = second_step(&app, &b, &step, bad).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad:.10}");
    }
    let stale = b
        .post(app.url("/login/mfa"))
        .form(&[
            ("csrf", "stale"),
            ("mfa_token", hidden(&step, "mfa_token").as_str()),
            ("code", code(&secret, now).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    assert_eq!(account_page(&app, &b).await.0, StatusCode::FOUND);
    // The right code: the session, and on to where the sign-in was asked.
    let resp = second_step(&app, &b, &step, &code(&secret, now)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/account");
    assert_eq!(account_page(&app, &b).await.0, StatusCode::OK);
    let records = audit_kinds(&app).await;
    let failed: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "mfa.failed")
        .collect();
    assert_eq!(failed.len(), 1, "the wrong code, not the malformed ones");
}

async fn a_code_counts_once_and_a_late_step_starts_over(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (secret, _) = alice_with_an_app(&app).await;
    app.advance(30);
    let now = app.clock.now();
    let first = browser();
    let (_, step) = password_step(&app, &first).await;
    let used = code(&secret, now);
    assert_eq!(
        second_step(&app, &first, &step, &used).await.status(),
        StatusCode::SEE_OTHER
    );
    // The same code, inside its window, in another sign-in: refused.
    let second = browser();
    let (_, step) = password_step(&app, &second).await;
    let resp = second_step(&app, &second, &step, &used).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("used already"));
    // So is the code of the step before (its step is behind the one used).
    let resp = second_step(&app, &second, &step, &code(&secret, now - 30)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // The next step's code, once the clock gets there: accepted.
    app.advance(30);
    let resp = second_step(&app, &second, &step, &code(&secret, now + 30)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // A challenge left for more than five minutes is gone: the sign-in starts over.
    let third = browser();
    let (_, step) = password_step(&app, &third).await;
    app.advance(5 * 60 + 1);
    let later = app.clock.now();
    let resp = second_step(&app, &third, &step, &code(&secret, later)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let page = resp.text().await.unwrap();
    assert!(page.contains("sign in again"), "{page}");
    assert_eq!(account_page(&app, &third).await.0, StatusCode::FOUND);
}

async fn a_recovery_code_signs_in_once_and_says_how_many_remain(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, codes) = alice_with_an_app(&app).await;
    let b = browser();
    let (_, step) = password_step(&app, &b).await;
    // Typed in capitals and without the dash: the same code.
    let typed = codes[3].replace('-', "").to_uppercase();
    let resp = second_step(&app, &b, &step, &typed).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert!(page.contains("9 of 10 left"), "{page}");
    assert!(page.contains("href=\"/account\""), "{page}");
    assert_eq!(account_page(&app, &b).await.0, StatusCode::OK);
    let (_, account) = account_page(&app, &b).await;
    assert!(account.contains("9 of 10 recovery codes left"), "{account}");
    // Spent: a second sign-in with it is refused.
    let other = browser();
    let (_, step) = password_step(&app, &other).await;
    let resp = second_step(&app, &other, &step, &codes[3]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let records = audit_kinds(&app).await;
    let used: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "mfa.recovery_code_used")
        .collect();
    assert_eq!(used.len(), 1);
    assert_eq!(used[0]["detail"], "9 left");
    let metrics = app.metrics().await;
    for counted in [
        "gatehouse_second_factor_events_total{event=\"enrolled\"} 1",
        "gatehouse_second_factor_events_total{event=\"recovery_code_used\"} 1",
        "gatehouse_second_factor_events_total{event=\"failed\"} 1",
    ] {
        assert!(metrics.contains(counted), "{counted}");
    }
    let trail = serde_json::to_string(&records).unwrap();
    assert!(
        !trail.contains(&codes[3]),
        "a recovery code reached the trail"
    );
}

async fn mfa_required(app: &TestApp) -> String {
    let resp = app.simplejwt_login("alice", PASSWORD).await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "mfa_required", "{body}");
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    assert!(body.get("access").is_none());
    body["mfa_token"].as_str().unwrap().to_string()
}

async fn post_mfa(app: &TestApp, token: &str, code: &str) -> (StatusCode, Value) {
    status_json(
        app.post_json(
            "/api/token/mfa/",
            json!({ "mfa_token": token, "code": code }),
        )
        .await,
    )
    .await
}

async fn the_json_exchange_answers_mfa_required_and_completes_at_api_token_mfa(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (secret, codes) = alice_with_an_app(&app).await;
    app.advance(30);
    // A wrong password is still the ordinary refusal.
    let (status, body) = status_json(app.simplejwt_login("alice", "wrong password!").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "no_active_account");
    assert!(body.get("mfa_token").is_none());

    let token = mfa_required(&app).await;
    let now = app.clock.now();
    let wrong = if code(&secret, now) == "000000" {
        "000001"
    } else {
        "000000"
    };
    let (status, body) = post_mfa(&app, &token, wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "invalid_code");
    let (status, body) = post_mfa(&app, &token, "12ab56").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = status_json(
        app.post_json("/api/token/mfa/", json!({ "mfa_token": token }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid", "{body}");
    assert_eq!(body["detail"], "missing or blank: code");
    // The right code: the pair, for alice.
    let (status, body) = post_mfa(&app, &token, &code(&secret, now)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, claims) = peek(body["access"].as_str().unwrap());
    let refreshed = app
        .post_json("/api/token/refresh/", json!({ "refresh": body["refresh"] }))
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert!(claims["sub"].is_string());
    // A recovery code completes another exchange.
    let token = mfa_required(&app).await;
    let (status, body) = post_mfa(&app, &token, &codes[0]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn mfa_tokens_are_single_use_short_lived_and_bound_to_their_surface(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (secret, _) = alice_with_an_app(&app).await;
    app.advance(30);
    let token = mfa_required(&app).await;
    let now = app.clock.now();
    let (status, _) = post_mfa(&app, &token, &code(&secret, now)).await;
    assert_eq!(status, StatusCode::OK);
    // Spent: a new code with the same token is refused.
    app.advance(30);
    let now = app.clock.now();
    let (status, body) = post_mfa(&app, &token, &code(&secret, now)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_not_valid", "{body}");
    // Expired after five minutes.
    let token = mfa_required(&app).await;
    app.advance(5 * 60 + 1);
    let now = app.clock.now();
    let (status, body) = post_mfa(&app, &token, &code(&secret, now)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_not_valid");
    // Altered, oversized, or not a token at all.
    let token = mfa_required(&app).await;
    // The last character changed (to another one, whatever it was).
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    let altered = format!("{}{last}", &token[..42]);
    for bad in [altered.as_str(), &"A".repeat(5000), "", "\u{0}"] {
        let (status, body) = post_mfa(&app, bad, &code(&secret, now)).await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST,
            "{bad:.10}: {status} {body}"
        );
        assert!(body.get("access").is_none());
    }
    // The login page's challenge is worth nothing here, and this one nothing there.
    let b = browser();
    let (_, step) = password_step(&app, &b).await;
    let page_token = hidden(&step, "mfa_token");
    let (status, body) = post_mfa(&app, &page_token, &code(&secret, now)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_not_valid");
    let resp = b
        .post(app.url("/login/mfa"))
        .form(&[
            ("csrf", hidden(&step, "csrf").as_str()),
            ("mfa_token", token.as_str()),
            ("code", code(&secret, now).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(account_page(&app, &b).await.0, StatusCode::FOUND);
    // The unused token still works where it belongs.
    let (status, _) = post_mfa(&app, &token, &code(&secret, now)).await;
    assert_eq!(status, StatusCode::OK);
}

async fn the_password_grant_refuses_a_user_with_a_second_factor(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    alice_with_an_app(&app).await;
    app.add_user("bob", PASSWORD, false).await;
    let secret = app
        .add_client(&["spa", "--grant", "password", "--scope", "openid"])
        .await
        .unwrap();
    let resp = password_grant(
        &app.http,
        &app.address,
        "spa",
        &secret,
        "alice",
        PASSWORD,
        "openid",
    )
    .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("browser sign-in"),
        "{body}"
    );
    // A wrong password says nothing of the second factor; bob (none) is unaffected.
    let resp = password_grant(
        &app.http,
        &app.address,
        "spa",
        &secret,
        "alice",
        "wrong password!",
        "openid",
    )
    .await;
    let (_, body) = status_json(resp).await;
    assert!(!body.to_string().contains("second factor"), "{body}");
    let resp = password_grant(
        &app.http,
        &app.address,
        "spa",
        &secret,
        "bob",
        PASSWORD,
        "openid",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// A reset link sets a password, never a session: the next sign-in with the new password
/// still asks for the app's code, at the login page and in the JSON exchange (issue 27).
async fn a_password_set_by_a_reset_link_still_asks_for_the_second_factor(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (secret, _) = alice_with_an_app(&app).await;
    const NEW: &str = "alice's brand new passphrase";

    let resp = app
        .http
        .post(app.url("/admin/users/alice/reset-link"))
        .bearer_auth(&admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["url"].as_str().unwrap().to_string();
    let b = browser();
    let page = b.get(&url).send().await.unwrap().text().await.unwrap();
    let resp = b
        .post(app.url("/reset"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("token", hidden(&page, "token").as_str()),
            ("password", NEW),
            ("confirm", NEW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let set = resp.text().await.unwrap();
    assert!(set.contains("Your password is set"), "{set}");
    let account = b.get(app.url("/account")).send().await.unwrap();
    assert!(
        location(&account).starts_with("/login"),
        "the reset signed nobody in: {} {}",
        account.status(),
        location(&account)
    );

    // The JSON exchange: the new password alone gives no pair. (The next step: enrolment
    // spent this one's code.)
    app.advance(30);
    let resp = app.simplejwt_login("alice", NEW).await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "mfa_required", "{body}");
    assert!(body.get("access").is_none(), "{body}");
    let (status, pair) = post_mfa(
        &app,
        body["mfa_token"].as_str().unwrap(),
        &code(&secret, app.clock.now()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert!(pair["access"].is_string(), "{pair}");
}
