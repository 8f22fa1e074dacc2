//! Admins and second factors (issue 24 items 6 and 7): with `MFA_FOR_ADMINS` an admin
//! without a factor sets one up at sign-in (the console too), and the admin API refuses an
//! admin token of a password-only sign-in with RFC 9470's `insufficient_user_authentication`
//! challenge; an admin lists and removes a user's factors in the API and the console,
//! audited and counted; on both databases.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::account::signed_in_browser;
use crate::assurance::{claims_of, follow, post_code, post_password, redeem, ACR_MFA};
use crate::both_backends;
use crate::helpers::{
    browser, hidden, location, peek, spawn_app, spawn_app_with, status_json, Backend, TestApp,
};
use crate::mfa_policy::enrol_on_the_way;
use crate::sso::{authorize_url, REDIRECT};
use crate::totp::{audit_kinds, enrol, PASSWORD};

both_backends!(
    mfa_for_admins_refuses_a_password_only_admin_token_with_the_rfc_9470_challenge,
    an_admin_lists_and_removes_a_users_factors_audited_and_counted,
    the_console_steps_an_admins_password_session_up_to_the_second_factor,
);

async fn get_admin(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// `claims` signed with the server's current key as an access token.
fn signed(app: &TestApp, claims: &Value) -> String {
    app.state
        .tokens
        .keys
        .snapshot()
        .signer(gatehouse::keys::Alg::Rs256)
        .expect("signer")
        .sign(gatehouse::keys::store::TokenType::Access, claims)
        .expect("sign")
}

async fn mfa_for_admins_refuses_a_password_only_admin_token_with_the_rfc_9470_challenge(
    backend: Backend,
) {
    let Some(app) = spawn_app_with(backend, |a| a.mfa_for_admins = Some("true".into())).await
    else {
        return;
    };
    // alice is an admin here, without a second factor yet.
    app.add_user("alice", PASSWORD, true).await;
    app.add_client(&[
        "app",
        "--public",
        "--redirect-uri",
        REDIRECT,
        "--scope",
        "openid",
        "admin",
    ])
    .await;
    let (status, body) = status_json(app.simplejwt_login("alice", PASSWORD).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "mfa_enrolment_required");
    // The console, signed in with the password only: set up an app first, then back.
    let b = browser();
    let resp = b.get(app.url("/console/users")).send().await.unwrap();
    let resp = post_password(&app, &b, &location(&resp)).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let account = location(&resp);
    assert_eq!(account, "/account?return_to=%2Fconsole%2Fusers");
    // Going around the account page does not help: the console sends her back there.
    let resp = b.get(app.url("/console/keys")).send().await.unwrap();
    assert_eq!(location(&resp), "/account?return_to=%2Fconsole%2Fkeys");
    let (_, next) = enrol_on_the_way(&app, &b, &account).await;
    let resp = b.get(app.url(&next)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // An admin token of that multi-factor session is accepted.
    let scope = [("scope", "openid admin")];
    let resp = b.get(authorize_url(&app, &scope)).send().await.unwrap();
    let body = redeem(&app, &follow(&app, &b, location(&resp)).await).await;
    let access = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims_of(&body, "access_token")["acr"], ACR_MFA);
    assert_eq!(get_admin(&app, &access, "/admin/users").await.status(), 200);
    // The same admin's token of a password-only sign-in (as issued before the setting, or
    // before tokens said how), signed by the server: 401 with the challenge of RFC 9470.
    let mut claims = peek(&access).1;
    claims["jti"] = json!("password-only-token-1");
    claims["acr"] = json!("urn:gatehouse:acr:pwd");
    claims["amr"] = json!(["pwd"]);
    let mut legacy = claims.clone();
    legacy["jti"] = json!("password-only-token-2");
    for field in ["acr", "amr", "auth_time"] {
        legacy.as_object_mut().unwrap().remove(field);
    }
    for weak in [signed(&app, &claims), signed(&app, &legacy)] {
        let resp = get_admin(&app, &weak, "/admin/users").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.starts_with("Bearer realm=\"gatehouse\", error=\"insufficient_user_authentication\", error_description=\""),
            "{challenge}"
        );
        assert!(
            challenge.ends_with(&format!("acr_values=\"{ACR_MFA}\"")),
            "{challenge}"
        );
        let (_, body) = status_json(resp).await;
        assert_eq!(body["error"], "insufficient_user_authentication");
        // The user's own endpoints still take it: the policy guards the admin API.
        assert_eq!(app.userinfo(&weak).await.status(), StatusCode::OK);
    }
}

