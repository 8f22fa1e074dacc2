//! Token attacks beyond the forgeries of `simplejwt::forged_tokens` (alg none, HS256 with the
//! public key, tampered claims, a foreign key under our kid, malformed JWTs): header members
//! that point at other keys (`jku`, `x5u`, `jwk`, `x5c`), hostile `kid`s, `crit`, hostile
//! payloads signed with the server's *own* key, a key that was removed, and an id_token or a
//! refresh token where an access token is expected. Every refusal is a 4xx with a clear error
//! body, and the snapshot of what is stored is the same before and after.
//!
//! By subject: `headers` (members pointing at other keys, hostile `kid`s, `crit`), `payloads`
//! (hostile claim sets), `kinds` (one kind of token where another is expected) and `validity`
//! (a removed key, another issuer or audience).

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{attacker_key, server_signing_key, snapshot, AttackerServer, RawSigner};
use crate::both_backends;
use crate::helpers::{
    assert_invalid_token, peek, spawn_app, spawn_app_with, status_json, Backend, TestApp,
};

mod headers;
mod kinds;
mod payloads;
mod validity;

const PASSWORD: &str = "alice's long password";

/// A server with `alice`, a confidential resource server `rs` that may introspect any
/// token, and alice's genuine (access, refresh) pair from `/api/token/`.
pub(super) async fn setup(app: &TestApp) -> (String, String, String) {
    app.add_user("alice", PASSWORD, false).await;
    let rs_secret = app
        .add_client(&["rs", "--grant", "client_credentials", "--introspect-any"])
        .await
        .expect("rs is confidential");
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    (rs_secret, access, refresh)
}

fn ensure_body(status: StatusCode, body: &Value, what: &str) {
    assert!(status.is_client_error(), "{what}: {status} {body}");
    let clear = ["error_description", "detail"]
        .iter()
        .any(|k| body[k].as_str().is_some_and(|d| !d.is_empty()));
    assert!(clear, "{what}: no clear error in {body}");
}

/// `token` is refused as an access token (`/userinfo`, `/admin/keys`, `/api/token/verify/`),
/// as a refresh token (`/api/token/refresh/`, `/api/token/blacklist/`, the refresh grant)
/// and is inactive at `/introspect`: each a 4xx with a clear error body.
pub(super) async fn assert_refused_everywhere(
    app: &TestApp,
    rs_secret: &str,
    token: &str,
    what: &str,
) {
    assert_invalid_token(app.userinfo(token).await, &format!("{what}: /userinfo")).await;
    let resp = app
        .http
        .get(app.url("/admin/keys"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_invalid_token(resp, &format!("{what}: /admin/keys")).await;
    for (path, field) in [
        ("/api/token/verify/", "token"),
        ("/api/token/refresh/", "refresh"),
        ("/api/token/blacklist/", "refresh"),
    ] {
        let (status, body) = status_json(app.post_json(path, json!({ field: token })).await).await;
        let what = format!("{what}: {path}");
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["code"], "token_not_valid", "{what}: {body}");
        ensure_body(status, &body, &what);
    }
    let (status, body) = status_json(
        app.post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "simplejwt"),
                ("refresh_token", token),
            ],
        )
        .await,
    )
    .await;
    // RFC 6749 §5.2: invalid_grant is a 400.
    assert_eq!(status, 400, "{what}: /token {body}");
    assert_eq!(body["error"], "invalid_grant", "{what}: /token {body}");
    ensure_body(status, &body, &format!("{what}: /token"));
    let (status, body) = status_json(
        app.post_form_basic("/introspect", "rs", rs_secret, &[("token", token)])
            .await,
    )
    .await;
    assert_eq!(status, 200, "{what}: /introspect {body}");
    assert_eq!(body, json!({ "active": false }), "{what}: /introspect");
}

/// The access token's claims as the server wrote them; signing them again with the
/// server's key must give a token every endpoint accepts (the control of each attack).
pub(super) async fn assert_accepted_as_access(app: &TestApp, token: &str, what: &str) {
    let (status, body) = status_json(app.userinfo(token).await).await;
    assert_eq!(status, 200, "{what} (control) at /userinfo: {body}");
    let (status, body) = status_json(
        app.post_json("/api/token/verify/", json!({ "token": token }))
            .await,
    )
    .await;
    assert_eq!(
        status, 200,
        "{what} (control) at /api/token/verify/: {body}"
    );
}
