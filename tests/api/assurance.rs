//! How a sign-in was made, in the tokens (issue 24 item 6): access tokens and id_tokens carry
//! `auth_time` (the sign-in's, kept across refreshes), `amr` (RFC 8176) and `acr` (listed
//! in discovery), from the browser flow and from the JSON exchange, on both databases.
//! The helpers here (a sign-in through `/authorize` with or without a second step) serve
//! `step_up.rs` and `mfa_policy.rs` too.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::account::signed_in_browser;
use crate::both_backends;
use crate::helpers::totp::code;
use crate::helpers::{
    browser, hidden, location, peek, query_param, spawn_app, status_json, Backend, TestApp,
};
use crate::sso::{authorize_url, exchange, REDIRECT, VERIFIER};
use crate::totp::{enrol, PASSWORD};

pub(crate) const ACR_PWD: &str = "urn:gatehouse:acr:pwd";
pub(crate) const ACR_MFA: &str = "urn:gatehouse:acr:mfa";

both_backends!(
    a_password_sign_in_says_pwd_and_keeps_its_auth_time_across_refreshes,
    a_second_factor_says_otp_and_mfa_in_every_token,
    discovery_lists_the_acr_values_and_the_claims,
);

/// alice (password [`PASSWORD`]) and the public client `app` of `sso.rs`.
pub(crate) async fn alice_and_app(app: &TestApp) {
    app.add_user("alice", PASSWORD, false).await;
    app.add_client(&[
        "app",
        "--public",
        "--redirect-uri",
        REDIRECT,
        "--scope",
        "openid",
        "profile",
        "offline_access",
    ])
    .await;
}

