//! Logging: text or JSON lines via `tracing` on stderr, filtered by `GATEHOUSE_LOG`. The
//! request middleware (`http::middleware`) adds each request's id and client address.
//!
//! A line never waits for stderr: the thread that logs hands it to a bounded queue and one
//! background thread writes it out. When stderr is slower than the logging (a pipe nobody
//! reads, a paused terminal, a stalled log collector) and the queue is full, the line is
//! dropped and counted (`gatehouse_log_lines_dropped_total` in `/metrics`) rather than a
//! request held up.

use std::sync::OnceLock;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

use crate::config::LogFormat;

/// Lines held while stderr lags: about a megabyte of text. tracing-appender's default
/// (128,000 lines) would let a stalled stderr hold tens of megabytes.
const QUEUED_LINES: usize = 4096;

static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// `filter` is an `EnvFilter` directive (`info`, `off`, `warn,gatehouse=debug`); the
/// command line picks it (`cli::log_filter`: `GATEHOUSE_LOG`, else by command and `-v`).
/// Keep the guard until the process ends: dropping it writes out the lines still queued.
pub fn init(format: LogFormat, filter: &str) -> WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into a file or a log collector.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("gatehouse-log")
        // Buffered: the writer thread flushes whenever it has written every queued line, so
        // a quiet server's lines appear at once and a busy one's go out many per write.
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let _ = DROPPED.set(writer.error_counter());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    guard
}

/// Log lines dropped so far because stderr could not keep up (0 before `init`).
pub fn dropped_lines() -> u64 {
    DROPPED.get().map_or(0, |c| c.dropped_lines() as u64)
}
