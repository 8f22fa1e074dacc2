//! Mail over TLS to a real SMTP server on loopback (aiosmtpd with a certificate from a test
//! CA, trusted through `SSL_CERT_FILE`, which the system's roots honour): `smtp://` with
//! STARTTLS and a login (user and password percent-encoded in `SMTP_URL`), `smtps://` with
//! TLS from the first byte; and never in clear: a certificate the system does not trust, or
//! a server that offers no STARTTLS, gets nothing (the message waits, with why).

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{browser, hidden, spawn_app, Backend, ServerProcess, TestApp};
use crate::smtp::SmtpSink;
use gatehouse::accounts::email::Verified;

both_backends!(mail_goes_over_starttls_or_implicit_tls_and_never_in_clear);

const PASSWORD: &str = "alice's long passphrase";
/// The SMTP login's password as the server expects it, and as `SMTP_URL` carries it.
const SMTP_PASSWORD: &str = "p@ss:word";
const SMTP_PASSWORD_IN_URL: &str = "p%40ss%3Aword";

/// A test CA and a certificate it signed for 127.0.0.1: (ca.pem, leaf.pem, leaf.key).
fn certificates(dir: &Path) -> Option<(String, String, String)> {
    let p = |name: &str| dir.join(name).display().to_string();
    let ext = dir.join("leaf.ext");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    let steps: [Vec<String>; 3] = [
        [
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.pem"),
            "-subj",
            "/CN=Gatehouse test CA",
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]
        .map(str::to_string)
        .to_vec(),
        [
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &p("leaf.key"),
            "-out",
            &p("leaf.csr"),
            "-subj",
            "/CN=127.0.0.1",
        ]
        .map(str::to_string)
        .to_vec(),
        [
            "x509",
            "-req",
            "-in",
            &p("leaf.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-out",
            &p("leaf.pem"),
            "-days",
            "2",
            "-extfile",
            &ext.display().to_string(),
        ]
        .map(str::to_string)
        .to_vec(),
    ];
    for args in steps {
        let Ok(out) = Command::new("openssl").args(&args).output() else {
            crate::helpers::skip("the openssl command");
            return None;
        };
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Some((p("ca.pem"), p("leaf.pem"), p("leaf.key")))
}

/// A `gatehouse serve` process sending mail to `smtp_url`, trusting `ca` when given.
async fn mailing_server(
    app: &TestApp,
    name: &str,
    smtp_url: &str,
    ca: Option<&str>,
) -> ServerProcess {
    let mut env = vec![
        ("GATEHOUSE_SMTP_URL", smtp_url),
        ("GATEHOUSE_SMTP_FROM", "Gatehouse <id@gatehouse.test>"),
        ("GATEHOUSE_SMTP_TIMEOUT", "5s"),
        // Each request here sends a link: no account window in the way.
        ("GATEHOUSE_RESET_THROTTLE", "100/1h,100/1h"),
    ];
    env.extend(ca.map(|ca| ("SSL_CERT_FILE", ca)));
    let mut server = ServerProcess::spawn_with_env(&app.storage, &app.settings.issuer, name, &env);
    let http = reqwest::Client::new();
    assert!(server.ready(&http, 60).await, "{}", server.log_text());
    server
}

/// "Forgot password?" for `identifier` at `server`.
async fn forgot(server: &ServerProcess, identifier: &str) {
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
            ("identifier", identifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

/// Waits until the delivery is recorded (nothing pending): a server stopped before would
/// leave its claim, and the next message of the account waiting behind it for the lease.
async fn settled(app: &TestApp) {
    for _ in 0..300 {
        let listing = app.state.outbox.listing().await.expect("listing");
        if listing.pending.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("a delivery was not recorded");
}

/// Waits until a pending mail message has been tried and failed; its last error.
async fn failed_attempt(app: &TestApp) -> String {
    for _ in 0..300 {
        let listing = app.state.outbox.listing().await.expect("listing");
        if let Some(m) = listing
            .pending
            .iter()
            .find(|m| m.kind == "mail" && m.last_error.is_some())
        {
            return m.last_error.clone().unwrap_or_default();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no failed attempt recorded");
}

async fn mail_goes_over_starttls_or_implicit_tls_and_never_in_clear(backend: Backend) {
    let certs = tempfile::tempdir().expect("dir");
    let Some((ca, cert, key)) = certificates(certs.path()) else {
        return;
    };
    let login = format!("mailer:{SMTP_PASSWORD}");
    let (cert, key) = (Path::new(&cert), Path::new(&key));
    let Some(starttls) = SmtpSink::start_tls("starttls", cert, key, Some(&login)).await else {
        return;
    };
    let Some(smtps) = SmtpSink::start_tls("smtps", cert, key, None).await else {
        return;
    };
    // The in-process server sends no mail; the processes below do, one at a time.
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    app.state
        .accounts
        .set_email("alice", Some("alice@example.org".into()), Verified::Vouched)
        .await
        .unwrap();

    // STARTTLS (required) and a login.
    let url = format!(
        "smtp://mailer:{SMTP_PASSWORD_IN_URL}@127.0.0.1:{}",
        starttls.port
    );
    let server = mailing_server(&app, "starttls", &url, Some(&ca)).await;
    forgot(&server, "alice").await;
    let mail = starttls.wait_for(1, 30).await.remove(0);
    assert!(mail.tls, "delivered over TLS");
    assert_eq!(mail.authenticated_as.as_deref(), Some("mailer"));
    assert_eq!(mail.rcpt_tos, ["alice@example.org"]);
    assert!(mail.link("/reset").is_some(), "{mail:?}");
    let log = server.log_text();
    assert!(!log.contains(SMTP_PASSWORD) && !log.contains(SMTP_PASSWORD_IN_URL));
    settled(&app).await;
    drop(server);

    // smtps://: TLS from the first byte.
    let url = format!("smtps://127.0.0.1:{}", smtps.port);
    let server = mailing_server(&app, "smtps", &url, Some(&ca)).await;
    forgot(&server, "alice").await;
    let mail = smtps.wait_for(1, 30).await.remove(0);
    assert!(mail.tls && mail.link("/reset").is_some(), "{mail:?}");
    settled(&app).await;
    drop(server);

    // A certificate the system does not trust: nothing sent; the message waits with why.
    let server = mailing_server(&app, "untrusted", &url, None).await;
    forgot(&server, "alice").await;
    let why = failed_attempt(&app).await;
    assert!(why.to_lowercase().contains("certificate"), "{why}");
    smtps
        .assert_no_more_than(1, std::time::Duration::from_millis(500))
        .await;
    drop(server);

    // A server that offers no STARTTLS: never a downgrade to clear text.
    let Some(plain) = SmtpSink::start().await else {
        return;
    };
    let url = format!("smtp://127.0.0.1:{}", plain.port);
    let server = mailing_server(&app, "no-starttls", &url, Some(&ca)).await;
    forgot(&server, "alice@example.org").await;
    let mut errors = Vec::new();
    for _ in 0..300 {
        let listing = app.state.outbox.listing().await.expect("listing");
        errors = listing
            .pending
            .iter()
            .filter_map(|m| m.last_error.clone())
            .filter(|e| !e.to_lowercase().contains("certificate"))
            .collect();
        if !errors.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!errors.is_empty(), "the attempt failed");
    plain
        .assert_no_more_than(0, std::time::Duration::from_millis(500))
        .await;
    drop(server);
}
