//! `GET /openapi.json`: an OpenAPI 3.1 document of every JSON endpoint, valid by the
//! OpenAPI specification (openapi-spec-validator), and true of the running server:
//! schemathesis calls every operation with generated requests, valid and not, and finds
//! no 5xx and no answer whose status, content type or body its document does not allow.
//! The Python tools come from `tests/downstream/install.sh` (run by `.ci/run`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use crate::both_backends;
use crate::downstream::{python, script};
use crate::helpers::{spawn_app, Backend, TestApp};

both_backends!(
    the_document_is_openapi_3_1_and_describes_every_json_endpoint,
    real_answers_of_every_operation_match_the_document,
    schemathesis_finds_no_server_error_and_no_answer_outside_the_document,
);

/// Every JSON endpoint with its methods. Pages (`/authorize`, `/login`, `/consent`,
/// `/logout`, `/console`) answer HTML and `/metrics` Prometheus text: not in the document.
const OPERATIONS: &[(&str, &str)] = &[
    ("/.well-known/jwks.json", "get"),
    ("/.well-known/openid-configuration", "get"),
    ("/admin/audit", "get"),
    ("/admin/clients", "get"),
    ("/admin/clients", "post"),
    ("/admin/clients/{id}", "delete"),
    ("/admin/clients/{id}", "get"),
    ("/admin/clients/{id}/disable", "post"),
    ("/admin/clients/{id}/enable", "post"),
    ("/admin/clients/{id}/rotate-secret", "post"),
    ("/admin/clients/{id}/logout", "get"),
    ("/admin/clients/{id}/logout", "put"),
    ("/admin/keys", "get"),
    ("/admin/keys/rotate", "post"),
    ("/admin/keys/{kid}/revoke", "post"),
    ("/admin/users", "get"),
    ("/admin/users", "post"),
    ("/admin/users/{username}", "delete"),
    ("/admin/users/{username}", "get"),
    ("/admin/users/{username}/disable", "post"),
    ("/admin/users/{username}/enable", "post"),
    ("/admin/users/{username}/reset-link", "post"),
    ("/admin/users/{username}/sessions", "get"),
    ("/admin/users/{username}/sessions", "delete"),
    ("/admin/users/{username}/sessions/{sid}", "delete"),
    ("/admin/users/{username}/offline-access", "get"),
    ("/admin/users/{username}/offline-access/{id}", "delete"),
    ("/admin/users/{username}/email", "put"),
    ("/admin/users/{username}/email/verification", "post"),
    ("/admin/users/{username}/factors", "get"),
    ("/admin/users/{username}/factors", "delete"),
    ("/admin/users/{username}/require-mfa", "put"),
    ("/admin/clients/{id}/require-mfa", "put"),
    ("/api/account/totp/", "post"),
    ("/api/account/totp/", "delete"),
    ("/api/account/totp/confirm/", "post"),
    ("/api/token/", "post"),
    ("/api/token/blacklist/", "post"),
    ("/api/token/mfa/", "post"),
    ("/api/token/refresh/", "post"),
    ("/api/token/verify/", "post"),
    ("/healthz", "get"),
    ("/introspect", "post"),
    ("/readyz", "get"),
    ("/revoke", "post"),
    ("/token", "post"),
    ("/userinfo", "get"),
    ("/userinfo", "post"),
];

async fn document(app: &TestApp) -> Value {
    let resp = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    resp.json().await.expect("the document is JSON")
}

/// A tool of the verifiers' virtualenv, beside its Python.
fn tool(python: &Path, name: &str) -> PathBuf {
    python.parent().expect("venv bin").join(name)
}

