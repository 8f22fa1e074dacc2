//! The audit trail: admin actions and security events recorded with time, actor, client
//! address, request id and outcome, never a secret; readable through `GET /admin/audit`
//! (filters, pages) and `gatehouse audit`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{run_cli_with, spawn_app, status_json, Backend, TestApp, ADMIN_PASSWORD};

both_backends!(
    sign_ins_and_their_failures_are_recorded_without_what_was_typed,
    admin_actions_name_the_admin_the_address_and_the_request,
    key_rotations_and_refresh_reuse_are_recorded,
    the_trail_filters_by_kind_actor_and_time_and_pages_newest_first,
    the_audit_api_is_for_admins_and_refuses_malformed_queries,
    the_cli_prints_the_trail_and_records_its_own_actions_as_the_operator,
    without_user_in_the_environment_the_cli_names_the_effective_user,
);

const PASSWORD: &str = "alice's long password";

async fn audit(app: &TestApp, token: &str, query: &str) -> (StatusCode, Value) {
    let resp = app
        .http
        .get(app.url(&format!("/admin/audit{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    status_json(resp).await
}

fn records(page: &Value) -> Vec<Value> {
    page["records"].as_array().expect("records").clone()
}

fn of_kind(page: &Value, kind: &str) -> Vec<Value> {
    records(page)
        .into_iter()
        .filter(|r| r["kind"] == kind)
        .collect()
}

async fn sign_ins_and_their_failures_are_recorded_without_what_was_typed(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await;
    app.add_user("alice", PASSWORD, false).await;
    assert_eq!(
        app.simplejwt_login("alice", "wrong password")
            .await
            .status(),
        401
    );
    // Somebody typed their password into the username field.
    let typed = "my-secret-password-in-the-wrong-field";
    assert_eq!(app.simplejwt_login(typed, PASSWORD).await.status(), 401);
    assert_eq!(app.simplejwt_login("alice", PASSWORD).await.status(), 200);

    let (status, page) = audit(&app, &token, "?kind=sign_in").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let sign_ins = records(&page);
    let outcome_of = |subject: Option<&str>, outcome: &str| {
        sign_ins
            .iter()
            .filter(|r| r["outcome"] == outcome && r["subject"].as_str() == subject)
            .count()
    };
    assert_eq!(outcome_of(Some("alice"), "failure"), 1, "{page}");
    assert_eq!(
        outcome_of(None, "failure"),
        1,
        "an unknown account has no subject: {page}"
    );
    assert_eq!(outcome_of(Some("alice"), "success"), 1, "{page}");
    for r in &sign_ins {
        assert_eq!(r["client_addr"], "127.0.0.1", "{r}");
        assert!(r["request_id"].is_string(), "{r}");
    }
    let everything = audit(&app, &token, "?limit=500").await.1.to_string();
    for secret in [typed, PASSWORD, "wrong password", ADMIN_PASSWORD] {
        assert!(
            !everything.contains(secret),
            "{secret} reached the audit trail"
        );
    }
}

async fn admin_actions_name_the_admin_the_address_and_the_request(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await;
    let resp = app
        .http
        .post(app.url("/admin/users"))
        .bearer_auth(&token)
        .json(&json!({ "username": "bob", "password": "bob's long password" }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let request_id = resp.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    let resp = app
        .http
        .post(app.url("/admin/clients"))
        .bearer_auth(&token)
        .json(&json!({ "client_id": "svc", "grants": ["client_credentials"] }))
        .send()
        .await
        .expect("request");
    let (status, created) = status_json(resp).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    for path in [
        "/admin/clients/svc/rotate-secret",
        "/admin/clients/svc/disable",
        "/admin/users/bob/disable",
    ] {
        let resp = app
            .http
            .post(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }

    let (_, page) = audit(&app, &token, "?actor=root").await;
    let created_user = of_kind(&page, "user.created");
    assert_eq!(created_user.len(), 1, "{page}");
    let r = &created_user[0];
    assert_eq!(r["subject"], "bob");
    assert_eq!(r["outcome"], "success");
    assert_eq!(r["client_addr"], "127.0.0.1");
    assert_eq!(r["request_id"], json!(request_id));
    for kind in [
        "client.created",
        "client.secret_rotated",
        "client.disabled",
        "user.disabled",
    ] {
        assert_eq!(of_kind(&page, kind).len(), 1, "{kind}: {page}");
    }
    assert!(
        !page.to_string().contains(&secret),
        "a client secret in the trail"
    );
}

async fn key_rotations_and_refresh_reuse_are_recorded(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await;
    for emergency in [false, true] {
        let resp = app
            .http
            .post(app.url("/admin/keys/rotate"))
            .bearer_auth(&token)
            .json(&json!({ "emergency": emergency }))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // The admin's token died with the revoked key: the operator reads the trail.
    let out = app.cli(&["audit", "--json"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let page = json!({ "records": lines });
    let rotated = of_kind(&page, "key.rotated");
    assert_eq!(rotated.len(), 1, "{page}");
    assert!(rotated[0]["detail"]
        .as_str()
        .unwrap_or("")
        .starts_with("manual"));
    let revoked = of_kind(&page, "key.revoked");
    assert_eq!(revoked.len(), 1, "{page}");
    assert!(revoked[0]["detail"]
        .as_str()
        .unwrap_or("")
        .starts_with("emergency"));

    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    for expected in [200, 401] {
        let resp = app
            .post_json("/api/token/refresh/", json!({ "refresh": refresh }))
            .await;
        assert_eq!(resp.status(), expected);
    }
    let out = app
        .cli(&["audit", "--json", "--kind", "refresh.reuse_detected"], "")
        .await;
    let reuse: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(reuse.len(), 1, "{}", out.stdout);
    assert_eq!(reuse[0]["subject"], "simplejwt");
    assert_eq!(reuse[0]["outcome"], "failure");
}

async fn the_trail_filters_by_kind_actor_and_time_and_pages_newest_first(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await;
    let start = app.clock.now();
    for name in ["u1", "u2", "u3"] {
        app.add_user(name, "a long enough password", false).await;
        app.advance(60);
    }
    let subjects = |page: &Value| -> Vec<Value> {
        records(page).iter().map(|r| r["subject"].clone()).collect()
    };
    let (_, page) = audit(&app, &token, "?kind=user.created&limit=2").await;
    assert_eq!(
        subjects(&page),
        [json!("u3"), json!("u2")],
        "newest first: {page}"
    );
    let cursor = page["next"].as_str().expect("a next page");
    let query = format!("?kind=user.created&limit=2&after={cursor}");
    let (_, next) = audit(&app, &token, &query).await;
    assert_eq!(subjects(&next), [json!("u1"), json!("root")], "{next}");
    assert_eq!(next["next"], Value::Null, "the last page: {next}");
    // `before`, the cursor's name before every list was paged alike, still works.
    let query = format!("?kind=user.created&limit=2&before={cursor}");
    let (_, same) = audit(&app, &token, &query).await;
    assert_eq!(subjects(&same), subjects(&next));
    let (_, window) = audit(
        &app,
        &token,
        &format!(
            "?kind=user.created&since={}&until={}",
            start + 60,
            start + 60
        ),
    )
    .await;
    assert_eq!(subjects(&window), [json!("u2")], "{window}");
    // In-process seeding has no request: no actor.
    let (_, nobody) = audit(&app, &token, "?actor=root").await;
    assert!(of_kind(&nobody, "user.created").is_empty(), "{nobody}");
}

async fn the_audit_api_is_for_admins_and_refuses_malformed_queries(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await;
    app.add_user("alice", PASSWORD, false).await;
    let (alice, _) = app.tokens("alice", PASSWORD).await;
    let (status, body) = audit(&app, &alice, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let resp = app
        .http
        .get(app.url("/admin/audit"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    for query in [
        "?kind=nonsense",
        "?limit=0",
        "?limit=100000",
        "?before=garbage",
        "?after=garbage",
        "?after=1.not-a-uuid",
        "?actor=a%00b",
        "?since=yesterday",
        "?unknown=1",
    ] {
        let (status, body) = audit(&app, &token, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], "invalid_request", "{query}: {body}");
    }
}

async fn the_cli_prints_the_trail_and_records_its_own_actions_as_the_operator(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let out = app
        .cli(
            &["user", "add", "carol", "--password-stdin"],
            "carol's long password\n",
        )
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    let out = app
        .cli(&["audit", "--json", "--kind", "user.created"], "")
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert_eq!(lines[0]["subject"], "carol");
    assert!(
        lines[0]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("cli:")),
        "{}",
        out.stdout
    );
    let out = app.cli(&["audit"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    let row = out.stdout.lines().next().expect("a row");
    assert!(row.contains("\tuser.created\tsuccess\tcli:"), "{row}");
    assert!(
        row.as_bytes()[..4].iter().all(u8::is_ascii_digit),
        "a date first: {row}"
    );
}

/// A service manager or `sudo -i` may leave `$USER` unset: the actor is then the effective
/// user's name as the system knows it, as `id -un` prints it.
async fn without_user_in_the_environment_the_cli_names_the_effective_user(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let out = run_cli_with(
        &app.storage,
        &["user", "add", "dave", "--password-stdin"],
        "dave's long password\n",
        &[],
        &["USER"],
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    let id = std::process::Command::new("id")
        .arg("-un")
        .output()
        .expect("id -un");
    assert!(id.status.success());
    let name = String::from_utf8(id.stdout).expect("utf-8");
    let out = app
        .cli(&["audit", "--json", "--kind", "user.created"], "")
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    let line: Value =
        serde_json::from_str(out.stdout.lines().next().expect("a line")).expect("a JSON line");
    assert_eq!(line["subject"], "dave");
    assert_eq!(line["actor"], format!("cli:{}", name.trim()), "{line}");
}
