//! The request log never holds up a request: a `gatehouse serve` whose stderr is a pipe
//! nobody reads keeps answering at the default log level, and counts the lines it drops.
//! The request line keeps its content in both formats.

use std::process::Stdio;
use std::time::Duration;

use crate::both_backends;
use crate::helpers::{eventually, free_port, seed_storage, Backend, ServerProcess, Storage};

both_backends!(a_stderr_nobody_reads_holds_up_no_request_and_drops_are_counted);

/// More requests, each logging a line, than the pipe (64 KiB), the writer's buffer (64 KiB)
/// and the queue (4,096 lines) hold together.
const REQUESTS: usize = 8_000;

fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn a_stderr_nobody_reads_holds_up_no_request_and_drops_are_counted(backend: Backend) {
    let Some(storage) = Storage::migrated(backend) else {
        return;
    };
    seed_storage(&storage).await;
    // The port is chosen here: the start-up line that would name it is in the unread pipe.
    let address = format!("127.0.0.1:{}", free_port());
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .envs(storage.env())
        .env("GATEHOUSE_BIND", &address)
        .env("GATEHOUSE_WORKERS", "1")
        .env("GATEHOUSE_HASH_WORKERS", "1")
        // The default level: one line per request.
        .env_remove("GATEHOUSE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn gatehouse serve");
    // Held open and never read: once the pipe is full, a write to it blocks.
    let _unread = server.stderr.take();
    // A request the log held up would wait forever; the timeout makes that a failure.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = |path: &str| format!("http://{address}{path}");
    let ready = eventually(60, || async {
        let resp = http.get(url("/readyz")).send().await;
        resp.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(ready, "the server did not start");

    for i in 0..REQUESTS {
        let resp = http
            .get(url("/healthz"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i} got no answer: {e}"));
        assert_eq!(resp.status(), 200, "request {i}");
    }
    let metrics = http
        .get(url("/metrics"))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .unwrap();
    let dropped = sample(&metrics, "gatehouse_log_lines_dropped_total")
        .unwrap_or_else(|| panic!("no gatehouse_log_lines_dropped_total in:\n{metrics}"));
    assert!(
        dropped > 0.0,
        "{REQUESTS} lines cannot all have fit: {dropped} dropped"
    );
    assert!(
        dropped < REQUESTS as f64,
        "every line dropped: {dropped} (the queue holds none?)"
    );
}

/// `2026-12-07T19:15:00.123456Z`: RFC 3339, UTC, microseconds.
fn is_timestamp(t: &str) -> bool {
    let digits = |r: std::ops::Range<usize>| {
        t.get(r)
            .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
    };
    t.len() == 27
        && digits(0..4)
        && &t[4..5] == "-"
        && digits(5..7)
        && &t[7..8] == "-"
        && digits(8..10)
        && &t[10..11] == "T"
        && digits(11..13)
        && &t[13..14] == ":"
        && digits(14..16)
        && &t[16..17] == ":"
        && digits(17..19)
        && &t[19..20] == "."
        && digits(20..26)
        && &t[26..] == "Z"
}

/// A ready `gatehouse serve` on a seeded SQLite file logging in `format` under
/// `GATEHOUSE_LOG=filter`, with a client for it (keep the storage while the server runs).
async fn logging_server(format: &str, filter: &str) -> (Storage, ServerProcess, reqwest::Client) {
    let storage = Storage::migrated(Backend::Sqlite).expect("SQLite needs no server");
    seed_storage(&storage).await;
    let mut server = ServerProcess::spawn_with_env(
        &storage,
        "http://127.0.0.1",
        format,
        &[("GATEHOUSE_LOG", filter), ("GATEHOUSE_LOG_FORMAT", format)],
    );
    let http = reqwest::Client::new();
    assert!(server.ready(&http, 90).await, "{}", server.log_text());
    (storage, server, http)
}

/// A server at the default level in `format`; the log line of one `GET /healthz`, once the
/// writer thread has written it.
async fn request_line(format: &str) -> String {
    let (line, log) = request_line_under(format, "info", 10).await;
    line.unwrap_or_else(|| panic!("no request line:\n{log}"))
}

/// A server with `GATEHOUSE_LOG=filter` in `format`: the log line of one `GET /healthz` if
/// it appears within `secs`, and the whole log.
async fn request_line_under(format: &str, filter: &str, secs: u64) -> (Option<String>, String) {
    // The start-up line names the port.
    let filter = format!("{filter},gatehouse::startup=info");
    let (_storage, server, http) = logging_server(format, &filter).await;
    let resp = http
        .get(server.url("/healthz?probe=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let found = |log: String| log.lines().find(|l| l.contains(&id)).map(str::to_string);
    eventually(secs, || {
        let log = server.log_text();
        async move { found(log).is_some() }
    })
    .await;
    (found(server.log_text()), server.log_text())
}

/// The request line, written outside `tracing`'s event path, still obeys `GATEHOUSE_LOG`:
/// none at `warn`, one when the middleware's module alone is at `info`.
#[tokio::test]
async fn the_request_line_follows_the_log_filter() {
    for format in ["text", "json"] {
        let (line, log) = request_line_under(format, "warn", 2).await;
        assert_eq!(line, None, "{format} at warn:\n{log}");
        let (line, log) =
            request_line_under(format, "warn,gatehouse::http::middleware=info", 10).await;
        assert!(
            line.as_deref().is_some_and(|l| l.contains("served")),
            "{format}, the middleware at info:\n{log}"
        );
    }
}

#[tokio::test]
async fn the_request_line_keeps_its_text_format() {
    let line = request_line("text").await;
    let (timestamp, rest) = line.split_once(' ').expect("a timestamp first");
    assert!(is_timestamp(timestamp), "{line}");
    let rest = rest
        .strip_prefix(" INFO request{id=")
        .unwrap_or_else(|| panic!("level and span: {line}"));
    let (id, rest) = rest.split_once(' ').unwrap();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
    let rest = rest
        .strip_prefix(
            "client=127.0.0.1 method=GET path=/healthz}: gatehouse::http::middleware: \
             served status=200 ms=",
        )
        .unwrap_or_else(|| panic!("span fields, target, message: {line}"));
    assert!(rest.parse::<f64>().is_ok_and(|ms| ms >= 0.0), "{line}");
}

#[tokio::test]
async fn the_request_line_keeps_its_json_format() {
    let line = request_line("json").await;
    let value: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert!(
        value["timestamp"].as_str().is_some_and(is_timestamp),
        "{line}"
    );
    assert_eq!(value["level"], "INFO", "{line}");
    assert_eq!(value["target"], "gatehouse::http::middleware", "{line}");
    assert_eq!(value["fields"]["message"], "served", "{line}");
    assert_eq!(value["fields"]["status"], 200, "{line}");
    assert!(value["fields"]["ms"].as_f64().is_some(), "{line}");
    let span = &value["span"];
    assert_eq!(span["name"], "request", "{line}");
    assert_eq!(span["client"], "127.0.0.1", "{line}");
    assert_eq!(span["method"], "GET", "{line}");
    assert_eq!(span["path"], "/healthz", "{line}");
    assert_eq!(value["spans"], serde_json::json!([span]), "{line}");
}

/// A server at the default level in `format`: the lines of one refused `POST /api/token/`
/// (found by the request id it answered), once its "sign-in failed" line is written.
async fn lines_of_a_refused_sign_in(format: &str) -> Vec<String> {
    let (_storage, server, http) = logging_server(format, "info").await;
    let resp = http
        .post(server.url("/api/token/"))
        .json(&serde_json::json!({"username": "nobody", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let lines = |log: String| -> Vec<String> {
        log.lines()
            .filter(|l| l.contains(&id))
            .map(str::to_string)
            .collect()
    };
    eventually(10, || {
        let log = server.log_text();
        async move { lines(log).iter().any(|l| l.contains("sign-in failed")) }
    })
    .await;
    lines(server.log_text())
}

/// Not only the request line: a line logged by the code serving a request names the
/// request (its id, client, method and path) as the request line does.
#[tokio::test]
async fn a_line_logged_while_serving_names_its_request() {
    let lines = lines_of_a_refused_sign_in("text").await;
    let failed = lines
        .iter()
        .find(|l| l.contains("sign-in failed"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let (_, rest) = failed.split_once(" INFO request{id=").expect(failed);
    let (_, rest) = rest.split_once(' ').expect(failed);
    assert!(
        rest.starts_with(
            "client=127.0.0.1 method=POST path=/api/token/}: \
             gatehouse::accounts::login_guard: sign-in failed endpoint="
        ),
        "{failed}"
    );

    let lines = lines_of_a_refused_sign_in("json").await;
    let failed = lines
        .iter()
        .find(|l| l.contains("sign-in failed"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let value: serde_json::Value = serde_json::from_str(failed).expect(failed);
    assert_eq!(value["fields"]["message"], "sign-in failed", "{failed}");
    assert_eq!(
        value["target"], "gatehouse::accounts::login_guard",
        "{failed}"
    );
    let span = &value["span"];
    assert_eq!(
        (
            &span["name"],
            &span["method"],
            &span["path"],
            &span["client"]
        ),
        (
            &serde_json::json!("request"),
            &serde_json::json!("POST"),
            &serde_json::json!("/api/token/"),
            &serde_json::json!("127.0.0.1")
        ),
        "{failed}"
    );
    assert_eq!(value["spans"], serde_json::json!([span]), "{failed}");
}
