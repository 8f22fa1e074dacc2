//! Addresses: verified by their link, unverified by a change (which voids the links), hostile
//! input refused, and the account page's address section.

use super::*;

both_backends!(
    a_new_address_is_verified_by_its_link_and_email_verified_tells_the_truth,
    changing_the_address_unverifies_it_and_voids_the_links,
    hostile_input_is_refused_and_changes_nothing,
    the_account_page_shows_the_address_state_and_sends_the_link_again,
);

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
