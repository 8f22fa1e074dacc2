//! A second factor required by policy (issue 24 item 6): of a user (`gatehouse user
//! require-mfa`), of everyone signing in to a client (the admin API, `PUT …/require-mfa`).
//! A user who must and has none sets up an app at the next browser sign-in and then goes on
//! where they were going (the session raised by the confirmation); until then `/api/token/`
//! answers 403 `mfa_enrolment_required` and the password grant `invalid_grant`; on both
//! databases.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::assurance::{
    alice_and_app, assert_signed_in, claims_of, follow, post_password, redeem, ACR_MFA,
};
use crate::both_backends;
use crate::helpers::totp::{base32_decode, code};
use crate::helpers::{
    browser, hidden, location, password_grant, spawn_app, spawn_app_with, status_json, unescape,
    Backend, TestApp,
};
use crate::sso::authorize_url;
use crate::totp::{audit_kinds, post_account, PASSWORD};

both_backends!(
    a_user_required_to_have_a_factor_sets_one_up_at_the_next_sign_in_then_goes_on,
    a_client_that_requires_a_factor_sends_its_users_to_set_one_up,
    a_clients_file_declares_the_requirement_and_only_the_file_changes_it,
);

/// The account page a sign-in was sent to (`/account?return_to=…`): sets up an app with
/// alice's password and a code, as the page's forms carry `return_to`; answers where the
/// page's "continue" link goes.
pub(crate) async fn enrol_on_the_way(
    app: &TestApp,
    b: &reqwest::Client,
    account: &str,
) -> (Vec<u8>, String) {
    assert!(account.starts_with("/account?return_to="), "{account}");
    let page = b
        .get(app.url(account))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"mfa-required\""), "{page}");
    let next = hidden(&page, "return_to");
    assert!(next.starts_with('/'), "{page}");
    let fields = [("password", PASSWORD), ("return_to", next.as_str())];
    let (status, html) = post_account(app, b, "/account/totp", &fields).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(
        hidden(&html, "return_to"),
        next,
        "the confirm form carries it"
    );
    let start = html.find("id=\"totp-secret\">").unwrap() + 17;
    let end = html[start..].find('<').unwrap();
    let secret = base32_decode(&html[start..start + end]);
    let now = app.clock.now();
    let fields = [("code", code(&secret, now)), ("return_to", next.clone())];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, html) = post_account(app, b, "/account/totp/confirm", &fields).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let link = html
        .split("id=\"continue\" href=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no continue link: {html}"));
    let href = unescape(link.split('"').next().unwrap());
    assert_eq!(href, next);
    (secret, href)
}

