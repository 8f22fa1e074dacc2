//! An SMTP server that accepts the connection and then stalls (silent from the start, or
//! silent after its greeting): the user's request is answered while the delivery waits, the
//! delivery gives up after `SMTP_TIMEOUT` and closes the connection (nothing stays held),
//! the message stays pending with the reason (in the metrics and the console's outbox page,
//! kind `mail`), and it is delivered, with a working link, once a responsive server listens
//! on that port again.

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{browser, eventually, hidden, spawn_app_with, Backend, TestApp};
use crate::smtp::{SmtpSink, StallingServer};
use gatehouse::accounts::email::Verified;

both_backends!(a_stalling_smtp_server_is_given_up_on_and_the_mail_arrives_once_it_answers);

const PASSWORD: &str = "alice's old passphrase";

/// Asks for a reset link for alice; the answer must be the usual page.
async fn forgot(app: &TestApp) {
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
            ("identifier", "alice"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Check your email"));
}

/// The pending mail message's attempts and last error, once it has at least `attempts`.
async fn pending_after(app: &TestApp, attempts: i32) -> (i32, String) {
    let mut seen = (0, String::new());
    for _ in 0..300 {
        let listing = app.state.outbox.listing().await.expect("listing");
        if let Some(m) = listing.pending.iter().find(|m| m.kind == "mail") {
            seen = (m.attempts, m.last_error.clone().unwrap_or_default());
        }
        if seen.0 >= attempts && !seen.1.is_empty() {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("attempt {attempts} not recorded: {seen:?}");
}

async fn a_stalling_smtp_server_is_given_up_on_and_the_mail_arrives_once_it_answers(
    backend: Backend,
) {
    // Silent from the first byte.
    let stall = StallingServer::start().await;
    let url = stall.url();
    let Some(app) = spawn_app_with(backend, move |a| {
        a.smtp_url = Some(url);
        a.smtp_from = Some("id@gatehouse.test".into());
        a.smtp_timeout = Some("2s".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    app.state
        .accounts
        .set_email("alice", Some("alice@example.org".into()), Verified::Vouched)
        .await
        .unwrap();

    // The request is answered before any delivery gave up: it never waited for one.
    forgot(&app).await;
    assert_eq!(stall.closed_by_client(), 0, "answered before a send ended");
    // The delivery connects, waits SMTP_TIMEOUT, hangs up, and keeps the message pending.
    assert!(eventually(30, || async { stall.accepted() >= 1 }).await);
    assert!(
        eventually(30, || async { stall.closed_by_client() >= 1 }).await,
        "the stalled connection is closed by the delivery"
    );
    let (_, why) = pending_after(&app, 1).await;
    assert!(why.to_lowercase().contains("time"), "{why}");
    assert!(!why.contains("token"), "{why}");
    // Other requests are answered all the while; the metrics and the console's outbox page
    // show the message waiting, with why (and not what was typed).
    let resp = browser().get(app.url("/login")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        eventually(30, || async {
            metric(&app, "gatehouse_outbox_pending").await == Some(1.0)
        })
        .await,
        "{}",
        app.metrics().await
    );
    let _ = app.admin_token().await;
    let console = crate::console::signed_in(
        &app,
        "root",
        crate::helpers::ADMIN_PASSWORD,
        "/console/outbox",
    )
    .await;
    let (status, page) = crate::console::page(&console, &app, "/console/outbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<td>mail</td>") && page.contains("forgot-password request"),
        "{page}"
    );
    assert!(!page.contains("alice"), "{page}");

    // Greeting, then silence at EHLO: the retry (after its backoff, on the manual clock)
    // is given up on the same way.
    stall.greet(true);
    app.advance(3600);
    assert!(eventually(30, || async { stall.accepted() >= 2 }).await);
    assert!(eventually(30, || async { stall.closed_by_client() >= 2 }).await);
    let (attempts, why) = pending_after(&app, 2).await;
    assert!(attempts >= 2, "{attempts} {why}");

    // Responsive again: a real server on that port.
    let port = stall.stop().await;
    let Some(sink) = SmtpSink::start_on(port).await else {
        return;
    };
    let mut mails = Vec::new();
    for _ in 0..20 {
        app.advance(3600);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        mails = sink.messages();
        if !mails.is_empty() {
            break;
        }
    }
    assert_eq!(mails.len(), 1, "the mail arrives once the server answers");
    let link = mails[0].link("/reset").expect("a reset link");
    assert!(link.starts_with(&app.url("/reset")), "{link}");
    let resp = browser().get(&link).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the link works");
    // Counted once the delivery is recorded, just after the server took the mail.
    assert!(
        eventually(30, || async {
            metric(&app, "gatehouse_outbox_delivered_total").await == Some(1.0)
        })
        .await
    );
    assert!(
        eventually(30, || async {
            metric(&app, "gatehouse_outbox_pending").await == Some(0.0)
        })
        .await
    );
}

/// The value of `name{kind="mail"}` at `/metrics`.
async fn metric(app: &TestApp, name: &str) -> Option<f64> {
    let prefix = format!("{name}{{kind=\"mail\"}} ");
    app.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.trim().parse().ok()))
}
