//! Delivery: without SMTP (no mail offered, links from the admin), and a server down,
//! refusing or answering garbage, then back.

use super::*;

both_backends!(
    the_server_down_or_refusing_then_back_the_mail_arrives,
    without_smtp_the_login_page_offers_no_mail_and_the_admin_hands_out_links,
    a_server_answering_garbage_is_retried_and_a_permanent_refusal_fails_the_message,
);

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
