//! Mail through a real SMTP server on loopback (aiosmtpd, `tests/support/smtp.rs`): the
//! forgot-password request and its link, the same answer whoever it names, its windows,
//! verified addresses and what `email_verified` says, hostile input, and the server down,
//! refusing, then back. Delivery is the outbox's background task; the tests wait for the
//! messages it sends (and move the clock for its retries).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    browser, hidden, run_cli_env, spawn_app, spawn_app_with, status_json, Backend, TestApp,
};
use crate::smtp::{ReceivedMail, SmtpSink};
use gatehouse::accounts::email::Verified;
use gatehouse::accounts::LastAdmin;

both_backends!(
    a_forgot_password_mail_carries_a_single_use_link_that_sets_the_password,
    a_request_by_address_works_and_a_newer_request_voids_the_older_link,
    every_kind_of_account_is_answered_alike_and_only_a_verified_address_gets_mail,
    requests_are_throttled_per_account_and_per_address,
    a_new_address_is_verified_by_its_link_and_email_verified_tells_the_truth,
    changing_the_address_unverifies_it_and_voids_the_links,
    hostile_input_is_refused_and_changes_nothing,
    the_server_down_or_refusing_then_back_the_mail_arrives,
    without_smtp_the_login_page_offers_no_mail_and_the_admin_hands_out_links,
    the_account_page_shows_the_address_state_and_sends_the_link_again,
    a_server_answering_garbage_is_retried_and_a_permanent_refusal_fails_the_message,
);

const PASSWORD: &str = "alice's old passphrase";
const NEW: &str = "alice's brand new passphrase";

/// A server sending mail to `sink`, with `configure` on top.
async fn mail_app(
    backend: Backend,
    sink: &SmtpSink,
    configure: impl FnOnce(&mut gatehouse::config::SettingsArgs),
) -> Option<TestApp> {
    let url = sink.url();
    spawn_app_with(backend, move |a| {
        a.smtp_url = Some(url);
        a.smtp_from = Some("Gatehouse <id@gatehouse.test>".into());
        configure(a);
    })
    .await
}

/// A user with an address the admin vouched for (verified, no mail).
async fn verified_user(app: &TestApp, name: &str, email: &str) {
    app.add_user(name, PASSWORD, false).await;
    app.state
        .accounts
        .set_email(name, Some(email.into()), Verified::Vouched)
        .await
        .expect("set email");
}

/// A browser with a CSRF cookie, and its token (from the forgot-password form).
async fn forgot_form(app: &TestApp) -> (reqwest::Client, String) {
    let b = browser();
    let resp = b.get(app.url("/forgot")).send().await.expect("form");
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.expect("html");
    assert!(html.contains("Forgot your password?"), "{html}");
    let csrf = hidden(&html, "csrf");
    (b, csrf)
}

/// What `POST /forgot` answered: status, the headers a client could tell apart, body.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: StatusCode,
    set_cookie: bool,
    content_type: String,
    body: String,
}

async fn request_reset(app: &TestApp, b: &reqwest::Client, csrf: &str, identifier: &str) -> Answer {
    let resp = b
        .post(app.url("/forgot"))
        .form(&[("csrf", csrf), ("identifier", identifier)])
        .send()
        .await
        .expect("post");
    Answer {
        status: resp.status(),
        set_cookie: resp.headers().contains_key("set-cookie"),
        content_type: resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .unwrap_or_default(),
        body: resp.text().await.expect("body"),
    }
}

/// One request for `identifier`, answered with the one page.
async fn forgot(app: &TestApp, identifier: &str) {
    let (b, csrf) = forgot_form(app).await;
    let answer = request_reset(app, &b, &csrf, identifier).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.contains("Check your email"), "{}", answer.body);
}

/// The token of a mailed link.
fn token_of(url: &str) -> String {
    url.split_once("?token=").expect("a token").1.to_string()
}

