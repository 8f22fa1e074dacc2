//! Logging: text or JSON lines via `tracing` on stderr, filtered by `GATEHOUSE_LOG`. Lines
//! written while serving a request name it (id, client address, method, path) as a
//! `request` span would; `request` keeps that scope and writes the one line per request.
//!
//! A line never waits for stderr: the thread that logs hands it to a bounded queue and one
//! background thread writes it out. When stderr is slower than the logging (a pipe nobody
//! reads, a paused terminal, a stalled log collector) and the queue is full, the line is
//! dropped and counted (`gatehouse_log_lines_dropped_total` in `/metrics`) rather than a
//! request held up.
//!
//! The writer thread is woken by the first line after it has gone idle, and then pauses
//! [`BUSY_PAUSE`] between rounds for as long as lines keep coming, so a busy server does not
//! wake it (a system call and two thread switches on the worker's core) for every line, and
//! writes many lines per `write`.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::OnceLock;
use std::time::Duration;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

mod request;

pub use request::request_line;
use request::{JsonLines, TextLines};

/// Lines held while stderr lags: about a megabyte of text. At 100,000 lines a second the
/// queue holds 40 ms of them, several times [`BUSY_PAUSE`].
const QUEUED_LINES: usize = 4096;

/// How long the writer thread waits for more lines after a round that found some: the most
/// a line of a busy server waits before it is written.
const BUSY_PAUSE: Duration = Duration::from_millis(5);

/// How long the end of the process waits for the queued lines to be written.
const FINAL_FLUSH: Duration = Duration::from_secs(1);

static DROPPED: AtomicU64 = AtomicU64::new(0);

enum Message {
    Line(Vec<u8>),
    /// Write out what is queued, say so, and stop.
    Finish(SyncSender<()>),
}

/// The writer the `tracing` formatter writes each finished line to: it queues the line.
#[derive(Clone)]
pub struct QueuedLines {
    queue: SyncSender<Message>,
}

impl QueuedLines {
    /// Queues one whole line, or counts it as dropped when the queue is full.
    fn push(&self, line: Vec<u8>) {
        match self.queue.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Write for QueuedLines {
    /// Takes one formatted line (the formatter writes each in one call).
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.push(line.to_vec());
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for QueuedLines {
    type Writer = QueuedLines;

    fn make_writer(&'a self) -> QueuedLines {
        self.clone()
    }
}

/// Keep it until the process ends: dropping it writes out the lines still queued (for at
/// most [`FINAL_FLUSH`]).
pub struct LogGuard {
    queue: SyncSender<Message>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let (done, finished) = mpsc::sync_channel(1);
        let deadline = std::time::Instant::now() + FINAL_FLUSH;
        let mut message = Message::Finish(done);
        // The queue may be full while stderr lags: retry until the deadline, never block.
        loop {
            match self.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if std::time::Instant::now() < deadline => {
                    message = m;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => return,
            }
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let _ = finished.recv_timeout(left);
    }
}

/// The queue and its writer thread, writing to `out`.
pub fn queued_writer<W: Write + Send + 'static>(out: W) -> (QueuedLines, LogGuard) {
    let (queue, lines) = mpsc::sync_channel(QUEUED_LINES);
    let spawned = std::thread::Builder::new()
        .name("gatehouse-log".into())
        .spawn(move || write_lines(lines, out));
    if spawned.is_err() {
        // No thread, no log: every line is counted as dropped rather than lost unseen.
        eprintln!("cannot start the log writer thread; log lines will be dropped");
    }
    (
        QueuedLines {
            queue: queue.clone(),
        },
        LogGuard { queue },
    )
}

/// The writer thread: waits for a line, then writes rounds of queued lines, pausing between
/// them while lines keep coming; flushes after every round, so a quiet server's lines
/// appear at once.
fn write_lines<W: Write>(lines: Receiver<Message>, out: W) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    // A write error (stderr closed) loses the line; there is nowhere to report it.
    while let Ok(first) = lines.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => {
                    let _ = out.write_all(&line);
                }
                Message::Finish(done) => {
                    let _ = out.flush();
                    let _ = done.send(());
                    return;
                }
            }
            next = lines.try_recv().ok();
            if next.is_none() {
                let _ = out.flush();
                // The lines of the next moment go in one round, without waking this thread
                // for each; an empty queue after the pause means the server has gone quiet.
                std::thread::sleep(BUSY_PAUSE);
                next = lines.try_recv().ok();
            }
        }
    }
    let _ = out.flush();
}

/// The timestamp `tracing` writes by default (RFC 3339, UTC, microseconds:
/// `2026-12-07T19:15:00.123456Z`), with the date and time up to the second formatted once per
/// second and thread instead of for every line.
struct SecondCachedTime;

/// "2026-12-07T19:15:00." and the second it stands for.
struct CachedSecond {
    second: u64,
    prefix: String,
}

thread_local! {
    static CACHED_SECOND: std::cell::RefCell<Option<CachedSecond>> =
        const { std::cell::RefCell::new(None) };
}

