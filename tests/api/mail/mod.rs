//! Mail through a real SMTP server on loopback (aiosmtpd, `tests/support/smtp.rs`): the
//! forgot-password request and its link, the same answer whoever it names, its windows,
//! verified addresses and what `email_verified` says, hostile input, and the server down,
//! refusing, then back. Delivery is the outbox's background task; the tests wait for the
//! messages it sends (and move the clock for its retries).
//!
//! By subject: `reset` (the forgot-password request, its link and windows), `addresses`
//! (verification, changes, hostile input, the account page) and `delivery` (no server, a
//! server down, refusing or answering garbage).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    browser, hidden, run_cli_env, spawn_app, spawn_app_with, status_json, Backend, TestApp,
};
use crate::smtp::{ReceivedMail, SmtpSink};
use gatehouse::accounts::email::Verified;
use gatehouse::accounts::LastAdmin;

mod addresses;
mod delivery;
mod reset;

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

/// Moves the clock past the outbox's next retry and gives its task a moment.
async fn retry_soon(app: &TestApp) {
    app.advance(3600);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}