async fn a_user_required_to_have_a_factor_sets_one_up_at_the_next_sign_in_then_goes_on(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    alice_and_app(&app).await;
    let pg = app
        .add_client(&["pg", "--grant", "password", "--scope", "openid"])
        .await
        .unwrap();
    let out = app.cli(&["user", "require-mfa", "alice"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains("second factor"), "{}", out.stdout);
    let listed = app.cli(&["user", "list"], "").await.stdout;
    let line = listed.lines().find(|l| l.starts_with("alice\t")).unwrap();
    assert!(line.ends_with("\tmfa-required"), "{line}");
    // The token endpoints: the right password, and no tokens until she has one.
    let (status, body) = status_json(app.simplejwt_login("alice", PASSWORD).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "mfa_enrolment_required");
    let page = format!("{}/account", app.address);
    assert!(body["detail"].as_str().unwrap().contains(&page), "{body}");
    assert!(body.get("access").is_none());
    let resp = password_grant(
        &app.http,
        &app.address,
        "pg",
        &pg,
        "alice",
        PASSWORD,
        "openid",
    );
    let (status, body) = status_json(resp.await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant", "{body}");
    // A wrong password still says nothing of the policy.
    let (status, body) = status_json(app.simplejwt_login("alice", "not it at all").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "no_active_account");
    // The browser: the password, then the account page to set up an app, then on.
    let b = browser();
    let resp = b.get(authorize_url(&app, &[])).send().await.unwrap();
    let resp = post_password(&app, &b, &location(&resp)).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let account = location(&resp);
    let (_, next) = enrol_on_the_way(&app, &b, &account).await;
    assert!(next.starts_with("/authorize?"), "{next}");
    let cb = follow(&app, &b, next).await;
    let body = redeem(&app, &cb).await;
    let now = app.clock.now();
    assert_signed_in(
        &claims_of(&body, "id_token"),
        now,
        &["pwd", "otp", "mfa"],
        ACR_MFA,
    );
    let records = audit_kinds(&app).await;
    let policy: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "user.mfa_policy")
        .collect();
    assert_eq!(policy.len(), 1);
    assert_eq!(policy[0]["detail"], "required");
    assert_eq!(policy[0]["subject"], "alice");
    // Lifted; an unknown user is an error naming nothing else.
    let out = app
        .cli(&["user", "require-mfa", "alice", "--off"], "")
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    let alice = app.state.accounts.find_user("alice").await.unwrap();
    assert!(!alice.require_mfa);
    let out = app.cli(&["user", "require-mfa", "nobody"], "").await;
    assert!(!out.status.success());
}

async fn put_require(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let resp = app
        .http
        .put(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    status_json(resp).await
}

async fn a_client_that_requires_a_factor_sends_its_users_to_set_one_up(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await;
    alice_and_app(&app).await;
    let path = "/admin/clients/app/require-mfa";
    for bad in [
        json!({ "required": "yes" }),
        json!({ "required": true, "x": 1 }),
        json!({}),
    ] {
        let (status, body) = put_require(&app, &token, path, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (status, _) = put_require(
        &app,
        &token,
        "/admin/clients/nobody/require-mfa",
        json!({ "required": true }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let resp = app
        .http
        .put(app.url(path))
        .json(&json!({ "required": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (status, client) = put_require(&app, &token, path, json!({ "required": true })).await;
    assert_eq!(status, StatusCode::OK, "{client}");
    assert_eq!(client["require_mfa"], true);
    // alice has no policy of her own: signed in with the password, the client's policy sends
    // her to set up an app before its code.
    let b = browser();
    let resp = b.get(authorize_url(&app, &[])).send().await.unwrap();
    let resp = post_password(&app, &b, &location(&resp)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = b.get(app.url(&location(&resp))).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let (_, next) = enrol_on_the_way(&app, &b, &location(&resp)).await;
    let body = redeem(&app, &follow(&app, &b, next).await).await;
    assert_eq!(claims_of(&body, "access_token")["acr"], ACR_MFA);
    // The user's flag through the API too, shown on the user.
    let (status, user) = put_require(
        &app,
        &token,
        "/admin/users/alice/require-mfa",
        json!({ "required": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["require_mfa"], true);
    let (status, _) = put_require(&app, &token, path, json!({ "required": false })).await;
    assert_eq!(status, StatusCode::OK);
    let client = app.state.accounts.find_client("app").await.unwrap();
    assert!(!client.require_mfa);
    // The console: the clients page says it and switches it.
    let console = crate::admin_mfa::console_of_root(&app).await;
    let page = console
        .get(app.url("/console/clients"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("/console/clients/app/require-mfa"), "{page}");
    let resp = console
        .post(app.url("/console/clients/app/require-mfa"))
        .form(&[("csrf", hidden(&page, "csrf").as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("second factor required"), "{html}");
    assert!(
        app.state
            .accounts
            .find_client("app")
            .await
            .unwrap()
            .require_mfa
    );
}

async fn a_clients_file_declares_the_requirement_and_only_the_file_changes_it(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clients.toml");
    let declared = format!(
        "[[client]]\nid = \"portal\"\nkind = \"public\"\nredirect_uris = [\"{}\"]\n\
         scopes = [\"openid\"]\nrequire_mfa = true\n",
        crate::sso::REDIRECT
    );
    std::fs::write(&file, declared).unwrap();
    let Some(app) = spawn_app_with(backend, |s| {
        s.clients_file = Some(file.display().to_string())
    })
    .await
    else {
        return;
    };
    let portal = app.state.accounts.find_client("portal").await.unwrap();
    assert!(portal.require_mfa && portal.managed);
    let token = app.admin_token().await;
    let (status, body) = put_require(
        &app,
        &token,
        "/admin/clients/portal/require-mfa",
        json!({ "required": false }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let out = app
        .cli(&["client", "require-mfa", "portal", "--off"], "")
        .await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("clients file"), "{}", out.stderr);
    assert!(
        app.state
            .accounts
            .find_client("portal")
            .await
            .unwrap()
            .require_mfa
    );
    // A client of the CLI: on and off.
    app.add_client(&["free", "--grant", "client_credentials"])
        .await;
    for (args, on) in [(&["free"][..], true), (&["free", "--off"][..], false)] {
        let argv: Vec<&str> = ["client", "require-mfa"]
            .iter()
            .chain(args)
            .copied()
            .collect();
        let out = app.cli(&argv, "").await;
        assert!(out.status.success(), "{}", out.stderr);
        assert_eq!(
            app.state
                .accounts
                .find_client("free")
                .await
                .unwrap()
                .require_mfa,
            on
        );
    }
}
