//! The request log never holds up a request: a `gatehouse serve` whose stderr is a pipe
//! nobody reads keeps answering at the default log level, and counts the lines it drops.

use std::process::Stdio;
use std::time::Duration;

use crate::both_backends;
use crate::helpers::{eventually, free_port, seed_storage, Backend, Storage};

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
