//! The OAuth 2.0 endpoints: `/token` (client_credentials, password, refresh_token; RFC 6749
//! §5.2 errors), `/revoke` (RFC 7009), `/introspect` (RFC 7662) and `/userinfo` (OIDC Core
//! §5.3, RFC 6750 errors). One file per grant, endpoint or theme; this one holds what they
//! share.

mod client_authentication;
mod client_credentials;
mod disabled_and_deleted_users;
mod grant_types;
mod hostile_bodies;
mod introspect;
mod password_grant;
mod refresh_token_grant;
mod revoke;
mod scopes;
mod userinfo;

use reqwest::header::{CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use serde_json::{json, Value};

use crate::helpers::{peek, spawn_app, status_json, verify_with_jwks, Backend, TestApp};

pub(super) const PASSWORD: &str = "correct horse battery";

/// A fresh server with the user `alice`, the client_credentials client `cc` (scope `api`)
/// and the confidential password client `app`; returns the two secrets.
pub(super) async fn setup(backend: Backend) -> Option<(TestApp, String, String)> {
    let app = spawn_app(backend).await?;
    let (cc, pw) = prepare(&app).await;
    Some((app, cc, pw))
}

pub(super) async fn prepare(app: &TestApp) -> (String, String) {
    app.add_user("alice", PASSWORD, false).await;
    let cc = app
        .add_client(&[
            "cc",
            "--grant",
            "client_credentials",
            "--scope",
            "api",
            "--introspect-any",
        ])
        .await
        .expect("cc is confidential");
    let pw = app
        .add_client(&["app", "--grant", "password", "refresh_token"])
        .await
        .expect("app is confidential");
    (cc, pw)
}

pub(super) fn header(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// An RFC 6749 §5.2 error with the expected status and code, and a description.
pub(super) async fn assert_oauth_error(
    resp: reqwest::Response,
    status: u16,
    error: &str,
    what: &str,
) {
    let (got, body) = status_json(resp).await;
    assert_eq!(got.as_u16(), status, "{what}: {body}");
    assert_eq!(body["error"], error, "{what}: {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
}

/// The password grant for `alice` through the client `app`; returns the token response.
pub(super) async fn password_pair(app: &TestApp, secret: &str, scope: Option<&str>) -> Value {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let (status, body) =
        status_json(app.post_form_basic("/token", "app", secret, &form).await).await;
    assert_eq!(status, 200, "password grant: {body}");
    body
}

pub(super) async fn refresh_grant(app: &TestApp, secret: &str, token: &str) -> reqwest::Response {
    app.post_form_basic(
        "/token",
        "app",
        secret,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

pub(super) async fn introspect(app: &TestApp, secret: &str, token: &str) -> Value {
    let resp = app
        .post_form_basic("/introspect", "cc", secret, &[("token", token)])
        .await;
    assert_eq!(header(&resp, CACHE_CONTROL), "no-store");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "introspect: {body}");
    body
}

pub(super) async fn assert_inactive(app: &TestApp, secret: &str, token: &str, what: &str) {
    let body = introspect(app, secret, token).await;
    assert_eq!(body, json!({ "active": false }), "{what}");
}

pub(super) fn token_of(body: &Value, field: &str) -> String {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {body}"))
        .to_string()
}

pub(super) async fn assert_client_credentials_response(app: &TestApp, resp: reqwest::Response) {
    assert_eq!(header(&resp, CACHE_CONTROL), "no-store");
    assert_eq!(header(&resp, PRAGMA), "no-cache");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["expires_in"], 300, "{body}");
    assert_eq!(body["scope"], "api", "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "client_credentials must not issue a refresh token: {body}"
    );
    let access = token_of(&body, "access_token");
    let (header, _) = peek(&access);
    assert_eq!(header["typ"], "at+jwt");
    let claims = verify_with_jwks(&access, &app.jwks().await, &app.settings.issuer)
        .expect("verifies against the JWKS");
    assert_eq!(claims["sub"], "cc", "sub is the client id: {claims}");
    assert_eq!(claims["client_id"], "cc");
    assert_eq!(claims["scope"], "api");
    assert_eq!(claims["aud"], json!(app.settings.issuer));
    assert!(claims.get("user_id").is_none(), "no user: {claims}");
}

/// `path` refuses `token` without client credentials, with a wrong secret (401 and a Basic
/// challenge) and with a confidential client's id but no secret.
pub(super) async fn assert_client_authentication_required(
    app: &TestApp,
    path: &str,
    client_id: &str,
    token: &str,
) {
    let resp = app.post_form(path, &[("token", token)]).await;
    assert_oauth_error(resp, 401, "invalid_client", "no client auth").await;
    let resp = app
        .post_form_basic(path, client_id, "wrong", &[("token", token)])
        .await;
    let challenge = header(&resp, WWW_AUTHENTICATE);
    assert_oauth_error(resp, 401, "invalid_client", "wrong secret").await;
    assert!(challenge.starts_with("Basic"), "{challenge:?}");
    let resp = app
        .post_form(path, &[("token", token), ("client_id", client_id)])
        .await;
    assert_oauth_error(resp, 401, "invalid_client", "confidential, no secret").await;
}
