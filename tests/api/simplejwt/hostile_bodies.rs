//! Hostile request bodies at `/api/token/*`: each gets a clear 4xx in simplejwt's
//! `{detail, code}` shape (DRF field errors where DRF has them) and changes nothing stored.

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{status_json, Backend, TestApp};

use super::{app_with_alice, assert_still_refreshes, PASSWORD};

both_backends!(
    malformed_json_is_a_400_parse_error,
    one_megabyte_body_is_refused_with_413,
    blank_or_missing_fields_are_drf_field_errors,
    ten_kilobyte_username_is_refused_with_a_field_error,
    unsupported_content_type_is_refused_with_415,
);

const OBTAIN: &str = "/api/token/";
const REFRESH: &str = "/api/token/refresh/";
const VERIFY: &str = "/api/token/verify/";
const BLACKLIST: &str = "/api/token/blacklist/";

/// The fields an endpoint requires, as its DRF field errors name them.
fn required_fields(path: &str) -> &'static [&'static str] {
    match path {
        OBTAIN => &["username", "password"],
        VERIFY => &["token"],
        _ => &["refresh"],
    }
}

/// POSTs `body` as JSON to `path`; the refusal must be a 400 that does not echo the body.
async fn post_raw_json(app: &TestApp, path: &str, body: &[u8]) -> Value {
    let resp = app
        .http
        .post(app.url(path))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("request");
    let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
    let (status, answer) = status_json(resp).await;
    assert_eq!(status, 400, "{path} {shown:?}: {answer}");
    let detail = answer["detail"].as_str().unwrap_or_default();
    assert!(!detail.is_empty(), "{path} {shown:?}: {answer}");
    assert!(
        !detail.contains("hunter2"),
        "the error must not echo the body: {answer}"
    );
    answer
}