impl FormatTime for SecondCachedTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) else {
            return SystemTime.format_time(w);
        };
        let (second, micros) = (now.as_secs(), now.subsec_micros());
        CACHED_SECOND.with(|cached| {
            let mut cached = cached.borrow_mut();
            if cached.as_ref().is_none_or(|c| c.second != second) {
                *cached = cached_second(second);
            }
            match cached.as_ref() {
                Some(c) => write!(w, "{}{micros:06}Z", c.prefix),
                None => SystemTime.format_time(w),
            }
        })
    }
}

/// The prefix for `second`, from `tracing`'s own formatter; none if the clock passed into
/// another second meanwhile (the next line tries again).
fn cached_second(second: u64) -> Option<CachedSecond> {
    let mut full = String::with_capacity(32);
    SystemTime.format_time(&mut Writer::new(&mut full)).ok()?;
    // "…:SS.uuuuuuZ": the prefix ends after the dot; its seconds must be `second`'s.
    let prefix = full.get(..full.len().checked_sub(7)?)?;
    let seconds_field: u64 = prefix
        .get(prefix.len() - 3..prefix.len() - 1)?
        .parse()
        .ok()?;
    (seconds_field == second % 60 && prefix.ends_with('.')).then(|| CachedSecond {
        second,
        prefix: prefix.to_string(),
    })
}

/// `filter` is an `EnvFilter` directive (`info`, `off`, `warn,gatehouse=debug`); the
/// command line picks it (`cli::log_filter`: `GATEHOUSE_LOG`, else by command and `-v`).
/// Keep the guard until the process ends: dropping it writes out the lines still queued.
pub fn init(format: LogFormat, filter: &str) -> LogGuard {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into a file or a log collector.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = queued_writer(std::io::stderr());
    // Colours come only through `tracing`'s own formatter.
    if format == LogFormat::Json || !ansi {
        let _ = REQUEST_LINES.set(RequestLines {
            queue: writer.clone(),
            format,
        });
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder.json().event_format(JsonLines::new()).try_init(),
        LogFormat::Text => builder.event_format(TextLines::new()).try_init(),
    };
    guard
}

/// Where the request lines go without `tracing`'s event machinery.
struct RequestLines {
    queue: QueuedLines,
    format: LogFormat,
}

static REQUEST_LINES: OnceLock<RequestLines> = OnceLock::new();

/// Log lines dropped so far because stderr could not keep up.
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// An output that records what reaches it and how many writes it took; `stalled` holds
    /// every write until it is opened.
    #[derive(Clone, Default)]
    pub(crate) struct Recorder {
        pub(crate) bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<AtomicU64>,
        stalled: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            while self.stalled.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_come_out_whole_in_order_in_few_writes_and_all_by_the_guards_drop() {
        let out = Recorder::default();
        let (writer, guard) = queued_writer(out.clone());
        let lines: Vec<String> = (0..3000).map(|i| format!("line {i}\n")).collect();
        for line in &lines {
            writer.make_writer().write_all(line.as_bytes()).unwrap();
        }
        drop(guard);
        assert_eq!(
            String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap(),
            lines.concat()
        );
        let writes = out.writes.load(Ordering::SeqCst);
        assert!(
            writes < 100,
            "{writes} writes for 3,000 lines queued at once"
        );
    }

    #[test]
    fn the_cached_timestamp_reads_as_tracings_own() {
        let format = |timer: &dyn FormatTime| {
            let mut s = String::new();
            timer.format_time(&mut Writer::new(&mut s)).unwrap();
            s
        };
        // Between tracing's timestamps just before and just after (same width, so the text
        // orders as the time), across many seconds' changes of the cache.
        for _ in 0..3000 {
            let before = format(&SystemTime);
            let ours = format(&SecondCachedTime);
            let after = format(&SystemTime);
            assert_eq!(ours.len(), before.len(), "{ours} against {before}");
            assert!(
                before <= ours && ours <= after,
                "{before} / {ours} / {after}"
            );
            std::thread::sleep(Duration::from_micros(700));
        }
    }

    #[test]
    fn a_quiet_servers_line_is_written_at_once() {
        let out = Recorder::default();
        let (writer, _guard) = queued_writer(out.clone());
        writer.make_writer().write_all(b"alone\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while out.bytes.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(*out.bytes.lock().unwrap(), b"alone\n");
    }

    #[test]
    fn lines_beyond_a_stalled_queue_are_dropped_and_counted_never_waited_for() {
        let out = Recorder::default();
        out.stalled.store(true, Ordering::SeqCst);
        let (writer, guard) = queued_writer(out.clone());
        let before = dropped_lines();
        let started = std::time::Instant::now();
        // Lines of 1,000 bytes: the writer's 64 KiB buffer takes 65 of them before it
        // writes to (and stalls on) the output.
        let lines = 2 * QUEUED_LINES;
        let line = format!("{}\n", "x".repeat(999));
        for _ in 0..lines {
            writer.make_writer().write_all(line.as_bytes()).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the logging thread waited"
        );
        // Other tests' lines may be dropped meanwhile too; ours are at least the excess.
        let dropped = dropped_lines() - before;
        assert!(
            dropped >= (lines - QUEUED_LINES - 70) as u64 && dropped < lines as u64,
            "{dropped} of {lines} dropped with a queue of {QUEUED_LINES}"
        );
        out.stalled.store(false, Ordering::SeqCst);
        drop(guard);
    }
}
