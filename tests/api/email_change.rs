//! Changing a user's address from the account page (the user, with the current password)
//! and from the console (an admin), through a real SMTP server on loopback: the new address
//! is unverified until its link is followed and gets no reset link before, the old verified
//! address is told (without the new one), each change is audited, and every hostile form
//! (no CSRF token, CR/LF, not an address, oversized, the wrong password) changes nothing and
//! sends nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::account::{account_page, signed_in_browser};
use crate::both_backends;
use crate::helpers::{browser, hidden, spawn_app_with, status_json, Backend, TestApp};
use crate::smtp::{ReceivedMail, SmtpSink};
use gatehouse::accounts::email::Verified;

both_backends!(
    a_user_changes_their_address_with_their_password_and_the_old_one_is_told,
    a_refused_change_on_the_account_page_changes_nothing_and_sends_nothing,
    own_changes_count_in_the_accounts_window_of_verification_mails,
    an_admin_sets_changes_and_removes_an_address_in_the_console,
    a_hostile_console_form_changes_nothing_and_sends_nothing,
);

const PASSWORD: &str = "alice's long password";

async fn mail_app(backend: Backend, sink: &SmtpSink) -> Option<TestApp> {
    let url = sink.url();
    spawn_app_with(backend, move |a| {
        a.smtp_url = Some(url);
        a.smtp_from = Some("Gatehouse <id@gatehouse.test>".into());
    })
    .await
}

/// alice, with an address the admin vouched for (verified, no mail).
async fn alice_verified(app: &TestApp, email: &str) {
    app.add_user("alice", PASSWORD, false).await;
    app.state
        .accounts
        .set_email("alice", Some(email.into()), Verified::Vouched)
        .await
        .expect("set email");
}

async fn user_json(app: &TestApp, admin: &str, name: &str) -> Value {
    let (status, body) = status_json(
        app.http
            .get(app.url(&format!("/admin/users/{name}")))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn address_of(body: &Value) -> (Value, Value) {
    (body["email"].clone(), body["email_verified"].clone())
}

/// The one mail sent to `to` among `mails`.
fn mail_to<'a>(mails: &'a [ReceivedMail], to: &str) -> &'a ReceivedMail {
    let to_them: Vec<_> = mails.iter().filter(|m| m.rcpt_tos == [to]).collect();
    assert_eq!(to_them.len(), 1, "one mail to {to}: {mails:?}");
    to_them[0]
}

/// The notice to a replaced address: says so, carries no link with a token, never names the
/// new address.
fn assert_is_notice(mail: &ReceivedMail, new: Option<&str>) {
    let subject = mail.header("Subject").unwrap_or_default();
    assert!(subject.starts_with("Your email address at "), "{subject}");
    let text = mail.text.clone().unwrap_or_default();
    let html = mail.html.clone().unwrap_or_default();
    assert!(
        text.contains("alice") && text.contains("/account"),
        "{text}"
    );
    for part in [&text, &html] {
        assert!(!part.contains("token="), "{part}");
        if let Some(new) = new {
            assert!(!part.contains(new), "{part}");
        }
    }
}

