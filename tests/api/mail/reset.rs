//! The forgot-password request: a single-use link that sets the password, by name or by
//! address, the same answer whoever it names, and its windows.

use super::*;

both_backends!(
    a_forgot_password_mail_carries_a_single_use_link_that_sets_the_password,
    a_request_by_address_works_and_a_newer_request_voids_the_older_link,
    every_kind_of_account_is_answered_alike_and_only_a_verified_address_gets_mail,
    requests_are_throttled_per_account_and_per_address,
);

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
