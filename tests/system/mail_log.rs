//! No mailed token in the log: a `gatehouse serve` process at the debug level sends a
//! verification link and a forgot-password link to a real SMTP server on loopback, both are
//! opened and used, and neither token (nor its digest) appears in the server's log.

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{browser, hidden, spawn_app, Backend, ServerProcess};
use crate::smtp::SmtpSink;
use gatehouse::accounts::email::Verified;

both_backends!(a_mailed_link_never_reaches_the_servers_debug_log);

const PASSWORD: &str = "alice's long passphrase";
const NEW: &str = "a new passphrase from the mail";

/// Opens `link` and submits its page's form with `fields`; the status of the submission.
async fn use_link(base: &str, link: &str, action: &str, fields: &[(&str, &str)]) -> StatusCode {
    let b = browser();
    let page = b.get(link).send().await.unwrap().text().await.unwrap();
    let token = link.split_once("?token=").expect("token").1;
    let mut form = vec![
        ("csrf", hidden(&page, "csrf")),
        ("token", token.to_string()),
    ];
    form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    b.post(format!("{base}{action}"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
}

async fn a_mailed_link_never_reaches_the_servers_debug_log(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    // The in-process server sends no mail (no SMTP_URL): the process below does.
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let http = reqwest::Client::new();
    let smtp_url = sink.url();
    let mut server = ServerProcess::spawn_with_env(
        &app.storage,
        &app.settings.issuer,
        "mail-debug",
        &[
            ("GATEHOUSE_LOG", "debug"),
            ("GATEHOUSE_SMTP_URL", &smtp_url),
            ("GATEHOUSE_SMTP_FROM", "id@gatehouse.test"),
        ],
    );
    assert!(server.ready(&http, 60).await, "{}", server.log_text());
    // An address set with mail on is queued for verification; the process's outbox (the
    // only one with a mail deliverer) sends it at its next poll.
    app.state
        .accounts
        .clone()
        .with_mail(true)
        .set_email("alice", Some("alice@example.org".into()), Verified::ByMail)
        .await
        .expect("set email");
    let verify = sink.wait_for(1, 30).await[0]
        .link("/verify-email")
        .expect("a verification link");
    // The link names the in-process server's issuer; the process serves the same paths.
    let path_of = |link: &str| {
        let start = link.find("/verify-email").or(link.find("/reset"));
        link[start.expect("a path")..].to_string()
    };
    let verify = server.url(&path_of(&verify));
    assert_eq!(
        use_link(&server.address, &verify, "/verify-email", &[]).await,
        StatusCode::OK
    );

    // Forgot password: the request, the mail, the link opened and a new password set.
    let b = browser();
    let page = b
        .get(server.url("/forgot"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resp = b
        .post(server.url("/forgot"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("identifier", "alice"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let reset = sink.wait_for(2, 30).await[1]
        .link("/reset")
        .expect("a reset link");
    let reset = server.url(&path_of(&reset));
    let fields = [("password", NEW), ("confirm", NEW)];
    assert_eq!(
        use_link(&server.address, &reset, "/reset", &fields).await,
        StatusCode::OK
    );

    let log = server.log_text();
    for path in ["/forgot", "/reset", "/verify-email"] {
        assert!(log.contains(path), "{path} not in the log: {log}");
    }
    for link in [&verify, &reset] {
        let token = link.split_once("?token=").unwrap().1;
        assert!(!log.contains(token), "a mailed token is in the log");
        let digest = gatehouse::digest::digest_hex(token);
        assert!(
            !log.contains(&digest),
            "a mailed token's digest is in the log"
        );
    }
    assert!(!log.contains(NEW), "the new password is in the log");
}