/// Audit details of `user.email_changed` for alice, newest first.
async fn email_audit(app: &TestApp, admin: &str) -> Vec<String> {
    let (status, body) = status_json(
        app.http
            .get(app.url("/admin/audit?kind=user.email_changed&limit=100"))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["subject"] == "alice")
        .map(|r| r["detail"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Posts the account page's email form (its CSRF token unless `csrf` is given).
async fn post_change(
    app: &TestApp,
    b: &reqwest::Client,
    csrf: Option<&str>,
    current: &str,
    email: &str,
) -> (StatusCode, String) {
    let (_, page) = account_page(app, b).await;
    let token = csrf.map_or_else(|| hidden(&page, "csrf"), str::to_string);
    let resp = b
        .post(app.url("/account/email"))
        .form(&[
            ("csrf", token.as_str()),
            ("current", current),
            ("email", email),
        ])
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// Opens a verification link in a fresh browser and presses its button.
async fn confirm(app: &TestApp, link: &str) {
    let b = browser();
    let page = b.get(link).send().await.unwrap().text().await.unwrap();
    let token = link.split_once("?token=").expect("token").1;
    let resp = b
        .post(app.url("/verify-email"))
        .form(&[("csrf", hidden(&page, "csrf").as_str()), ("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

/// Asks for a reset link for `identifier` through the forgot-password form.
async fn forgot(app: &TestApp, identifier: &str) {
    let b = browser();
    let page = b
        .get(app.url("/forgot"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resp = b
        .post(app.url("/forgot"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("identifier", identifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn a_user_changes_their_address_with_their_password_and_the_old_one_is_told(
    backend: Backend,
) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink).await else {
        return;
    };
    let admin = app.admin_token().await;
    alice_verified(&app, "alice@example.org").await;
    let b = signed_in_browser(&app, PASSWORD).await;
    let (_, page) = account_page(&app, &b).await;
    assert!(page.contains("action=\"/account/email\""), "{page}");

    let (status, page) = post_change(&app, &b, None, PASSWORD, "alice@new.example").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Your address is changed"), "{page}");
    assert!(
        page.contains("alice@new.example") && page.contains("not confirmed"),
        "{page}"
    );
    assert_eq!(
        address_of(&user_json(&app, &admin, "alice").await),
        (json!("alice@new.example"), json!(false))
    );
    // The new address gets its link, the old one the notice.
    let mails = sink.wait_for(2, 30).await;
    let verify = mail_to(&mails, "alice@new.example");
    let link = verify.link("/verify-email").expect("a verification link");
    assert_is_notice(
        mail_to(&mails, "alice@example.org"),
        Some("alice@new.example"),
    );
    assert_eq!(
        email_audit(&app, &admin).await.first().map(String::as_str),
        Some("account page, verification mailed")
    );

    // Unverified: neither the new address nor the old one gets a reset link.
    forgot(&app, "alice").await;
    forgot(&app, "alice@example.org").await;
    sink.assert_no_more_than(2, std::time::Duration::from_millis(500))
        .await;

    // Its link confirms it; then a reset link goes to it.
    confirm(&app, &link).await;
    assert_eq!(
        address_of(&user_json(&app, &admin, "alice").await),
        (json!("alice@new.example"), json!(true))
    );
    forgot(&app, "alice").await;
    let mails = sink.wait_for(3, 30).await;
    assert_eq!(mails[2].rcpt_tos, ["alice@new.example"]);
    assert!(mails[2].link("/reset").is_some(), "{:?}", mails[2]);
}

async fn a_refused_change_on_the_account_page_changes_nothing_and_sends_nothing(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink).await else {
        return;
    };
    let admin = app.admin_token().await;
    alice_verified(&app, "alice@example.org").await;
    let b = signed_in_browser(&app, PASSWORD).await;
    let long = format!("{}@example.org", "a".repeat(10_000));
    let refusals: [(Option<&str>, &str, &str, StatusCode, &str); 10] = [
        (
            Some(""),
            PASSWORD,
            "alice@new.example",
            StatusCode::FORBIDDEN,
            "expired",
        ),
        (
            Some("forged"),
            PASSWORD,
            "alice@new.example",
            StatusCode::FORBIDDEN,
            "expired",
        ),
        (
            None,
            PASSWORD,
            "alice@new.example\r\nBcc: mallory@example.net",
            StatusCode::BAD_REQUEST,
            "not an email address",
        ),
        (
            None,
            PASSWORD,
            "alice@new.example\nX-Evil: 1",
            StatusCode::BAD_REQUEST,
            "not an email address",
        ),
        (
            None,
            PASSWORD,
            "Mallory <mallory@example.net>",
            StatusCode::BAD_REQUEST,
            "not an email address",
        ),
        (
            None,
            PASSWORD,
            "",
            StatusCode::BAD_REQUEST,
            "not an email address",
        ),
        (
            None,
            PASSWORD,
            &long,
            StatusCode::BAD_REQUEST,
            "not an email address",
        ),
        (
            None,
            PASSWORD,
            "alice@example.org",
            StatusCode::BAD_REQUEST,
            "your address already",
        ),
        (
            None,
            "",
            "alice@new.example",
            StatusCode::BAD_REQUEST,
            "current password is not right",
        ),
        (
            None,
            "not alice's password",
            "alice@new.example",
            StatusCode::UNAUTHORIZED,
            "current password is not right",
        ),
    ];
    for (csrf, current, email, want, says) in refusals {
        let (status, page) = post_change(&app, &b, csrf, current, email).await;
        assert_eq!(status, want, "{email:?} {csrf:?}");
        assert!(page.contains(says), "{email:?}: {page}");
        assert!(page.contains("class=\"error\""), "{page}");
    }
    // An oversized password or body.
    let (status, _) = post_change(&app, &b, None, &"p".repeat(2000), "alice@new.example").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, page) = account_page(&app, &b).await;
    let resp = b
        .post(app.url("/account/email"))
        .form(&[
            ("csrf", hidden(&page, "csrf")),
            ("current", PASSWORD.to_string()),
            ("email", "x".repeat(100_000)),
        ])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    // Without a session: the login page, nothing done.
    let resp = browser()
        .post(app.url("/account/email"))
        .form(&[("current", PASSWORD), ("email", "alice@new.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);

    assert_eq!(
        address_of(&user_json(&app, &admin, "alice").await),
        (json!("alice@example.org"), json!(true))
    );
    assert_eq!(email_audit(&app, &admin).await.len(), 1, "only the set-up");
    // Wrong passwords count like sign-ins: the window fills and then even the right one waits.
    for _ in 0..4 {
        let (status, _) = post_change(&app, &b, None, "wrong again", "alice@new.example").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (_, page) = account_page(&app, &b).await;
    let resp = b
        .post(app.url("/account/email"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("current", PASSWORD),
            ("email", "alice@new.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(
        address_of(&user_json(&app, &admin, "alice").await),
        (json!("alice@example.org"), json!(true))
    );
    sink.assert_no_more_than(0, std::time::Duration::from_millis(500))
        .await;
}

async fn own_changes_count_in_the_accounts_window_of_verification_mails(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink).await else {
        return;
    };
    let admin = app.admin_token().await;
    alice_verified(&app, "alice@example.org").await;
    let b = signed_in_browser(&app, PASSWORD).await;
    // RESET_THROTTLE's default: three verification mails an hour per account.
    for n in 1..=3 {
        let email = format!("alice@new{n}.example");
        let (status, page) = post_change(&app, &b, None, PASSWORD, &email).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        // Its link is sent before the next change (which would make it pointless: a link
        // for an address the user no longer has is not sent).
        let mails = sink.wait_for(n + 1, 30).await;
        assert!(mails.iter().any(|m| m.rcpt_tos == [email.as_str()]));
    }
    let (status, page) = post_change(&app, &b, None, PASSWORD, "alice@new4.example").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(page.contains("several times already"), "{page}");
    assert_eq!(
        address_of(&user_json(&app, &admin, "alice").await),
        (json!("alice@new3.example"), json!(false))
    );
    // Sending the link again counts in the same window.
    let (_, page) = account_page(&app, &b).await;
    let resp = b
        .post(app.url("/account/email/verification"))
        .form(&[("csrf", hidden(&page, "csrf"))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Three links and the one notice (later old addresses were never confirmed).
    let mails = sink.wait_for(4, 30).await;
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.link("/verify-email").is_some())
            .count(),
        3
    );
    sink.assert_no_more_than(4, std::time::Duration::from_millis(500))
        .await;
}

/// The admin's console browser (after `admin_token`, which creates root).
async fn admin_console(app: &TestApp) -> reqwest::Client {
    crate::console::signed_in(app, "root", crate::helpers::ADMIN_PASSWORD, "/console/keys").await
}

/// Posts the console's email form for alice (its CSRF token unless `csrf` is given).
async fn console_post(
    app: &TestApp,
    b: &reqwest::Client,
    csrf: Option<&str>,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let (status, page) = crate::console::page(b, app, "/console/users/alice/email").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let token = csrf.map_or_else(|| hidden(&page, "csrf"), str::to_string);
    let mut form = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    let resp = b
        .post(app.url("/console/users/alice/email"))
        .form(&form)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn an_admin_sets_changes_and_removes_an_address_in_the_console(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.add_user("alice", PASSWORD, false).await;
    let b = admin_console(&app).await;
    let (_, users) = crate::console::page(&b, &app, "/console/users").await;
    assert!(
        users.contains("href=\"/console/users/alice/email\""),
        "{users}"
    );
    let (_, page) = crate::console::page(&b, &app, "/console/users/alice/email").await;
    assert!(page.contains("No email address"), "{page}");

    // Set: unverified, its link mailed; nobody to tell.
    let (status, page) = console_post(&app, &b, None, &[("email", "alice@example.org")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("confirmation link is on its way"), "{page}");
    assert!(page.contains("alice@example.org") && page.contains("not confirmed"));
    let mails = sink.wait_for(1, 30).await;
    let link = mail_to(&mails, "alice@example.org")
        .link("/verify-email")
        .expect("a verification link");
    confirm(&app, &link).await;
    let (_, page) = crate::console::page(&b, &app, "/console/users/alice/email").await;
    assert!(page.contains(">confirmed<"), "{page}");

    // Changed with the admin vouching: verified at once, no link; the old address told.
    let (status, page) = console_post(
        &app,
        &b,
        None,
        &[("email", "alice@new.example"), ("verified", "on")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        address_of(&user_json(&app, &admin, "alice").await),
        (json!("alice@new.example"), json!(true))
    );
    let mails = sink.wait_for(2, 30).await;
    assert_is_notice(&mails[1], Some("alice@new.example"));
    assert_eq!(mails[1].rcpt_tos, ["alice@example.org"]);

    // Removed: the (verified) address is told it was removed.
    let (status, page) = console_post(&app, &b, None, &[("remove", "on")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("No email address"), "{page}");
    assert_eq!(
        address_of(&user_json(&app, &admin, "alice").await),
        (Value::Null, json!(false))
    );
    let mails = sink.wait_for(3, 30).await;
    assert_is_notice(&mails[2], None);
    assert_eq!(mails[2].rcpt_tos, ["alice@new.example"]);
    assert!(mails[2]
        .text
        .as_deref()
        .unwrap_or_default()
        .contains("removed"));
    sink.assert_no_more_than(3, std::time::Duration::from_millis(300))
        .await;

    // Each change is in the audit trail, by the admin, newest first.
    assert_eq!(
        email_audit(&app, &admin).await,
        [
            "removed",
            "set, verified by an admin",
            "set, verification mailed"
        ]
    );
}

async fn a_hostile_console_form_changes_nothing_and_sends_nothing(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink).await else {
        return;
    };
    let admin = app.admin_token().await;
    alice_verified(&app, "alice@example.org").await;
    let b = admin_console(&app).await;
    let long = format!("{}@example.org", "a".repeat(10_000));
    for (csrf, email, want) in [
        (Some(""), "alice@new.example", StatusCode::FORBIDDEN),
        (Some("forged"), "alice@new.example", StatusCode::FORBIDDEN),
        (
            None,
            "alice@new.example\r\nBcc: mallory@example.net",
            StatusCode::BAD_REQUEST,
        ),
        (
            None,
            "alice@new.example\nX-Evil: 1",
            StatusCode::BAD_REQUEST,
        ),
        (
            None,
            "Mallory <mallory@example.net>",
            StatusCode::BAD_REQUEST,
        ),
        (None, "al\0ice@new.example", StatusCode::BAD_REQUEST),
        (None, "", StatusCode::BAD_REQUEST),
        (None, &long, StatusCode::BAD_REQUEST),
    ] {
        let (status, page) = console_post(&app, &b, csrf, &[("email", email)]).await;
        assert_eq!(status, want, "{email:?} {csrf:?}");
        if want == StatusCode::BAD_REQUEST {
            assert!(page.contains("not a valid address"), "{page}");
        }
    }
    // No CSRF token at all, and a removal with a forged one.
    let resp = b
        .post(app.url("/console/users/alice/email"))
        .form(&[("email", "alice@new.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (status, _) = console_post(&app, &b, Some("forged"), &[("remove", "on")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An oversized body, an unknown user.
    let (_, page) = crate::console::page(&b, &app, "/console/users/alice/email").await;
    let resp = b
        .post(app.url("/console/users/alice/email"))
        .form(&[
            ("csrf", hidden(&page, "csrf")),
            ("email", "x".repeat(100_000)),
        ])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    let resp = b
        .post(app.url("/console/users/nobody/email"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("email", "a@b.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let (status, _) = crate::console::page(&b, &app, "/console/users/nobody/email").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Not an admin: refused; no session: the login page.
    let alice = crate::console::signed_in(&app, "alice", PASSWORD, "/account").await;
    let (status, _) = crate::console::page(&alice, &app, "/console/users/alice/email").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let resp = browser()
        .post(app.url("/console/users/alice/email"))
        .form(&[("email", "alice@new.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);

    assert_eq!(
        address_of(&user_json(&app, &admin, "alice").await),
        (json!("alice@example.org"), json!(true))
    );
    assert_eq!(email_audit(&app, &admin).await.len(), 1, "only the set-up");
    sink.assert_no_more_than(0, std::time::Duration::from_millis(500))
        .await;
}