async fn the_document_is_openapi_3_1_and_describes_every_json_endpoint(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], app.address.as_str());
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(documented, expected);
    // Every documented operation is routed, templated ones too (on a made-up id, without a
    // token, the admin guard answers before any lookup): its method on its path is neither a
    // 404 nor a 405, and never a server error.
    for (path, method) in OPERATIONS {
        let url = app.url(
            &path
                .replace("{id}", "nobody")
                .replace("{username}", "nobody"),
        );
        let resp = app
            .http
            .request(method.to_uppercase().parse().unwrap(), url)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        assert!(
            ![404, 405].contains(&status) && status < 500,
            "{method} {path}: {status}"
        );
    }

    let Some(python) = python() else {
        return;
    };
    let file = app.storage.dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = tokio::process::Command::new(tool(&python, "openapi-spec-validator"))
        .arg(&file)
        .output()
        .await
        .expect("openapi-spec-validator runs");
    assert!(
        out.status.success(),
        "the document is not valid OpenAPI:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs schemathesis against `app` with `extra` arguments; panics with its report on a
/// failure.
async fn schemathesis(app: &TestApp, python: &Path, token: &str, backend: Backend, extra: &[&str]) {
    // Each backend gets its own seed, so the two runs fuzz with different requests: ten
    // examples per operation on each make twenty distinct ones, at half the time of twenty
    // identical ones on both.
    let seed = match backend {
        Backend::Sqlite => "1",
        Backend::Postgres => "2",
    };
    let report = app.storage.dir.path().join("schemathesis");
    let out = tokio::process::Command::new(tool(python, "schemathesis"))
        .args(["run", &app.url("/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        // A bounded run, the same every time: CI must not turn red by chance. One worker:
        // with two threads, hypothesis's ast.parse hit a CPython 3.11 race once ("AST
        // constructor recursion depth mismatch"), an error of the tool, not of the server.
        .args(["--max-examples", "10", "--seed", seed, "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(extra)
        .env("SCHEMATHESIS_REPORT_DIR", &report)
        .env("NO_COLOR", "1")
        .current_dir(app.storage.dir.path())
        .output()
        .await
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found answers outside the document:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" passed"), "{stdout}");
}

async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(python) = python() else {
        return;
    };
    let token = app.admin_token().await;
    // Tokens and clients for the generated requests to run into.
    app.add_user("alice", "correct horse battery staple", false)
        .await;
    // Every operation but key rotation and revocation, which could revoke the key of the
    // admin token the others use; then those on their own.
    let (rotate, revoke) = ("/admin/keys/rotate", "/admin/keys/{kid}/revoke");
    schemathesis(
        &app,
        &python,
        &token,
        backend,
        &["--exclude-path", rotate, "--exclude-path", revoke],
    )
    .await;
    schemathesis(
        &app,
        &python,
        &token,
        backend,
        &["--include-path", rotate, "--include-path", revoke],
    )
    .await;
    // And the server is still whole: it answers, and the admin still exists.
    let resp = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    assert!(app.state.accounts.find_user("root").await.is_ok());
}

/// Answers as the conformance script reads them: one JSON line each.
#[derive(Default)]
struct Answers(Vec<Value>);

impl Answers {
    /// Sends `request`, records its answer under the document's `template`, returns the body.
    async fn record(&mut self, method: &str, template: &str, request: RequestBuilder) -> Value {
        let resp = request.send().await.expect("request");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("{method} {template} -> {status}: not JSON: {bytes:?}"))
        };
        self.0
            .push(json!({ "method": method, "path": template, "status": status, "body": body }));
        body
    }
}

/// Every operation answered for real, successes and refusals, each checked against its
/// schema in the document: schemathesis seldom gets past authentication with generated
/// data, so the answers that matter most are made here.
async fn real_answers_of_every_operation_match_the_document(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(python) = python() else {
        return;
    };
    let admin = app.admin_token().await;
    let password = "correct horse battery staple";
    app.add_user("alice", password, false).await;
    let secret = app
        .add_client(&[
            "app",
            "--grant",
            "password",
            "--grant",
            "refresh_token",
            "--grant",
            "client_credentials",
            "--scope",
            "openid",
            "--scope",
            "profile",
            "--scope",
            "email",
        ])
        .await
        .expect("app is confidential");
    let http = &app.http;
    let url = |p: &str| app.url(p);
    let post = |p: &str| http.post(url(p));
    let get = |p: &str| http.get(url(p));
    let admin_req = |m: Method, p: &str| http.request(m, url(p)).bearer_auth(&admin);
    let mut a = Answers::default();

    // simplejwt
    let pair = a
        .record(
            "post",
            "/api/token/",
            post("/api/token/").json(&json!({"username": "alice", "password": password})),
        )
        .await;
    a.record(
        "post",
        "/api/token/",
        post("/api/token/").json(&json!({"username": "alice"})),
    )
    .await;
    a.record(
        "post",
        "/api/token/",
        post("/api/token/").json(&json!({"username": "alice", "password": "wrong"})),
    )
    .await;
    a.record(
        "post",
        "/api/token/",
        post("/api/token/")
            .header("content-type", "application/json")
            .body("{"),
    )
    .await;
    a.record(
        "post",
        "/api/token/verify/",
        post("/api/token/verify/").json(&json!({"token": pair["access"]})),
    )
    .await;
    a.record(
        "post",
        "/api/token/verify/",
        post("/api/token/verify/").json(&json!({"token": "x.y.z"})),
    )
    .await;
    let next = a
        .record(
            "post",
            "/api/token/refresh/",
            post("/api/token/refresh/").json(&json!({"refresh": pair["refresh"]})),
        )
        .await;
    a.record(
        "post",
        "/api/token/refresh/",
        post("/api/token/refresh/").json(&json!({"refresh": "nope"})),
    )
    .await;
    a.record(
        "post",
        "/api/token/blacklist/",
        post("/api/token/blacklist/").json(&json!({"refresh": next["refresh"]})),
    )
    .await;
    a.record(
        "post",
        "/api/token/blacklist/",
        post("/api/token/blacklist/").json(&json!({})),
    )
    .await;
    a.record(
        "post",
        "/api/token/mfa/",
        post("/api/token/mfa/").json(&json!({"mfa_token": "x", "code": "123456"})),
    )
    .await;
    a.record(
        "post",
        "/api/token/mfa/",
        post("/api/token/mfa/").json(&json!({})),
    )
    .await;

    // OAuth
    let form =
        |fields: &[(&str, &str)]| post("/token").basic_auth("app", Some(&secret)).form(fields);
    let tokens = a
        .record(
            "post",
            "/token",
            form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", password),
                ("scope", "openid profile email"),
            ]),
        )
        .await;
    let access = tokens["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    a.record(
        "post",
        "/token",
        form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]),
    )
    .await;
    a.record(
        "post",
        "/token",
        form(&[("grant_type", "client_credentials")]),
    )
    .await;
    a.record("post", "/token", form(&[("grant_type", "implicit")]))
        .await;
    a.record("post", "/token", form(&[])).await;
    a.record(
        "post",
        "/token",
        post("/token")
            .basic_auth("app", Some("wrong"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let introspect = |token: &str| {
        post("/introspect")
            .basic_auth("app", Some(&secret))
            .form(&[("token", token)])
    };
    a.record("post", "/introspect", introspect(&access)).await;
    a.record("post", "/introspect", introspect("garbage")).await;
    a.record("get", "/userinfo", get("/userinfo").bearer_auth(&access))
        .await;
    a.record("get", "/userinfo", get("/userinfo")).await;
    a.record(
        "post",
        "/userinfo",
        post("/userinfo").form(&[("access_token", access.as_str())]),
    )
    .await;
    // A user's token is not an admin's (before /revoke ends it).
    a.record(
        "get",
        "/admin/keys",
        get("/admin/keys").bearer_auth(&access),
    )
    .await;
    a.record(
        "post",
        "/revoke",
        post("/revoke")
            .basic_auth("app", Some(&secret))
            .form(&[("token", access.as_str())]),
    )
    .await;
    a.record(
        "post",
        "/revoke",
        post("/revoke")
            .basic_auth("app", Some(&secret))
            .form(&[("nothing", "")]),
    )
    .await;

    // Discovery, keys, health
    a.record(
        "get",
        "/.well-known/openid-configuration",
        get("/.well-known/openid-configuration"),
    )
    .await;
    a.record(
        "get",
        "/.well-known/jwks.json",
        get("/.well-known/jwks.json"),
    )
    .await;
    a.record("get", "/healthz", get("/healthz")).await;
    a.record("get", "/readyz", get("/readyz")).await;

    // Admin
    let keys = a
        .record("get", "/admin/keys", admin_req(Method::GET, "/admin/keys"))
        .await;
    let standby = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "standby")
        .expect("a standby key")["kid"]
        .as_str()
        .unwrap()
        .to_string();
    a.record("get", "/admin/keys", get("/admin/keys")).await;
    a.record(
        "post",
        "/admin/keys/rotate",
        admin_req(Method::POST, "/admin/keys/rotate").json(&json!({})),
    )
    .await;
    a.record(
        "post",
        "/admin/keys/rotate",
        admin_req(Method::POST, "/admin/keys/rotate").json(&json!({"emergency": "yes"})),
    )
    .await;
    // The key that was standby (next since the rotation): revoked, then refused as such; an
    // unknown kid; no reason.
    let revoke = |kid: &str| admin_req(Method::POST, &format!("/admin/keys/{kid}/revoke"));
    for (kid, body) in [
        (standby.as_str(), json!({"reason": "a test"})),
        (standby.as_str(), json!({"reason": "a test"})),
        ("no-such-kid", json!({"reason": "a test"})),
        (standby.as_str(), json!({"reason": ""})),
    ] {
        a.record("post", "/admin/keys/{kid}/revoke", revoke(kid).json(&body))
            .await;
    }
    a.record(
        "get",
        "/admin/users",
        admin_req(Method::GET, "/admin/users"),
    )
    .await;
    let new_user = json!({"username": "bob", "password": password, "email": "bob@example.com"});
    a.record(
        "post",
        "/admin/users",
        admin_req(Method::POST, "/admin/users").json(&new_user),
    )
    .await;
    a.record(
        "post",
        "/admin/users",
        admin_req(Method::POST, "/admin/users").json(&new_user),
    )
    .await;
    a.record(
        "get",
        "/admin/users/{username}",
        admin_req(Method::GET, "/admin/users/bob"),
    )
    .await;
    a.record(
        "get",
        "/admin/users/{username}",
        admin_req(Method::GET, "/admin/users/nobody"),
    )
    .await;
    a.record(
        "post",
        "/admin/users/{username}/reset-link",
        admin_req(Method::POST, "/admin/users/bob/reset-link").json(&json!({ "ttl": "1h" })),
    )
    .await;
    a.record(
        "post",
        "/admin/users/{username}/reset-link",
        admin_req(Method::POST, "/admin/users/nobody/reset-link"),
    )
    .await;
    for (name, body) in [
        ("bob", json!({"email": "bob@example.org"})),
        ("bob", json!({"email": "bob@example.net", "verified": true})),
        ("bob", json!({"email": "not an address"})),
        ("nobody", json!({"email": null})),
    ] {
        a.record(
            "put",
            "/admin/users/{username}/email",
            admin_req(Method::PUT, &format!("/admin/users/{name}/email")).json(&body),
        )
        .await;
    }
    // Verified already (and no mail configured): refused; an unknown user.
    for name in ["bob", "nobody"] {
        a.record(
            "post",
            "/admin/users/{username}/email/verification",
            admin_req(
                Method::POST,
                &format!("/admin/users/{name}/email/verification"),
            ),
        )
        .await;
    }
    a.record(
        "post",
        "/admin/users/{username}/disable",
        admin_req(Method::POST, "/admin/users/bob/disable"),
    )
    .await;
    a.record(
        "post",
        "/admin/users/{username}/enable",
        admin_req(Method::POST, "/admin/users/bob/enable"),
    )
    .await;
    a.record(
        "post",
        "/admin/users/{username}/disable",
        admin_req(Method::POST, "/admin/users/root/disable"),
    )
    .await;
    a.record(
        "delete",
        "/admin/users/{username}",
        admin_req(Method::DELETE, "/admin/users/bob"),
    )
    .await;
    a.record(
        "delete",
        "/admin/users/{username}",
        admin_req(Method::DELETE, "/admin/users/bob"),
    )
    .await;
    a.record(
        "get",
        "/admin/clients",
        admin_req(Method::GET, "/admin/clients"),
    )
    .await;
    let new_client =
        json!({"client_id": "svc", "grants": ["client_credentials"], "scopes": ["openid"]});
    a.record(
        "post",
        "/admin/clients",
        admin_req(Method::POST, "/admin/clients").json(&new_client),
    )
    .await;
    a.record(
        "post",
        "/admin/clients",
        admin_req(Method::POST, "/admin/clients").json(&new_client),
    )
    .await;
    let spa = json!({"client_id": "spa", "public": true, "redirect_uris": ["https://spa.example/cb"], "grants": ["authorization_code"], "scopes": ["openid"]});
    a.record(
        "post",
        "/admin/clients",
        admin_req(Method::POST, "/admin/clients").json(&spa),
    )
    .await;
    a.record(
        "get",
        "/admin/clients/{id}",
        admin_req(Method::GET, "/admin/clients/svc"),
    )
    .await;
    a.record(
        "get",
        "/admin/clients/{id}",
        admin_req(Method::GET, "/admin/clients/nobody"),
    )
    .await;
    a.record(
        "post",
        "/admin/clients/{id}/disable",
        admin_req(Method::POST, "/admin/clients/svc/disable"),
    )
    .await;
    a.record(
        "post",
        "/admin/clients/{id}/enable",
        admin_req(Method::POST, "/admin/clients/svc/enable"),
    )
    .await;
    a.record(
        "post",
        "/admin/clients/{id}/rotate-secret",
        admin_req(Method::POST, "/admin/clients/svc/rotate-secret"),
    )
    .await;
    a.record(
        "delete",
        "/admin/clients/{id}",
        admin_req(Method::DELETE, "/admin/clients/svc"),
    )
    .await;
    a.record(
        "get",
        "/admin/audit",
        admin_req(Method::GET, "/admin/audit?limit=2"),
    )
    .await;
    a.record(
        "get",
        "/admin/audit",
        admin_req(Method::GET, "/admin/audit?limit=zero"),
    )
    .await;

    let statuses: BTreeSet<u64> = a.0.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(
        statuses,
        BTreeSet::from([200, 201, 204, 400, 401, 403, 404, 409]),
        "the answers cover successes and each kind of refusal"
    );
    let documented = app.storage.dir.path().join("openapi.json");
    std::fs::write(
        &documented,
        serde_json::to_vec(&document(&app).await).unwrap(),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(&python)
        .arg(script("openapi_conformance.py"))
        .arg(&documented)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let lines: String = a.0.iter().map(|r| format!("{r}\n")).collect();
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(lines.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.expect("python finishes");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "answers outside the document:\n{report}"
    );
    assert!(
        report.contains(&format!("{} answers conform, 0 do not", a.0.len())),
        "{report}"
    );
}
