//! An authenticator app (TOTP, RFC 6238) on the account page: enrolment shows a QR code and
//! the secret, counts only after one valid code (with the manual clock moved across steps),
//! answers ten recovery codes once; removal and new codes ask for the password; every hostile
//! or mistaken form is refused with nothing changed, on both databases.

use reqwest::StatusCode;
use serde_json::Value;

use crate::account::{account_page, signed_in_browser};
use crate::both_backends;
use crate::helpers::totp::{base32_decode, code};
use crate::helpers::{hidden, spawn_app, Backend, TestApp};

both_backends!(
    enrolment_shows_a_qr_code_and_counts_after_one_code,
    enrolment_takes_a_code_one_step_either_side_and_no_further,
    enrolment_refuses_wrong_malformed_and_stale_forms,
    removal_and_new_recovery_codes_ask_for_the_password,
    master_key_rotation_reseals_the_secret,
    an_operator_sees_and_removes_a_users_factors,
);

pub(crate) const PASSWORD: &str = "alice's long password";

/// Posts a form of the account page with its CSRF token.
pub(crate) async fn post_account(
    app: &TestApp,
    b: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let (_, page) = account_page(app, b).await;
    let csrf = hidden(&page, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let resp = b.post(app.url(path)).form(&form).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// The secret shown as text on an enrolment page.
fn shown_secret(html: &str) -> Vec<u8> {
    let start = html
        .find("id=\"totp-secret\">")
        .expect("the secret is shown")
        + 17;
    let end = html[start..].find('<').unwrap();
    base32_decode(&html[start..start + end])
}

/// The recovery codes shown once.
fn shown_codes(html: &str) -> Vec<String> {
    let Some(list) = html.split("<ul class=\"codes mono\">").nth(1) else {
        return vec![];
    };
    let list = list.split("</ul>").next().unwrap();
    list.split("<li>")
        .skip(1)
        .map(|li| li.split("</li>").next().unwrap().to_string())
        .collect()
}

/// Starts an enrolment with the password; the secret.
pub(crate) async fn start(app: &TestApp, b: &reqwest::Client) -> Vec<u8> {
    let (status, html) = post_account(app, b, "/account/totp", &[("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{html}"
    );
    shown_secret(&html)
}

/// Enrols alice's app; the secret and the recovery codes.
pub(crate) async fn enrol(app: &TestApp, b: &reqwest::Client) -> (Vec<u8>, Vec<String>) {
    let secret = start(app, b).await;
    let now = app.clock.now();
    let (status, html) = post_account(
        app,
        b,
        "/account/totp/confirm",
        &[("code", &code(&secret, now))],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    (secret, shown_codes(&html))
}

pub(crate) async fn audit_kinds(app: &TestApp) -> Vec<Value> {
    let out = app.cli(&["audit", "--json", "--limit", "500"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn of_kind<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["kind"] == kind).collect()
}

async fn enrolment_shows_a_qr_code_and_counts_after_one_code(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let b = signed_in_browser(&app, PASSWORD).await;
    let (_, page) = account_page(&app, &b).await;
    assert!(page.contains("Set up an authenticator app"), "{page}");

    let secret = start(&app, &b).await;
    assert_eq!(secret.len(), 20, "160 bits");
    // Until confirmed, the page shows the same enrolment again, and it does not count.
    let (_, page) = account_page(&app, &b).await;
    assert_eq!(shown_secret(&page), secret);
    assert!(of_kind(&audit_kinds(&app).await, "mfa.enrolled").is_empty());

    let now = app.clock.now();
    let (status, html) = post_account(
        &app,
        &b,
        "/account/totp/confirm",
        &[("code", &code(&secret, now))],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let codes = shown_codes(&html);
    assert_eq!(codes.len(), 10, "{html}");
    for c in &codes {
        assert_eq!(c.len(), 11, "xxxxx-xxxxx: {c}");
    }
    // Shown once: the page afterwards has no codes and no secret, but the app's state.
    let (_, page) = account_page(&app, &b).await;
    assert!(shown_codes(&page).is_empty());
    assert!(!page.contains("totp-secret"));
    assert!(page.contains("10 of 10 recovery codes left"), "{page}");
    let records = audit_kinds(&app).await;
    let enrolled = of_kind(&records, "mfa.enrolled");
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0]["subject"], "alice");
    let trail = serde_json::to_string(&records).unwrap();
    for c in &codes {
        assert!(
            !trail.contains(c.as_str()),
            "a recovery code reached the audit trail"
        );
    }
    // Enrolling again is refused while the app is set up.
    let (status, _) = post_account(&app, &b, "/account/totp", &[("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn enrolment_takes_a_code_one_step_either_side_and_no_further(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let b = signed_in_browser(&app, PASSWORD).await;
    let secret = start(&app, &b).await;
    let now = app.clock.now();
    // Two steps off either way: refused.
    for off in [-60, 60] {
        let (status, html) = post_account(
            &app,
            &b,
            "/account/totp/confirm",
            &[("code", &code(&secret, now + off))],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{off}: {html}");
        assert!(html.contains("not right"), "{html}");
    }
    // The code of the step before, after the clock moved one step on: accepted.
    let earlier = code(&secret, now);
    app.advance(30);
    let (status, html) =
        post_account(&app, &b, "/account/totp/confirm", &[("code", &earlier)]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(shown_codes(&html).len(), 10);
}

async fn enrolment_refuses_wrong_malformed_and_stale_forms(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let b = signed_in_browser(&app, PASSWORD).await;
    // Wrong password: no enrolment starts.
    let (status, html) = post_account(
        &app,
        &b,
        "/account/totp",
        &[("password", "not the password")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{html}");
    assert!(!html.contains("totp-secret"));
    // Confirming with nothing started.
    let (status, _) = post_account(&app, &b, "/account/totp/confirm", &[("code", "123456")]).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let secret = start(&app, &b).await;
    let now = app.clock.now();
    let right = code(&secret, now);
    let long = "1".repeat(5000);
    for bad in [
        "",
        "12345",
        "1234567",
        "12a456",
        "-12345",
        "１２３４５６",
        long.as_str(),
    ] {
        let (status, html) =
            post_account(&app, &b, "/account/totp/confirm", &[("code", bad)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:.10}: {html}");
    }
    // A stale CSRF token with the right code: refused, the enrolment still pending.
    let resp = b
        .post(app.url("/account/totp/confirm"))
        .form(&[("csrf", "stale"), ("code", right.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (_, page) = account_page(&app, &b).await;
    assert_eq!(shown_secret(&page), secret, "still pending");
    // Wrong codes count in the guard's window: five, then even the right one waits.
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..5 {
        let (status, _) = post_account(&app, &b, "/account/totp/confirm", &[("code", wrong)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let resp = {
        let (_, page) = account_page(&app, &b).await;
        b.post(app.url("/account/totp/confirm"))
            .form(&[
                ("csrf", hidden(&page, "csrf").as_str()),
                ("code", right.as_str()),
            ])
            .send()
            .await
            .unwrap()
    };
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let records = audit_kinds(&app).await;
    assert_eq!(of_kind(&records, "mfa.failed").len(), 5);
    assert!(of_kind(&records, "mfa.enrolled").is_empty());
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("gatehouse_login_failures_total{endpoint=\"second_factor\"} 5"),
        "{metrics}"
    );
    // The window ends; the enrolment is still there and a fresh code confirms it.
    app.advance(15 * 60 + 1);
    let now = app.clock.now();
    let (status, _) = post_account(
        &app,
        &b,
        "/account/totp/confirm",
        &[("code", &code(&secret, now))],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

async fn removal_and_new_recovery_codes_ask_for_the_password(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let b = signed_in_browser(&app, PASSWORD).await;
    let (_, first_codes) = enrol(&app, &b).await;

    let (status, _) = post_account(
        &app,
        &b,
        "/account/recovery-codes",
        &[("password", "not the password")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, html) = post_account(
        &app,
        &b,
        "/account/recovery-codes",
        &[("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let new_codes = shown_codes(&html);
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes.iter().all(|c| !first_codes.contains(c)));
    assert_eq!(
        of_kind(&audit_kinds(&app).await, "mfa.recovery_codes_regenerated").len(),
        1
    );

    let (status, _) = post_account(
        &app,
        &b,
        "/account/totp/remove",
        &[("password", "not the password")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, page) = account_page(&app, &b).await;
    assert!(page.contains("recovery codes left"), "still set up");

    let (status, html) =
        post_account(&app, &b, "/account/totp/remove", &[("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Set up an authenticator app"));
    assert_eq!(of_kind(&audit_kinds(&app).await, "mfa.removed").len(), 1);
    // Nothing left to remove, and no recovery codes to make.
    let (status, _) =
        post_account(&app, &b, "/account/totp/remove", &[("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = post_account(
        &app,
        &b,
        "/account/recovery-codes",
        &[("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn master_key_rotation_reseals_the_secret(backend: Backend) {
    use gatehouse::db::repo;
    use gatehouse::keys::encryption::MasterKey;
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let b = signed_in_browser(&app, PASSWORD).await;
    let secret = start(&app, &b).await;
    let read_key = || {
        let text = std::fs::read_to_string(app.storage.master_key_file()).unwrap();
        MasterKey::from_base64(&text).unwrap()
    };
    let old_key = read_key();
    let out = app.cli(&["master-key", "rotate"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("1 TOTP secrets re-sealed"),
        "{}",
        out.stdout
    );
    let new_key = read_key();
    let rows = app
        .state
        .db
        .run(repo::factors::all_sealed_totp)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let (user_id, sealed, key_id) = &rows[0];
    let context = format!("totp:{user_id}");
    assert_eq!(key_id, new_key.id());
    assert!(old_key.open(sealed, context.as_bytes()).is_err());
    let opened = new_key
        .open(sealed, context.as_bytes())
        .expect("the new key opens it");
    assert_eq!(opened.as_slice(), secret.as_slice(), "the same secret");
    // Bound to its user: under another user's context it does not open.
    assert!(new_key.open(sealed, b"totp:someone-else").is_err());
}

async fn an_operator_sees_and_removes_a_users_factors(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let out = app.cli(&["user", "factors", "alice"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "no second factor");
    let b = signed_in_browser(&app, PASSWORD).await;
    let (_, codes) = enrol(&app, &b).await;
    let out = app.cli(&["user", "factors", "alice"], "").await;
    assert!(
        out.stdout.contains("recovery codes left: 10"),
        "{}",
        out.stdout
    );
    let printed = format!("{}{}", out.stdout, out.stderr);
    assert!(!printed.contains(&codes[0]));
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 401);

    let out = app.cli(&["user", "remove-factors", "alice"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains("removed"), "{}", out.stdout);
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 200);
    let removed = of_kind(&audit_kinds(&app).await, "mfa.removed")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["detail"], "totp, by an operator");
    let out = app.cli(&["user", "remove-factors", "nobody"], "").await;
    assert!(!out.status.success());
}
