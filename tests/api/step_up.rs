//! `/authorize` asks for more than a live session when the request does (issue 24 item 6):
//! `max_age` and `prompt=login` ask for the password again, `acr_values` naming the
//! multi-factor level steps a password-only session up to the user's second factor (in
//! place: the same `sid`, a new cookie value), a user without one gets
//! `unmet_authentication_requirements`, and `prompt=none` that would need any of it gets
//! `login_required`; on both databases.

use reqwest::StatusCode;
use serde_json::json;

use crate::assurance::{
    alice_and_app, assert_signed_in, claims_of, code_flow, follow, post_code, post_password,
    redeem, ACR_MFA, ACR_PWD,
};
use crate::both_backends;
use crate::helpers::totp::{base32_decode, code};
use crate::helpers::{browser, location, query_param, spawn_app, status_json, Backend, TestApp};
use crate::sso::{authorize_url, REDIRECT};
use crate::totp::PASSWORD;

both_backends!(
    max_age_and_prompt_login_ask_for_the_password_again,
    acr_values_step_a_password_session_up_to_the_second_factor_in_place,
    acr_values_for_a_user_without_a_factor_are_unmet_authentication_requirements,
);

/// alice sets up an app through the JSON API (a single-page app, her access token): the
/// browser's session is untouched, still a password sign-in. Her secret.
async fn enrol_by_api(app: &TestApp) -> Vec<u8> {
    let (access, _) = app.tokens("alice", PASSWORD).await;
    let call = |path: &'static str, body: serde_json::Value| {
        app.http
            .post(app.url(path))
            .bearer_auth(&access)
            .json(&body)
            .send()
    };
    let resp = call("/api/account/totp/", json!({ "password": PASSWORD }));
    let (status, body) = status_json(resp.await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = base32_decode(body["secret"].as_str().unwrap());
    let now = app.clock.now();
    let resp = call(
        "/api/account/totp/confirm/",
        json!({ "code": code(&secret, now) }),
    );
    let (status, body) = status_json(resp.await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    secret
}

/// `/authorize?…extra` with the browser's session: the answer's location.
async fn authorize(app: &TestApp, b: &reqwest::Client, extra: &[(&str, &str)]) -> String {
    let resp = b.get(authorize_url(app, extra)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND, "{extra:?}");
    location(&resp)
}

async fn max_age_and_prompt_login_ask_for_the_password_again(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    alice_and_app(&app).await;
    let t0 = app.clock.now();
    let b = browser();
    let _ = code_flow(&app, &b, &[], None).await;
    app.advance(100);
    // Signed in 100 s ago: max_age=300 is met without a prompt, and says when.
    let cb = authorize(&app, &b, &[("max_age", "300")]).await;
    assert!(cb.starts_with(REDIRECT), "{cb}");
    assert_signed_in(
        &claims_of(&redeem(&app, &cb).await, "id_token"),
        t0,
        &["pwd"],
        ACR_PWD,
    );
    // max_age=60 is not: without interaction, login_required; else the password again.
    let cb = authorize(&app, &b, &[("max_age", "60"), ("prompt", "none")]).await;
    assert_eq!(query_param(&cb, "error").as_deref(), Some("login_required"));
    assert_eq!(query_param(&cb, "state").as_deref(), Some("st-1"));
    let login = authorize(&app, &b, &[("max_age", "60")]).await;
    assert!(login.starts_with("/login?"), "{login}");
    let resp = post_password(&app, &b, &login).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cb = follow(&app, &b, location(&resp)).await;
    let body = redeem(&app, &cb).await;
    assert_signed_in(&claims_of(&body, "id_token"), t0 + 100, &["pwd"], ACR_PWD);
    // prompt=login asks even for a sign-in of this very second.
    let login = authorize(&app, &b, &[("prompt", "login")]).await;
    assert!(login.starts_with("/login?"), "{login}");
    assert!(!login.contains("prompt"), "asked once: {login}");
}

async fn acr_values_step_a_password_session_up_to_the_second_factor_in_place(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    alice_and_app(&app).await;
    let b = browser();
    let first = redeem(&app, &code_flow(&app, &b, &[], None).await).await;
    let sid = claims_of(&first, "id_token")["sid"].clone();
    // She sets up an app in her single-page app; the browser's session stays a password
    // sign-in.
    let secret = enrol_by_api(&app).await;
    app.advance(30);
    let cb = authorize(&app, &b, &[]).await;
    let body = redeem(&app, &cb).await;
    assert_eq!(claims_of(&body, "access_token")["acr"], ACR_PWD);
    // Asked for the multi-factor level: without interaction, login_required.
    let mfa = [("acr_values", ACR_MFA)];
    let cb = authorize(&app, &b, &[mfa[0], ("prompt", "none")]).await;
    assert_eq!(query_param(&cb, "error").as_deref(), Some("login_required"));
    // Else her code (not her password): the second step's page.
    let resp = b.get(authorize_url(&app, &mfa)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let step = resp.text().await.unwrap();
    assert!(step.contains("mfa_token"), "{step}");
    assert!(!step.contains("name=\"password\""), "{step}");
    let now = app.clock.now();
    let wrong = if code(&secret, now) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let resp = post_code(&app, &b, &step, wrong).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = post_code(&app, &b, &step, &code(&secret, now)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        resp.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("gh_session=")),
        "a raised session gets a new cookie value"
    );
    let cb = follow(&app, &b, location(&resp)).await;
    let body = redeem(&app, &cb).await;
    let id = claims_of(&body, "id_token");
    assert_signed_in(&id, now, &["pwd", "otp", "mfa"], ACR_MFA);
    assert_eq!(id["sid"], sid, "the same session, raised");
    // Raised, it meets both levels from now on without a prompt.
    for extra in [&mfa[..], &[("acr_values", ACR_PWD)], &[]] {
        let cb = authorize(&app, &b, extra).await;
        let body = redeem(&app, &cb).await;
        assert_eq!(claims_of(&body, "access_token")["acr"], ACR_MFA);
    }
}

async fn acr_values_for_a_user_without_a_factor_are_unmet_authentication_requirements(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    alice_and_app(&app).await;
    let b = browser();
    let cb = code_flow(&app, &b, &[("acr_values", ACR_MFA)], None).await;
    assert_eq!(
        query_param(&cb, "error").as_deref(),
        Some("unmet_authentication_requirements"),
        "{cb}"
    );
    assert_eq!(query_param(&cb, "state").as_deref(), Some("st-1"));
    assert!(query_param(&cb, "code").is_none());
    // Values we do not issue are ignored (acr is voluntary); a preference list is met by
    // its least demanding value we know.
    let either = format!("{ACR_MFA} {ACR_PWD}");
    for extra in [
        [("acr_values", "urn:example:gold")],
        [("acr_values", &either)],
    ] {
        let cb = authorize(&app, &b, &extra).await;
        let body = redeem(&app, &cb).await;
        assert_eq!(claims_of(&body, "access_token")["acr"], ACR_PWD);
    }
    // An absurdly long request is refused at the redirect URI, not a 5xx.
    let long = "x".repeat(2000);
    let cb = authorize(&app, &b, &[("acr_values", &long)]).await;
    assert_eq!(
        query_param(&cb, "error").as_deref(),
        Some("invalid_request")
    );
    // Once she has an app, the same request steps up instead.
    enrol_by_api(&app).await;
    let resp = b
        .get(authorize_url(&app, &[("acr_values", ACR_MFA)]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("mfa_token"));
}