/// Opens a reset link and sets `password` with it; the page's status and HTML.
async fn reset_with(app: &TestApp, url: &str, password: &str) -> (StatusCode, String) {
    let b = browser();
    let resp = b.get(url).send().await.expect("open link");
    let status = resp.status();
    let html = resp.text().await.expect("html");
    if status != StatusCode::OK {
        return (status, html);
    }
    let form = [
        ("csrf", hidden(&html, "csrf")),
        ("token", token_of(url)),
        ("password", password.to_string()),
        ("confirm", password.to_string()),
    ];
    let resp = b
        .post(app.url("/reset"))
        .form(&form)
        .send()
        .await
        .expect("post");
    (resp.status(), resp.text().await.expect("html"))
}

/// The mailed link to `path` (`/reset`, `/verify-email`), the same in both parts.
fn link_in(mail: &ReceivedMail, app: &TestApp, path: &str) -> String {
    let link = mail
        .link(path)
        .unwrap_or_else(|| panic!("no {path} link in {mail:?}"));
    assert!(link.starts_with(&app.url(path)), "{link}");
    assert!(
        mail.html.as_deref().unwrap_or_default().contains(&link),
        "the HTML part has the link"
    );
    link
}

async fn audit_details(app: &TestApp, token: &str, kind: &str) -> Vec<(String, String, String)> {
    let (status, body) = status_json(
        app.http
            .get(app.url(&format!("/admin/audit?kind={kind}&limit=100")))
            .bearer_auth(token)
            .send()
            .await
            .expect("audit"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("subject"), s("outcome"), s("detail"))
        })
        .collect()
}

async fn a_forgot_password_mail_carries_a_single_use_link_that_sets_the_password(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink, |_| {}).await else {
        return;
    };
    let admin = app.admin_token().await;
    verified_user(&app, "alice", "alice@example.org").await;

    // The login page links to the form.
    let login = browser()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("href=\"/forgot\""), "{login}");

    forgot(&app, "alice").await;
    let mails = sink.wait_for(1, 30).await;
    let mail = &mails[0];
    assert_eq!(mail.rcpt_tos, ["alice@example.org"]);
    assert_eq!(mail.mail_from, "id@gatehouse.test");
    assert_eq!(mail.header("To"), Some("alice@example.org"));
    assert_eq!(mail.header("From"), Some("Gatehouse <id@gatehouse.test>"));
    let issuer_name = app.address.trim_start_matches("http://");
    assert_eq!(
        mail.header("Subject").map(str::to_string),
        Some(format!("Reset your password at {issuer_name}"))
    );
    assert_eq!(mail.content_type, "multipart/alternative");
    let text = mail.text.as_deref().expect("text part");
    assert!(
        text.contains("alice") && text.contains("30 minutes"),
        "{text}"
    );
    let link = link_in(mail, &app, "/reset");

    // The link's page sends no referrer, so the token never leaves in a Referer.
    let resp = browser().get(&link).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");

    let (status, html) = reset_with(&app, &link, NEW).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Your password is set"), "{html}");
    assert_eq!(app.simplejwt_login("alice", NEW).await.status(), 200);
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 401);

    // Single use.
    let (status, html) = reset_with(&app, &link, "yet another passphrase").await;
    assert_eq!(status, StatusCode::GONE, "{html}");
    assert!(html.contains("This link has been used"), "{html}");
    assert_eq!(app.simplejwt_login("alice", NEW).await.status(), 200);

    let events = audit_details(&app, &admin, "user.password_reset_requested").await;
    assert_eq!(
        events,
        [(
            "alice".into(),
            "success".into(),
            "link mailed to the verified address".into()
        )]
    );
    // No log line, audit record or stored row holds the token.
    let token = token_of(&link);
    let audit = app
        .http
        .get(app.url("/admin/audit?limit=500"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!audit.contains(&token));
}