/// Posts the login form of `login_page` (a `/login?…` path) with alice's password; the
/// answer (303 on, or 200 with the second step's page).
pub(crate) async fn post_password(
    app: &TestApp,
    b: &reqwest::Client,
    login_page: &str,
) -> reqwest::Response {
    let page = b
        .get(app.url(login_page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    b.post(app.url("/login"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("return_to", hidden(&page, "return_to").as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap()
}

/// Posts the second step's form of `step_page` with `code`.
pub(crate) async fn post_code(
    app: &TestApp,
    b: &reqwest::Client,
    step_page: &str,
    code: &str,
) -> reqwest::Response {
    b.post(app.url("/login/mfa"))
        .form(&[
            ("csrf", hidden(step_page, "csrf").as_str()),
            ("return_to", hidden(step_page, "return_to").as_str()),
            ("mfa_token", hidden(step_page, "mfa_token").as_str()),
            ("code", code),
        ])
        .send()
        .await
        .unwrap()
}

/// Follows redirects on this host by hand (the browser keeps its cookies) until one leaves
/// for the client's redirect URI, or a page answers; the last answer's location or body.
pub(crate) async fn follow(app: &TestApp, b: &reqwest::Client, mut at: String) -> String {
    for _ in 0..10 {
        if at.starts_with(REDIRECT) {
            return at;
        }
        let url = if at.starts_with('/') {
            app.url(&at)
        } else {
            at
        };
        let resp = b.get(&url).send().await.unwrap();
        if !resp.status().is_redirection() {
            return resp.text().await.unwrap();
        }
        at = location(&resp);
    }
    panic!("too many redirects");
}

/// Signs alice in through `/authorize?…extra` (the password, then with `secret` a code of
/// her app) and answers the callback URL.
pub(crate) async fn code_flow(
    app: &TestApp,
    b: &reqwest::Client,
    extra: &[(&str, &str)],
    secret: Option<&[u8]>,
) -> String {
    let resp = b.get(authorize_url(app, extra)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let login = location(&resp);
    assert!(login.starts_with("/login?"), "{login}");
    let resp = post_password(app, b, &login).await;
    let resp = match secret {
        None => resp,
        Some(secret) => {
            assert_eq!(resp.status(), StatusCode::OK);
            let step = resp.text().await.unwrap();
            post_code(app, b, &step, &code(secret, app.clock.now())).await
        }
    };
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    follow(app, b, location(&resp)).await
}

/// Redeems the code of a callback at `/token` for `app`: the token response.
pub(crate) async fn redeem(app: &TestApp, callback: &str) -> Value {
    let code = query_param(callback, "code").unwrap_or_else(|| panic!("no code: {callback}"));
    let (status, body) = status_json(exchange(app, &code, Some(VERIFIER), "app").await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The claims of the token at `field` of a token response.
pub(crate) fn claims_of(body: &Value, field: &str) -> Value {
    peek(
        body[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {body}")),
    )
    .1
}

/// Asserts `claims` say a sign-in at `auth_time` with `amr` and `acr`.
pub(crate) fn assert_signed_in(claims: &Value, auth_time: i64, amr: &[&str], acr: &str) {
    assert_eq!(claims["auth_time"], json!(auth_time), "{claims}");
    assert_eq!(claims["amr"], json!(amr), "{claims}");
    assert_eq!(claims["acr"], json!(acr), "{claims}");
}

async fn refresh(app: &TestApp, refresh_token: &str) -> Value {
    let resp = app
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "app"),
                ("refresh_token", refresh_token),
            ],
        )
        .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn a_password_sign_in_says_pwd_and_keeps_its_auth_time_across_refreshes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    alice_and_app(&app).await;
    let signed_in_at = app.clock.now();
    let b = browser();
    let cb = code_flow(&app, &b, &[], None).await;
    let body = redeem(&app, &cb).await;
    for field in ["access_token", "id_token"] {
        assert_signed_in(&claims_of(&body, field), signed_in_at, &["pwd"], ACR_PWD);
    }
    // A refresh an hour later: new tokens, the same sign-in.
    app.advance(3600);
    let rotated = refresh(&app, body["refresh_token"].as_str().unwrap()).await;
    let access = claims_of(&rotated, "access_token");
    assert_eq!(access["iat"], json!(app.clock.now()));
    assert_signed_in(&access, signed_in_at, &["pwd"], ACR_PWD);
    // Introspection says it too (RFC 7662 §2.2 allows any of the token's claims).
    let secret = app
        .add_client(&["rs", "--grant", "client_credentials", "--introspect-any"])
        .await
        .unwrap();
    let token = rotated["access_token"].as_str().unwrap();
    let resp = app
        .post_form_basic("/introspect", "rs", &secret, &[("token", token)])
        .await;
    let (_, shown) = status_json(resp).await;
    assert_eq!(shown["active"], true, "{shown}");
    assert_signed_in(&shown, signed_in_at, &["pwd"], ACR_PWD);
    // A second application through the same session: the session's sign-in time.
    app.advance(60);
    let resp = b.get(authorize_url(&app, &[])).send().await.unwrap();
    let body = redeem(&app, &location(&resp)).await;
    assert_signed_in(
        &claims_of(&body, "id_token"),
        signed_in_at,
        &["pwd"],
        ACR_PWD,
    );
    // The JSON exchange signs in now, with the password.
    let (access, refresh_token) = app.tokens("alice", PASSWORD).await;
    let now = app.clock.now();
    assert_signed_in(&peek(&access).1, now, &["pwd"], ACR_PWD);
    app.advance(30);
    let (status, pair) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": refresh_token }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_signed_in(&claims_of(&pair, "access"), now, &["pwd"], ACR_PWD);
    // A machine's token names no sign-in.
    let secret = app
        .add_client(&["machine", "--grant", "client_credentials", "--scope", "api"])
        .await
        .unwrap();
    let resp = app
        .post_form_basic(
            "/token",
            "machine",
            &secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let machine = claims_of(&body, "access_token");
    for claim in ["auth_time", "amr", "acr"] {
        assert!(machine.get(claim).is_none(), "{claim}: {machine}");
    }
}

async fn a_second_factor_says_otp_and_mfa_in_every_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    alice_and_app(&app).await;
    let (secret, codes) = enrol(&app, &signed_in_browser(&app, PASSWORD).await).await;
    app.advance(30);
    let signed_in_at = app.clock.now();
    let cb = code_flow(&app, &browser(), &[], Some(&secret)).await;
    let body = redeem(&app, &cb).await;
    let mfa = ["pwd", "otp", "mfa"];
    for field in ["access_token", "id_token"] {
        assert_signed_in(&claims_of(&body, field), signed_in_at, &mfa, ACR_MFA);
    }
    app.advance(600);
    let rotated = refresh(&app, body["refresh_token"].as_str().unwrap()).await;
    assert_signed_in(
        &claims_of(&rotated, "access_token"),
        signed_in_at,
        &mfa,
        ACR_MFA,
    );
    // The JSON exchange: the pair of /api/token/mf/ says the second factor; a recovery
    // code counts as a one-time password too.
    for second in [code(&secret, app.clock.now()), codes[0].clone()] {
        let (status, body) = status_json(app.simplejwt_login("alice", PASSWORD).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let token = body["mfa_token"].as_str().unwrap();
        let (status, pair) = status_json(
            app.post_json(
                "/api/token/mfa/",
                json!({ "mfa_token": token, "code": second }),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{pair}");
        assert_signed_in(&claims_of(&pair, "access"), app.clock.now(), &mfa, ACR_MFA);
    }
}

async fn discovery_lists_the_acr_values_and_the_claims(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, doc) = status_json(
        app.http
            .get(app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(doc["acr_values_supported"], json!([ACR_PWD, ACR_MFA]));
    let claims = doc["claims_supported"].as_array().unwrap();
    for claim in ["auth_time", "amr", "acr"] {
        assert!(claims.contains(&json!(claim)), "{claim}");
    }
}
