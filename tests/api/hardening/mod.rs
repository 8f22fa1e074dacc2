//! The gaps a security review against RFC 9700, RFC 8725 and OpenID Connect found, each
//! closed and proven here on SQLite and PostgreSQL: races that gave a 500 or lost a
//! revocation, scope `admin` for non-admins, sessions outliving a password change, refresh
//! tokens that looked like access tokens to an `aud`-checking verifier, a revoked family's
//! access tokens, logout by someone else's id_token, cookie prefixes and `form-action`, the
//! last admin, IPv6 windows, and who may introspect what.
//!
//! By subject: `races`, `grants` (what a code or a refresh may grant), `revocation`,
//! `introspection`, `pages` (logout, the login page, cookies, `form-action`) and `accounts`
//! (the last admin, IPv6 windows).

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    password_grant, peek, spawn_app, spawn_app_with, status_json, submit_login, Backend, TestApp,
    ADMIN_PASSWORD,
};
use crate::sso::{
    authorize_url, browser, exchange, hidden, location, query_param, setup, sign_in, REDIRECT,
    VERIFIER,
};

const PASSWORD: &str = "alice-password-1";

mod accounts;
mod grants;
mod introspection;
mod pages;
mod races;
mod revocation;

/// Signs alice in through the code flow of the public client `app` and redeems the code.
async fn code_flow_tokens(app: &TestApp) -> (reqwest::Client, Value) {
    let b = browser();
    let cb = sign_in(app, &b, &authorize_url(app, &[]), PASSWORD).await;
    let code = query_param(&cb, "code").expect("code");
    let (status, tokens) = status_json(exchange(app, &code, Some(VERIFIER), "app").await).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    (b, tokens)
}

async fn userinfo_status(app: &TestApp, access: &str) -> StatusCode {
    app.http
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .expect("request")
        .status()
}

async fn introspect(app: &TestApp, client: &str, secret: &str, token: &str) -> Value {
    let resp = app
        .post_form_basic("/introspect", client, secret, &[("token", token)])
        .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A confidential resource server registered to introspect every client's tokens.
async fn resource_server(app: &TestApp) -> String {
    app.add_client(&[
        "rs",
        "--grant",
        "client_credentials",
        "--scope",
        "api",
        "--introspect-any",
    ])
    .await
    .expect("confidential")
}