async fn a_request_by_address_works_and_a_newer_request_voids_the_older_link(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink, |_| {}).await else {
        return;
    };
    verified_user(&app, "alice", "alice@example.org").await;

    // By address, in another case than stored: found all the same.
    forgot(&app, "Alice@Example.org").await;
    let first = link_in(&sink.wait_for(1, 30).await[0], &app, "/reset");
    forgot(&app, "alice@example.org").await;
    let second = link_in(&sink.wait_for(2, 30).await[1], &app, "/reset");
    assert_ne!(first, second);

    let (status, html) = reset_with(&app, &first, NEW).await;
    assert_eq!(status, StatusCode::GONE, "{html}");
    assert!(html.contains("no longer valid"), "{html}");
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 200);
    let (status, html) = reset_with(&app, &second, NEW).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(app.simplejwt_login("alice", NEW).await.status(), 200);
}

async fn every_kind_of_account_is_answered_alike_and_only_a_verified_address_gets_mail(
    backend: Backend,
) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink, |_| {}).await else {
        return;
    };
    let admin = app.admin_token().await;
    verified_user(&app, "walt", "walt@example.org").await;
    verified_user(&app, "dora", "dora@example.org").await;
    app.state
        .accounts
        .set_user_disabled("dora", true, LastAdmin::MayRemove)
        .await
        .unwrap();
    app.add_user("nomad", PASSWORD, false).await;
    app.add_user("una", PASSWORD, false).await;
    app.state
        .accounts
        .set_email("una", Some("una@example.org".into()), Verified::ByMail)
        .await
        .unwrap();
    // una's address got its verification mail; nothing else has been sent.
    let verification = sink.wait_for(1, 30).await;
    assert!(verification[0].link("/verify-email").is_some());

    let (b, csrf) = forgot_form(&app).await;
    let mut answers = Vec::new();
    for who in [
        "nobody",
        "nobody@example.org",
        "dora",
        "dora@example.org",
        "nomad",
        "una",
        "una@example.org",
        "walt",
    ] {
        answers.push((who, request_reset(&app, &b, &csrf, who).await));
    }
    let (_, first) = &answers[0];
    assert_eq!(first.status, StatusCode::OK);
    assert!(!first.set_cookie);
    for (who, answer) in &answers {
        assert_eq!(answer, first, "{who} is answered differently");
    }
    // Only walt's request (the last) mails a link; by then every other request was handled
    // (each kind of account named audited, nobody's sends nothing).
    let mails = sink.wait_for(2, 30).await;
    assert_eq!(mails[1].rcpt_tos, ["walt@example.org"]);
    sink.assert_no_more_than(2, std::time::Duration::from_millis(500))
        .await;
    // Every request was handled (each named account audited), in whatever order.
    let mut events = Vec::new();
    for _ in 0..100 {
        events = audit_details(&app, &admin, "user.password_reset_requested").await;
        if events.len() >= 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    events.sort();
    assert_eq!(
        events,
        [
            (
                "dora".into(),
                "failure".into(),
                "not sent: account disabled".into()
            ),
            (
                "dora".into(),
                "failure".into(),
                "not sent: account disabled".into()
            ),
            (
                "nomad".into(),
                "failure".into(),
                "not sent: no email address".into()
            ),
            (
                "una".into(),
                "failure".into(),
                "not sent: email address not verified".into()
            ),
            (
                "una".into(),
                "failure".into(),
                "not sent: email address not verified".into()
            ),
            (
                "walt".into(),
                "success".into(),
                "link mailed to the verified address".into()
            ),
        ]
    );
}

