//! What a user and an admin see of a session: when it started and was last used (moved by
//! `/authorize` at most once a minute, so most uses write nothing), the address and a short
//! description of the browser it signed in from (never the raw `User-Agent`); and the
//! applications' offline access, which outlives a logout, listed apart and revocable on the
//! account page, in the admin API and the CLI.

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{query_param, sign_in, spawn_app, status_json, Backend, TestApp};
use crate::sso::{authorize_url, exchange, setup, VERIFIER};

both_backends!(
    sessions_show_where_they_signed_in_from_and_when_they_were_last_used,
    offline_access_outlives_a_logout_is_listed_apart_and_revoked,
);

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn browser_as(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .build()
        .unwrap()
}

async fn sessions(app: &TestApp, admin: &str) -> Vec<serde_json::Value> {
    let resp = app
        .http
        .get(app.url("/admin/users/alice/sessions"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["sessions"].as_array().unwrap().clone()
}

/// The stored `last_used_at` of the user's one session, read beside the API.
async fn last_used(app: &TestApp, admin: &str) -> i64 {
    let listed = sessions(app, admin).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    listed[0]["last_used_at"].as_i64().expect("last_used_at")
}

async fn sessions_show_where_they_signed_in_from_and_when_they_were_last_used(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let admin = app.admin_token().await;
    let b = browser_as(FIREFOX);
    let url = authorize_url(&app, &[]);
    sign_in(&app, &b, &url, "alice-password-1").await;
    let started = app.clock.now();

    let listed = sessions(&app, &admin).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let s = &listed[0];
    assert_eq!(s["browser"], "Firefox 128 on Linux", "{s}");
    assert_eq!(s["address"], "127.0.0.1", "{s}");
    assert_eq!(s["created_at"], started);
    assert_eq!(s["last_used_at"], started);

    // Used again within the minute: nothing is written; after it, the use is recorded.
    app.advance(30);
    let resp = b.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(last_used(&app, &admin).await, started, "within a minute");
    app.advance(31);
    let resp = b.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(last_used(&app, &admin).await, started + 61);

    // The account page and the CLI show the same.
    let (status, html) = crate::account::account_page(&app, &b).await;
    assert_eq!(status, StatusCode::OK);
    let section = &html[html.find("id=\"sessions\"").unwrap()..];
    for shown in [
        "Firefox 128 on Linux",
        "127.0.0.1",
        gatehouse::domain::utc_datetime(started + 61).as_str(),
    ] {
        assert!(section.contains(shown), "{shown} in {section}");
    }
    let out = app.cli(&["user", "sessions", "alice"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("(Firefox 128 on Linux)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("from 127.0.0.1"), "{}", out.stdout);

    // A hostile User-Agent is never stored or shown as sent.
    let hostile = format!("<script>alert(1)</script>{}", "A".repeat(8000));
    let h = browser_as(&hostile);
    sign_in(&app, &h, &url, "alice-password-1").await;
    let listed = sessions(&app, &admin).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["browser"], "unknown browser", "{:?}", listed[0]);
    let (_, html) = crate::account::account_page(&app, &h).await;
    assert!(
        !html.contains("<script>alert(1)"),
        "the header is not echoed"
    );
    assert!(!html.contains(&"A".repeat(100)));
}

/// A code-flow sign-in of alice at `app` with `offline_access`: its refresh token.
async fn refresh_token(app: &TestApp, b: &reqwest::Client) -> String {
    let cb = sign_in(app, b, &authorize_url(app, &[]), "alice-password-1").await;
    let code = query_param(&cb, "code").expect("code");
    let resp = exchange(app, &code, Some(VERIFIER), "app").await;
    let (status, tokens) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string()
}

async fn refresh(app: &TestApp, token: &str) -> (StatusCode, serde_json::Value) {
    let resp = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", token),
        ])
        .send()
        .await
        .unwrap();
    status_json(resp).await
}

async fn offline(app: &TestApp, admin: &str) -> Vec<serde_json::Value> {
    let resp = app
        .http
        .get(app.url("/admin/users/alice/offline-access"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["offline_access"].as_array().unwrap().clone()
}

async fn offline_access_outlives_a_logout_is_listed_apart_and_revoked(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let admin = app.admin_token().await;
    let b = browser_as(FIREFOX);
    let first = refresh_token(&app, &b).await;
    let resp = b.get(app.url("/logout")).send().await.unwrap();
    let page = resp.text().await.unwrap();
    let csrf = crate::helpers::hidden(&page, "csrf");
    let resp = b
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success() || resp.status().is_redirection());
    assert!(sessions(&app, &admin).await.is_empty(), "signed out");

    // The logout left the application's offline access alone: listed, and it refreshes.
    let listed = offline(&app, &admin).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["client_id"], "app");
    let (status, body) = refresh(&app, &first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = body["refresh_token"].as_str().unwrap().to_string();

    // A second grant (later, so that it is listed first), ended by the user on the account
    // page.
    app.advance(5);
    let second = refresh_token(&app, &b).await;
    let (_, html) = crate::account::account_page(&app, &b).await;
    let section = &html[html.find("id=\"offline\"").expect("offline section")..];
    assert_eq!(
        section.matches("<tr class=\"offline-grant\">").count(),
        2,
        "{section}"
    );
    let listed = offline(&app, &admin).await;
    let newest = listed[0]["id"].as_str().unwrap().to_string();
    assert!(section.contains(&newest), "{section}");
    let csrf = crate::helpers::hidden(&html, "csrf");
    let revoke = |id: String, csrf: String| {
        b.post(app.url("/account/offline-access/revoke"))
            .form(&[("csrf", csrf), ("id", id)])
            .send()
    };
    let resp = revoke(newest.clone(), "stale".into()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = revoke("someone-elses".into(), csrf.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(offline(&app, &admin).await.len(), 2, "nothing ended");
    let resp = revoke(newest.clone(), csrf.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, body) = refresh(&app, &second).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = refresh(&app, &first).await;
    assert_eq!(status, StatusCode::OK, "the other grant lives on");

    // The admin API ends the other; unknown ids and users are 404 and change nothing.
    let listed = offline(&app, &admin).await;
    assert_eq!(listed.len(), 1);
    let other = listed[0]["id"].as_str().unwrap().to_string();
    let delete = |path: String| app.http.delete(app.url(&path)).bearer_auth(&admin).send();
    for path in [
        format!("/admin/users/alice/offline-access/{newest}"),
        "/admin/users/alice/offline-access/nope".to_string(),
        format!("/admin/users/root/offline-access/{other}"),
        format!("/admin/users/nobody/offline-access/{other}"),
    ] {
        let resp = delete(path.clone()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let resp = delete(format!("/admin/users/alice/offline-access/{other}"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(offline(&app, &admin).await.is_empty());
    let resp = app
        .http
        .get(app.url("/admin/users/alice/offline-access"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let audit = app
        .cli(&["audit", "--kind", "offline_access.revoked"], "")
        .await;
    assert_eq!(
        audit.stdout.matches("offline_access.revoked").count(),
        2,
        "{}{}",
        audit.stdout,
        audit.stderr
    );
}