async fn an_admin_lists_and_removes_a_users_factors_audited_and_counted(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await;
    app.add_user("alice", PASSWORD, false).await;
    let b = signed_in_browser(&app, PASSWORD).await;
    let path = "/admin/users/alice/factors";
    let (status, none) = status_json(get_admin(&app, &token, path).await).await;
    assert_eq!(status, StatusCode::OK, "{none}");
    assert_eq!(none["factors"], json!([]));
    enrol(&app, &b).await;
    let enrolled_at = app.clock.now();
    let (status, listed) = status_json(get_admin(&app, &token, path).await).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        listed,
        json!({
            "username": "alice",
            "factors": [{ "kind": "totp", "since": enrolled_at }],
            "enrolment_pending": false,
            "recovery_codes_left": 10,
            "mfa_required": false,
        })
    );
    let resp = get_admin(&app, &token, "/admin/users/nobody/factors").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let delete = |path: &'static str| app.http.delete(app.url(path)).bearer_auth(&token).send();
    let resp = app.http.delete(app.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(delete(path).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(delete(path).await.unwrap().status(), StatusCode::NOT_FOUND);
    let (_, after) = status_json(get_admin(&app, &token, path).await).await;
    assert_eq!(after["factors"], json!([]));
    assert_eq!(after["recovery_codes_left"], 0);
    // Her password alone signs her in again.
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 200);
    let records = audit_kinds(&app).await;
    let removed: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "mfa.removed")
        .collect();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["detail"], "totp, by an admin");
    assert_eq!(removed[0]["actor"], "root");
    // The console: her page of factors, a removal, and the policy.
    enrol(&app, &b).await;
    let console = console_of_root(&app).await;
    let page = console
        .get(app.url("/console/users/alice/factors"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("10 of 10 recovery codes left"), "{page}");
    for (action, says) in [
        ("remove-factors", "Removed the authenticator app"),
        ("remove-factors", "has no second factor"),
        ("require-mfa", "must sign in with a second factor"),
    ] {
        let resp = console
            .post(app.url(&format!("/console/users/alice/{action}")))
            .form(&[("csrf", hidden(&page, "csrf").as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{action}");
        let html = resp.text().await.unwrap();
        assert!(html.contains(says), "{action}: {html}");
    }
    let stale = console
        .post(app.url("/console/users/alice/remove-factors"))
        .form(&[("csrf", "stale")])
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    assert!(
        app.state
            .accounts
            .find_user("alice")
            .await
            .unwrap()
            .require_mfa
    );
    let metrics = app.metrics().await;
    for counted in [
        "gatehouse_second_factor_events_total{event=\"enrolled\"} 2",
        "gatehouse_second_factor_events_total{event=\"removed\"} 2",
    ] {
        assert!(metrics.contains(counted), "{counted}");
    }
}

/// A browser signed in to the console as root (the admin of `admin_token`).
pub(crate) async fn console_of_root(app: &TestApp) -> reqwest::Client {
    let b = browser();
    let page = b
        .get(app.url("/login?return_to=%2Fconsole%2Fusers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resp = b
        .post(app.url("/login"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("return_to", "/console/users"),
            ("username", "root"),
            ("password", crate::helpers::ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    b
}

async fn the_console_steps_an_admins_password_session_up_to_the_second_factor(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |a| a.mfa_for_admins = Some("true".into())).await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, true).await;
    let b = browser();
    let resp = b.get(app.url("/console/users")).send().await.unwrap();
    let resp = post_password(&app, &b, &location(&resp)).await;
    assert_eq!(resp.status(), StatusCode::FOUND, "sent to set up an app");
    // Her app is set up elsewhere meanwhile (in-process, as another device's sign-in
    // would): this browser's session is still a password sign-in.
    let user = app.state.accounts.find_user("alice").await.unwrap();
    let password = gatehouse::passwords::Password::new(PASSWORD.into());
    let enrolment = app
        .state
        .mfa
        .start_totp(&user, password, "127.0.0.1")
        .await
        .unwrap();
    let secret = crate::helpers::totp::base32_decode(&enrolment.secret);
    let now = app.clock.now();
    let first = crate::helpers::totp::code(&secret, now);
    app.state
        .mfa
        .confirm_totp(&user, &first, "127.0.0.1")
        .await
        .unwrap();
    app.advance(30);
    // The console asks for a code, not the password, and then lets her in.
    let resp = b.get(app.url("/console/users")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let step = resp.text().await.unwrap();
    assert!(step.contains("mfa_token"), "{step}");
    assert!(!step.contains("name=\"password\""), "{step}");
    assert_eq!(hidden(&step, "return_to"), "/console/users");
    let code = crate::helpers::totp::code(&secret, app.clock.now());
    let resp = post_code(&app, &b, &step, &code).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/console/users");
    let resp = b.get(app.url("/console/users")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("<h1>Users</h1>"));
}