async fn requests_are_throttled_per_account_and_per_address(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink, |a| {
        a.reset_throttle = Some("2/1h,5/1h".into());
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    verified_user(&app, "alice", "alice@example.org").await;
    verified_user(&app, "bob", "bob@example.org").await;
    // Three for alice (by name and by address: one account), two for bob: all answered
    // alike, but alice's window holds two links.
    for who in ["alice", "alice@example.org", "alice", "bob", "bob"] {
        forgot(&app, who).await;
    }
    let mails = sink.wait_for(4, 30).await;
    sink.assert_no_more_than(4, std::time::Duration::from_millis(500))
        .await;
    let to = |m: &ReceivedMail| m.rcpt_tos[0].clone();
    assert_eq!(
        mails
            .iter()
            .filter(|m| to(m) == "alice@example.org")
            .count(),
        2
    );
    assert_eq!(
        mails.iter().filter(|m| to(m) == "bob@example.org").count(),
        2
    );
    // The address's window is full: a sixth request is answered alike and sends nothing.
    forgot(&app, "bob").await;
    sink.assert_no_more_than(4, std::time::Duration::from_millis(500))
        .await;
    let events = audit_details(&app, &admin, "user.password_reset_requested").await;
    assert!(
        events
            .iter()
            .any(|e| e.2 == "not sent: too many requests for this account" && e.0 == "alice"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.2 == "throttled: too many requests from this address"),
        "{events:?}"
    );
    // An hour later both windows are over.
    app.advance(3601);
    forgot(&app, "alice").await;
    sink.wait_for(5, 30).await;
}

async fn a_new_address_is_verified_by_its_link_and_email_verified_tells_the_truth(
    backend: Backend,
) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink, |_| {}).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.add_user("alice", PASSWORD, false).await;
    let (status, body) = status_json(
        app.http
            .put(app.url("/admin/users/alice/email"))
            .bearer_auth(&admin)
            .json(&json!({"email": "alice@example.org"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["email"].clone(), body["email_verified"].clone()),
        (json!("alice@example.org"), json!(false))
    );

    // Unverified: no reset link.
    let mail = sink.wait_for(1, 30).await.remove(0);
    assert_eq!(mail.rcpt_tos, ["alice@example.org"]);
    assert!(mail
        .header("Subject")
        .unwrap()
        .starts_with("Confirm your email address at "));
    let link = link_in(&mail, &app, "/verify-email");

    // Opening the link confirms nothing (mail scanners fetch links); the button does.
    let b = browser();
    let html = b.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("alice@example.org"), "{html}");
    assert_eq!(
        user_json(&app, &admin, "alice").await["email_verified"],
        false
    );
    let resp = b
        .post(app.url("/verify-email"))
        .form(&[("csrf", hidden(&html, "csrf")), ("token", token_of(&link))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Your address is confirmed"));
    assert_eq!(
        user_json(&app, &admin, "alice").await["email_verified"],
        true
    );
    let resp = b.get(&link).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::GONE);

    // userinfo with scope email says so.
    let secret = app
        .add_client(&["rp", "--grant", "password", "--scope", "openid", "email"])
        .await
        .unwrap();
    let resp = crate::helpers::password_grant(
        &app.http,
        &app.address,
        "rp",
        &secret,
        "alice",
        PASSWORD,
        "openid email",
    )
    .await;
    let (_, tokens) = status_json(resp).await;
    let access = tokens["access_token"].as_str().expect("access token");
    let (_, info) = status_json(app.userinfo(access).await).await;
    assert_eq!(
        (info["email"].clone(), info["email_verified"].clone()),
        (json!("alice@example.org"), json!(true))
    );

    // And now a reset link is mailed.
    forgot(&app, "alice").await;
    let mails = sink.wait_for(2, 30).await;
    link_in(&mails[1], &app, "/reset");
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

async fn changing_the_address_unverifies_it_and_voids_the_links(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink, |_| {}).await else {
        return;
    };
    let admin = app.admin_token().await;
    verified_user(&app, "alice", "alice@example.org").await;
    forgot(&app, "alice").await;
    let reset = link_in(&sink.wait_for(1, 30).await[0], &app, "/reset");

    // The CLI changes it: unverified, a verification mail to the new address, the reset link
    // to the old address void.
    let smtp = [
        ("GATEHOUSE_SMTP_URL", sink.url()),
        ("GATEHOUSE_SMTP_FROM", "id@gatehouse.test".to_string()),
    ];
    let env: Vec<(&str, &str)> = smtp.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = ["user", "email", "alice", "alice@new.example"];
    let out = run_cli_env(&app.storage, &args, "", &env).await;
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("a verification link is queued"),
        "{}",
        out.stdout
    );
    // The CLI's process queued it at the system clock's time: the server's clock moves on
    // to it (and its outbox looks at once).
    app.advance(120);
    let body = user_json(&app, &admin, "alice").await;
    assert_eq!(
        (body["email"].clone(), body["email_verified"].clone()),
        (json!("alice@new.example"), json!(false))
    );
    let (status, html) = reset_with(&app, &reset, NEW).await;
    assert_eq!(status, StatusCode::GONE, "{html}");
    let verify_new = sink.wait_for(2, 30).await[1].clone();
    assert_eq!(verify_new.rcpt_tos, ["alice@new.example"]);
    let verify_new = link_in(&verify_new, &app, "/verify-email");

    // Changed again before it was confirmed: the link to the second address proves nothing.
    let (status, _) = status_json(
        app.http
            .put(app.url("/admin/users/alice/email"))
            .bearer_auth(&admin)
            .json(&json!({"email": "alice@third.example", "verified": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        user_json(&app, &admin, "alice").await["email_verified"],
        true
    );
    let resp = browser().get(&verify_new).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::GONE);

    // Removed: no address, nothing to verify or resend.
    let out = app.cli(&["user", "email", "alice", "--remove"], "").await;
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    let body = user_json(&app, &admin, "alice").await;
    assert_eq!(
        (body["email"].clone(), body["email_verified"].clone()),
        (Value::Null, json!(false))
    );
    let resp = app
        .http
        .post(app.url("/admin/users/alice/email/verification"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

async fn hostile_input_is_refused_and_changes_nothing(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink, |_| {}).await else {
        return;
    };
    let admin = app.admin_token().await;
    verified_user(&app, "alice", "alice@example.org").await;
    let (b, csrf) = forgot_form(&app).await;
    for hostile in [
        "alice\r\nBcc: mallory@example.net",
        "alice@example.org\nBcc: mallory@example.net",
        "al\0ice",
        "",
        "   ",
        &"a".repeat(10_000),
    ] {
        let answer = request_reset(&app, &b, &csrf, hostile).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{hostile:?}");
        assert!(answer.body.contains("class=\"error\""), "{hostile:?}");
    }
    // Without the CSRF token: the form again, nothing queued.
    let answer = request_reset(&app, &browser(), "forged", "alice").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    // An address with a header in it is no address, through any door.
    for email in [
        "alice@example.org\r\nBcc: mallory@example.net",
        "alice@example.org\nX-Evil: 1",
        "Mallory <mallory@example.net>",
    ] {
        let resp = app
            .http
            .put(app.url("/admin/users/alice/email"))
            .bearer_auth(&admin)
            .json(&json!({ "email": email }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{email:?}");
        let out = app.cli(&["user", "email", "alice", email], "").await;
        assert!(!out.status.success(), "{email:?}");
        let resp = app
            .http
            .post(app.url("/admin/users"))
            .bearer_auth(&admin)
            .json(
                &json!({"username": "eve", "password": "a long enough passphrase", "email": email}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{email:?}");
    }
    let body = user_json(&app, &admin, "alice").await;
    assert_eq!(
        (body["email"].clone(), body["email_verified"].clone()),
        (json!("alice@example.org"), json!(true))
    );
    // Unknown fields, wrong types, a missing user.
    for (path, body, want) in [
        (
            "/admin/users/alice/email",
            json!({"email": 5}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/users/alice/email",
            json!({"mail": "a@b.example"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/users/nobody/email",
            json!({"email": "a@b.example"}),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let resp = app
            .http
            .put(app.url(path))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), want, "{path} {body}");
    }
    // Tampered and truncated verification and reset tokens.
    forgot(&app, "alice").await;
    let link = link_in(&sink.wait_for(1, 30).await[0], &app, "/reset");
    let token = token_of(&link);
    // One character changed to another, whatever it was (its last character would often
    // stay the same: 43 base64url digits of 32 bytes end in one of 16).
    let mut tampered = token.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [&token[..42], &tampered, "", "../../etc/passwd"] {
        for path in ["/reset", "/verify-email"] {
            let resp = browser()
                .get(app.url(&format!("{path}?token={bad}")))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path} {bad}");
        }
    }
    // Nothing else was sent.
    sink.assert_no_more_than(1, std::time::Duration::from_millis(300))
        .await;
}

async fn the_server_down_or_refusing_then_back_the_mail_arrives(backend: Backend) {
    let Some(mut sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink, |_| {}).await else {
        return;
    };
    verified_user(&app, "alice", "alice@example.org").await;

    // Down: the request is answered at once all the same.
    sink.vanish().await;
    let started = std::time::Instant::now();
    forgot(&app, "alice").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Refusing for now (a 4xx): still not delivered.
    sink.start_again().await;
    sink.refuse("451 4.3.0 mailbox busy, try again later");
    retry_soon(&app).await;
    sink.assert_no_more_than(0, std::time::Duration::from_millis(500))
        .await;
    // Back: a retry delivers it, and its link works (the failed attempts' links were
    // withdrawn, not left lying around).
    sink.accept();
    let mut mails = Vec::new();
    for _ in 0..20 {
        retry_soon(&app).await;
        mails = sink.messages();
        if !mails.is_empty() {
            break;
        }
    }
    assert_eq!(mails.len(), 1, "the mail arrives once the server is back");
    let link = link_in(&mails[0], &app, "/reset");
    let (status, html) = reset_with(&app, &link, NEW).await;
    assert_eq!(status, StatusCode::OK, "{html}");
}

/// Moves the clock past the outbox's next retry and gives its task a moment.
async fn retry_soon(app: &TestApp) {
    app.advance(3600);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}

async fn without_smtp_the_login_page_offers_no_mail_and_the_admin_hands_out_links(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.add_user("alice", PASSWORD, false).await;
    let login = browser()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!login.contains("/forgot"), "{login}");
    for resp in [
        browser().get(app.url("/forgot")).send().await.unwrap(),
        browser()
            .post(app.url("/forgot"))
            .form(&[("identifier", "alice")])
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp
            .text()
            .await
            .unwrap()
            .contains("Ask your administrator"));
    }
    // An address set without mail stays unverified (nothing could confirm it) unless the
    // admin vouches for it; resending says why it cannot.
    let out = app
        .cli(&["user", "email", "alice", "alice@example.org"], "")
        .await;
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("unverified"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        user_json(&app, &admin, "alice").await["email_verified"],
        false
    );
    let out = app.cli(&["user", "email", "alice", "--resend"], "").await;
    assert!(
        !out.status.success() && out.stderr.contains("no mail is configured"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let out = app
        .cli(
            &["user", "email", "alice", "alice@example.org", "--verified"],
            "",
        )
        .await;
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        user_json(&app, &admin, "alice").await["email_verified"],
        true
    );
}

async fn the_account_page_shows_the_address_state_and_sends_the_link_again(backend: Backend) {
    use crate::account::{account_page, signed_in_browser};
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let Some(app) = mail_app(backend, &sink, |_| {}).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    app.state
        .accounts
        .set_email("alice", Some("alice@example.org".into()), Verified::ByMail)
        .await
        .unwrap();
    sink.wait_for(1, 30).await;
    let b = signed_in_browser(&app, PASSWORD).await;
    let (status, html) = account_page(&app, &b).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("alice@example.org") && html.contains("not confirmed"),
        "{html}"
    );
    assert!(
        html.contains("action=\"/account/email/verification\""),
        "{html}"
    );

    let resend = |csrf: String| {
        let b = b.clone();
        let url = app.url("/account/email/verification");
        async move {
            let resp = b.post(url).form(&[("csrf", csrf)]).send().await.unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    };
    // Without the form's token: refused, nothing sent.
    let (status, _) = resend("forged".into()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Three times within the account's window (3 an hour), then refused.
    for n in 2..=4 {
        let (status, html) = resend(hidden(&html, "csrf")).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("on its way"), "{html}");
        sink.wait_for(n, 30).await;
    }
    let (status, html) = resend(hidden(&html, "csrf")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("several times already"), "{html}");
    sink.assert_no_more_than(4, std::time::Duration::from_millis(500))
        .await;

    // The newest link confirms it; the page says so and offers no button.
    let mails = sink.messages();
    let link = link_in(&mails[3], &app, "/verify-email");
    let page = browser()
        .get(&link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resp = b
        .post(app.url("/verify-email"))
        .form(&[("csrf", hidden(&page, "csrf")), ("token", token_of(&link))])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "the other browser's form token"
    );
    let b2 = browser();
    let page = b2.get(&link).send().await.unwrap().text().await.unwrap();
    let resp = b2
        .post(app.url("/verify-email"))
        .form(&[("csrf", hidden(&page, "csrf")), ("token", token_of(&link))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // An older link is void.
    let older = link_in(&mails[2], &app, "/verify-email");
    assert_eq!(
        browser().get(&older).send().await.unwrap().status(),
        StatusCode::GONE
    );
    let (_, html) = account_page(&app, &b).await;
    assert!(
        html.contains("confirmed") && !html.contains("not confirmed"),
        "{html}"
    );
    assert!(!html.contains("/account/email/verification"), "{html}");
}

async fn a_server_answering_garbage_is_retried_and_a_permanent_refusal_fails_the_message(
    backend: Backend,
) {
    // Something that is no SMTP server listens on the port first.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let garbage = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut conn, _)) = listener.accept().await {
            let _ = conn
                .write_all(b"HTTP/1.1 400 Bad Request\r\n\xff\xfe garbage\r\n")
                .await;
        }
    });
    let url = format!("smtp://127.0.0.1:{port}?tls=none");
    let Some(app) = spawn_app_with(backend, move |a| {
        a.smtp_url = Some(url);
        a.smtp_from = Some("id@gatehouse.test".into());
    })
    .await
    else {
        return;
    };
    verified_user(&app, "alice", "alice@example.org").await;
    let started = std::time::Instant::now();
    forgot(&app, "alice").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // Tried, not delivered, kept pending with the server's failure (no token in it).
    let mut pending = Vec::new();
    for _ in 0..50 {
        pending = app.state.outbox.listing().await.unwrap().pending;
        if pending
            .iter()
            .any(|m| m.attempts > 0 && m.last_error.is_some())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let tried = pending
        .iter()
        .find(|m| m.kind == "mail")
        .expect("the request's message is pending");
    assert!(
        tried.attempts >= 1 && tried.last_error.is_some(),
        "{:?}",
        tried.last_error
    );
    assert_eq!(
        tried.destination, "forgot-password request",
        "what was typed is not shown"
    );

    // A real server on that port now: a retry delivers it.
    garbage.abort();
    let _ = garbage.await;
    let Some(sink) = SmtpSink::start_on(port).await else {
        return;
    };
    let mut mails = Vec::new();
    for _ in 0..20 {
        retry_soon(&app).await;
        mails = sink.messages();
        if !mails.is_empty() {
            break;
        }
    }
    assert_eq!(mails.len(), 1, "delivered once the server answers");
    link_in(&mails[0], &app, "/reset");

    // A permanent refusal (5xx) is not retried: the message is failed at once, its link
    // withdrawn.
    sink.refuse("550 5.1.1 no such mailbox here");
    forgot(&app, "alice").await;
    let mut failed = Vec::new();
    for _ in 0..50 {
        failed = app.state.outbox.listing().await.unwrap().failed;
        if !failed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(failed.len(), 1, "the refused message is failed");
    let why = failed[0].last_error.clone().unwrap_or_default();
    assert!(why.contains("550"), "{why}");
    assert_eq!(sink.messages().len(), 1);
}
