//! Behind a trusted proxy the client's address is read from the forwarding header element by
//! element: a hop with a port, or one garbled hop beside a good one, never makes it the
//! proxy's own address (which would put every client in one throttle window, so that one
//! attacker locks everyone out, and name the proxy in the audit trail).

use reqwest::header::HeaderValue;
use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{spawn_app_with, status_json, Backend};

both_backends!(a_port_or_a_garbled_hop_never_makes_the_client_the_proxy);

const PASSWORD: &str = "alice's long password";

async fn a_port_or_a_garbled_hop_never_makes_the_client_the_proxy(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |a| {
        a.trusted_proxies = Some("127.0.0.1".into());
        a.login_throttle = Some("100/15m,2/15m".into());
    })
    .await
    else {
        return;
    };
    let token = app.admin_token().await;
    app.add_user("alice", PASSWORD, false).await;
    let login = |forwarded_for: &'static [u8], password: &'static str| {
        app.http
            .post(app.url("/api/token/"))
            .header(
                "x-forwarded-for",
                HeaderValue::from_bytes(forwarded_for).expect("header value"),
            )
            .form(&[("username", "alice"), ("password", password)])
            .send()
    };
    // An attacker behind a balancer that appends ports fills its own address's window...
    let attacker: &[u8] = b"203.0.113.5:4711";
    for _ in 0..2 {
        let resp = login(attacker, "wrong").await.expect("request");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let resp = login(attacker, PASSWORD).await.expect("request");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "window full");
    // ...and not that of another client, whose header carries a garbled hop ("é" in
    // Latin-1, opaque bytes) before its proxy's entry.
    let resp = login(b"\xe9, 203.0.113.6", PASSWORD)
        .await
        .expect("request");
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "another client shares the attacker's window"
    );

    let resp = app
        .http
        .get(app.url("/admin/audit?kind=sign_in"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    let (status, page) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let alices: Vec<&Value> = page["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["subject"] == "alice")
        .collect();
    let addresses = |outcome: &str| {
        alices
            .iter()
            .filter(|r| r["outcome"] == outcome)
            .map(|r| r["client_addr"].as_str().expect("address"))
            .collect::<Vec<_>>()
    };
    assert_eq!(addresses("failure"), ["203.0.113.5"; 2], "{page}");
    assert_eq!(addresses("success"), ["203.0.113.6"], "{page}");
}