async fn malformed_json_is_a_400_parse_error(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    // Each body, with the endpoints to which it is a JSON object that merely lacks their
    // fields (unknown fields are ignored): those answer `invalid` with DRF's "This field is
    // required." per missing field. To every other endpoint the body is not its JSON
    // object (not JSON, not an object, a field of the wrong type, nested too deep):
    // `parse_error`.
    let cases: Vec<(Vec<u8>, Vec<&str>)> = vec![
        (
            br#"{"username": "alice", "password": "hunter2-SECRET""#.to_vec(),
            vec![],
        ),
        (b"not json".to_vec(), vec![]),
        (b"".to_vec(), vec![]),
        (b"null".to_vec(), vec![]),
        (b"[]".to_vec(), vec![]),
        (b"[1, 2, 3]".to_vec(), vec![]),
        (br#""alice""#.to_vec(), vec![]),
        (
            br#"{"username": 5, "password": "x"}"#.to_vec(),
            vec![REFRESH, VERIFY, BLACKLIST],
        ),
        (
            br#"{"username": ["alice"], "password": "x"}"#.to_vec(),
            vec![REFRESH, VERIFY, BLACKLIST],
        ),
        (
            br#"{"refresh": {"nested": true}, "token": 1.5}"#.to_vec(),
            vec![OBTAIN],
        ),
        // Not UTF-8, so not JSON (RFC 8259 §8.1), whichever field holds the bytes.
        (
            b"{\"username\": \"\xff\xfe\", \"password\": \"x\"}".to_vec(),
            vec![],
        ),
        (deep.into_bytes(), vec![]),
    ];
    let required = json!(["This field is required."]);
    for (body, lacking_fields) in &cases {
        for path in [OBTAIN, REFRESH, VERIFY, BLACKLIST] {
            let answer = post_raw_json(&app, path, body).await;
            if lacking_fields.contains(&path) {
                assert_eq!(answer["code"], "invalid", "{path}: {answer}");
                for field in required_fields(path) {
                    assert_eq!(answer[field], required, "{path}: {answer}");
                }
            } else {
                assert_eq!(answer["code"], "parse_error", "{path}: {answer}");
            }
        }
    }
    assert_still_refreshes(&app, &refresh).await;
}

async fn one_megabyte_body_is_refused_with_413(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    let big_json = format!(
        r#"{{"username": "alice", "password": "{PASSWORD}", "padding": "{}"}}"#,
        "x".repeat(1 << 20)
    );
    let big_form = format!("username=alice&password=x&padding={}", "x".repeat(1 << 20));
    for path in [
        "/api/token/",
        "/api/token/refresh/",
        "/api/token/verify/",
        "/api/token/blacklist/",
    ] {
        for (content_type, body) in [
            ("application/json", &big_json),
            ("application/x-www-form-urlencoded", &big_form),
        ] {
            let resp = app
                .http
                .post(app.url(path))
                .header(CONTENT_TYPE, content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path} {content_type}: no answer to a 1 MB body: {e}"));
            let (status, answer) = status_json(resp).await;
            assert_eq!(status, 413, "{path} {content_type}: {answer}");
            assert_eq!(answer["code"], "parse_error", "{answer}");
            assert!(answer["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }
    assert_still_refreshes(&app, &refresh).await;
}

async fn blank_or_missing_fields_are_drf_field_errors(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    let blank = json!(["This field may not be blank."]);
    let required = json!(["This field is required."]);

    let cases = [
        (
            "/api/token/",
            json!({ "username": "", "password": PASSWORD }),
            vec![("username", &blank)],
        ),
        (
            "/api/token/",
            json!({ "username": "   ", "password": PASSWORD }),
            vec![("username", &blank)],
        ),
        (
            "/api/token/",
            json!({}),
            vec![("username", &required), ("password", &required)],
        ),
        (
            "/api/token/",
            json!({ "username": "alice" }),
            vec![("password", &required)],
        ),
        (
            "/api/token/",
            json!({ "username": null, "password": PASSWORD }),
            vec![("username", &required)],
        ),
        (
            "/api/token/refresh/",
            json!({}),
            vec![("refresh", &required)],
        ),
        (
            "/api/token/refresh/",
            json!({ "refresh": "" }),
            vec![("refresh", &blank)],
        ),
        ("/api/token/verify/", json!({}), vec![("token", &required)]),
        (
            "/api/token/verify/",
            json!({ "token": "" }),
            vec![("token", &blank)],
        ),
        (
            "/api/token/blacklist/",
            json!({}),
            vec![("refresh", &required)],
        ),
    ];
    for (path, body, fields) in cases {
        let (status, answer) = status_json(app.post_json(path, body.clone()).await).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(answer["code"], "invalid", "{path} {body}: {answer}");
        assert!(answer["detail"].is_string(), "{answer}");
        for (field, message) in fields {
            assert_eq!(&answer[field], message, "{path} {body}: {answer}");
        }
    }
    // The same from a form body.
    let (status, answer) = status_json(
        app.post_form("/api/token/", &[("username", ""), ("password", "")])
            .await,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["username"], blank);
    assert_eq!(answer["password"], blank);
    assert_still_refreshes(&app, &refresh).await;
}

async fn ten_kilobyte_username_is_refused_with_a_field_error(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    for username in ["a".repeat(10 * 1024), "é".repeat(5 * 1024)] {
        let (status, answer) = status_json(
            app.post_json(
                "/api/token/",
                json!({ "username": username, "password": PASSWORD }),
            )
            .await,
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["code"], "invalid", "{answer}");
        assert!(
            answer["username"][0]
                .as_str()
                .is_some_and(|m| m.contains("150")),
            "{answer}"
        );
        let (status, answer) = status_json(
            app.post_form(
                "/api/token/",
                &[("username", &username), ("password", PASSWORD)],
            )
            .await,
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["username"].is_array(), "{answer}");
    }
    // A 10 KB password is refused before any hashing, as a field error too.
    let (status, answer) = status_json(
        app.post_json(
            "/api/token/",
            json!({ "username": "alice", "password": "p".repeat(10 * 1024) }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["password"].is_array(), "{answer}");
    assert_still_refreshes(&app, &refresh).await;
}

async fn unsupported_content_type_is_refused_with_415(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    let body = json!({ "username": "alice", "password": PASSWORD }).to_string();
    for content_type in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=xyz",
        "application/octet-stream",
        "nonsense",
    ] {
        for path in ["/api/token/", "/api/token/refresh/", "/api/token/verify/"] {
            let resp = app
                .http
                .post(app.url(path))
                .header(CONTENT_TYPE, content_type)
                .body(body.clone())
                .send()
                .await
                .expect("request");
            let (status, answer) = status_json(resp).await;
            assert_eq!(status, 415, "{path} {content_type}: {answer}");
            assert_eq!(answer["code"], "parse_error", "{answer}");
            assert!(
                answer["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("application/json")),
                "the error should name what is accepted: {answer}"
            );
        }
    }
    // A JSON media type with parameters is fine.
    let resp = app
        .http
        .post(app.url("/api/token/"))
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    assert_still_refreshes(&app, &refresh).await;
}
