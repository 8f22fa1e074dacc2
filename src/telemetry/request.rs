//! The request being served, as every log line written while serving it names it: the
//! `request{id=… client=… method=… path=…}` span of `tracing`'s formats, written from a
//! task-local instead of a `tracing` span, and the one line per request.
//!
//! A real span cost the JWKS endpoint about a sixth of its rate at the default log level
//! (creating it formats its fields and takes a slot in the registry; entering and leaving it
//! on every poll goes through the filter), for lines that almost no request writes. Here a
//! request costs one shared allocation, and only a line that is written reads it. The lines
//! are byte for byte what `tracing` writes inside the span (the tests below compare them).
//!
//! The scope itself (`crate::request_scope`) follows the request's task and the
//! blocking-pool closures that work for it.

use std::fmt;
use std::io::Write as _;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Json, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::{SecondCachedTime, REQUEST_LINES};
use crate::config::LogFormat;
use crate::request_scope::{with_current, RequestScope};

/// The target the request line names: the middleware's module, as when `tracing` logs it.
const REQUEST_TARGET: &str = "gatehouse::http::middleware";

impl RequestScope {
    /// `request{id=… client=… method=… path=…}:` (bold and dimmed at a terminal).
    fn write_text_span(&self, w: &mut impl fmt::Write, ansi: bool) -> fmt::Result {
        let (bold, dim, reset) = if ansi {
            ("\x1b[1m", "\x1b[2m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        write!(
            w,
            "{bold}request{reset}{bold}{{{reset}id={} client={} method={} path={}{bold}}}{reset}{dim}:{reset}",
            self.id, self.client, self.method, self.path
        )
    }

    /// The span as `tracing`'s JSON has it: its fields in name order, then its name.
    fn write_json_span(&self, out: &mut Vec<u8>) {
        let mut string = |key: &[u8], value: &str| {
            out.extend_from_slice(key);
            // Writes to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, value);
        };
        string(b"{\"client\":", &self.client);
        string(b",\"id\":", &self.id);
        string(b",\"method\":", &self.method);
        string(b",\"path\":", &self.path);
        out.extend_from_slice(b",\"name\":\"request\"}");
    }
}

/// Queues the request line, formatted here, in the very text `tracing` gives the
/// middleware's `info!(status, ms, "served")` in the request's scope, without that event's
/// work on the worker (field visitor, styling, a copy). False when the caller must log it
/// through `tracing` instead: before `init`, or in colour at a terminal. The caller checks
/// that INFO is enabled for its module.
pub fn request_line(scope: &RequestScope, status: u16, ms: f64) -> bool {
    let Some(lines) = REQUEST_LINES.get() else {
        return false;
    };
    let mut timestamp = String::with_capacity(32);
    if SecondCachedTime
        .format_time(&mut Writer::new(&mut timestamp))
        .is_err()
    {
        return false;
    }
    let mut out = Vec::with_capacity(320);
    write_request_line(&mut out, lines.format, &timestamp, scope, status, ms);
    lines.queue.push(out);
    true
}

/// The line as `tracing`'s text or JSON formatter writes it.
fn write_request_line(
    out: &mut Vec<u8>,
    format: LogFormat,
    timestamp: &str,
    scope: &RequestScope,
    status: u16,
    ms: f64,
) {
    // Writes to a Vec cannot fail.
    match format {
        LogFormat::Text => {
            let mut span = String::with_capacity(160);
            let _ = scope.write_text_span(&mut span, false);
            let _ = writeln!(
                out,
                "{timestamp}  INFO {span} {REQUEST_TARGET}: served status={status} ms={ms:?}"
            );
        }
        LogFormat::Json => {
            out.extend_from_slice(b"{\"timestamp\":");
            let _ = serde_json::to_writer(&mut *out, timestamp);
            let _ = write!(
                out,
                ",\"level\":\"INFO\",\"fields\":{{\"message\":\"served\",\"status\":{status},\"ms\":"
            );
            let _ = serde_json::to_writer(&mut *out, &ms);
            let _ = write!(out, "}},\"target\":\"{REQUEST_TARGET}\",\"span\":");
            let span_start = out.len();
            scope.write_json_span(out);
            let span = out[span_start..].to_vec();
            out.extend_from_slice(b",\"spans\":[");
            out.extend_from_slice(&span);
            out.extend_from_slice(b"]}\n");
        }
    }
}

/// `tracing`'s text line, with the request's span written in when there is one.
pub(super) struct TextLines {
    whole: Format<Full, SecondCachedTime>,
    /// Spans, target and fields: what follows the level.
    after_level: Format<Full, ()>,
}

impl TextLines {
    pub(super) fn new() -> TextLines {
        TextLines {
            whole: Format::default().with_timer(SecondCachedTime),
            after_level: Format::default().without_time().with_level(false),
        }
    }
}

impl<S, N> FormatEvent<S, N> for TextLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        with_current(|scope| {
            let Some(scope) = scope else {
                return self.whole.format_event(ctx, writer, event);
            };
            // Time and level as `Format<Full>` writes them, then the request's span first
            // (outermost) among the event's spans.
            let ansi = writer.has_ansi_escapes();
            if ansi {
                writer.write_str("\x1b[2m")?;
            }
            if SecondCachedTime.format_time(&mut writer).is_err() {
                writer.write_str("<unknown time>")?;
            }
            writer.write_str(if ansi { "\x1b[0m " } else { " " })?;
            write_level(&mut writer, event.metadata().level(), ansi)?;
            scope.write_text_span(&mut writer, ansi)?;
            if ctx.event_scope().is_none() {
                writer.write_char(' ')?;
            }
            self.after_level.format_event(ctx, writer, event)
        })
    }
}

/// The level and its space, padded to five as `tracing` pads it.
fn write_level(w: &mut Writer<'_>, level: &Level, ansi: bool) -> fmt::Result {
    let (text, colour) = match *level {
        Level::TRACE => ("TRACE", "35"),
        Level::DEBUG => ("DEBUG", "34"),
        Level::INFO => (" INFO", "32"),
        Level::WARN => (" WARN", "33"),
        Level::ERROR => ("ERROR", "31"),
    };
    if ansi {
        write!(w, "\x1b[{colour}m{text}\x1b[0m ")
    } else {
        write!(w, "{text} ")
    }
}

/// `tracing`'s JSON line, with the request's span added when there is one.
pub(super) struct JsonLines {
    whole: Format<Json, SecondCachedTime>,
}

impl JsonLines {
    pub(super) fn new() -> JsonLines {
        JsonLines {
            whole: Format::default().json().with_timer(SecondCachedTime),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        with_current(|scope| {
            let Some(scope) = scope else {
                return self.whole.format_event(ctx, writer, event);
            };
            let mut line = String::with_capacity(256);
            self.whole
                .format_event(ctx, Writer::new(&mut line), event)?;
            let mut span = Vec::with_capacity(160);
            scope.write_json_span(&mut span);
            let span = String::from_utf8(span).map_err(|_| fmt::Error)?;
            writer.write_str(&with_request_span(&line, &span).ok_or(fmt::Error)?)
        })
    }
}

/// `line` (one JSON object and a newline) with the request's `span` as the outermost of
/// its spans: `"span"` and `"spans"` added after the last key when it had none, else
/// `span` first in its `"spans"` (the last key `tracing` writes; a `,"spans":[` with bare
/// quotes cannot occur inside a JSON string).
fn with_request_span(line: &str, span: &str) -> Option<String> {
    let body = line.strip_suffix('\n')?.strip_suffix('}')?;
    const LIST: &str = ",\"spans\":[";
    Some(match body.rfind(LIST) {
        Some(at) => {
            let (head, rest) = body.split_at(at + LIST.len());
            format!("{head}{span},{rest}}}\n")
        }
        None => format!("{body},\"span\":{span},\"spans\":[{span}]}}\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_scope::{current_request, enter, within};
    use crate::telemetry::tests::Recorder;
    use std::sync::Arc;

    fn scope(id: &str, client: &str, method: &str, path: &str) -> Arc<RequestScope> {
        Arc::new(RequestScope {
            id: id.into(),
            client: client.into(),
            method: method.into(),
            path: path.into(),
        })
    }

    fn scopes() -> Vec<Arc<RequestScope>> {
        vec![
            scope(
                "0123456789abcdef0123456789abcdef",
                "127.0.0.1",
                "GET",
                "/.well-known/jwks.json",
            ),
            scope("proxy-id_1", "::1", "POST", "/api/token/verify/"),
            scope("x", "unknown", "PROPFIND", "/a\"b\\c/\u{e9}%20{}"),
            scope("y", "2001:db8::7", "DELETE", "/"),
        ]
    }

    /// Runs `log` under a subscriber in `format` (`ours`: with our event formatters), and
    /// returns what it wrote.
    fn logged(format: LogFormat, ours: bool, log: impl FnOnce()) -> String {
        let out = Recorder::default();
        let writer = out.clone();
        let builder = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_timer(SecondCachedTime)
            .with_writer(move || writer.clone());
        let dispatch = match (format, ours) {
            (LogFormat::Json, false) => tracing::Dispatch::new(builder.json().finish()),
            (LogFormat::Json, true) => {
                tracing::Dispatch::new(builder.json().event_format(JsonLines::new()).finish())
            }
            (LogFormat::Text, false) => tracing::Dispatch::new(builder.finish()),
            (LogFormat::Text, true) => {
                tracing::Dispatch::new(builder.event_format(TextLines::new()).finish())
            }
        };
        tracing::dispatcher::with_default(&dispatch, log);
        let bytes = out.bytes.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// `tracing`'s real request span around `log`.
    fn in_span(s: &RequestScope, log: impl FnOnce()) {
        let span = tracing::info_span!(target: REQUEST_TARGET, "request", id = %s.id,
            client = %s.client, method = %s.method, path = %s.path);
        let _entered = span.enter();
        log();
    }

    /// The two lines with their timestamps blanked (taken a moment apart).
    fn same_but_time(format: LogFormat, ours: &str, theirs: &str) {
        let blank = |line: &str| match format {
            LogFormat::Text => line.get(27..).unwrap_or(line).to_string(),
            // `{"timestamp":"…",…`: the fourth piece between quotes.
            LogFormat::Json => {
                let time = line.split('"').nth(3).unwrap_or_default();
                line.replacen(time, "", 1)
            }
        };
        assert_eq!(blank(ours), blank(theirs), "{format:?}");
    }

    #[test]
    fn the_request_line_is_byte_for_byte_what_tracing_writes_in_both_formats() {
        let outcomes = [(200, 0.07525), (401, 1e-7), (404, 12345.678), (503, 0.0)];
        for (s, (status, ms)) in scopes().iter().zip(outcomes) {
            for format in [LogFormat::Text, LogFormat::Json] {
                let theirs = logged(format, false, || {
                    in_span(s, || {
                        tracing::info!(target: REQUEST_TARGET, status, ms, "served");
                    })
                });
                let timestamp = match format {
                    LogFormat::Text => theirs[..27].to_string(),
                    LogFormat::Json => {
                        let v: serde_json::Value = serde_json::from_str(&theirs).unwrap();
                        v["timestamp"].as_str().unwrap().to_string()
                    }
                };
                let mut ours = Vec::new();
                write_request_line(&mut ours, format, &timestamp, s, status, ms);
                assert_eq!(String::from_utf8(ours).unwrap(), theirs, "{format:?}");
            }
        }
    }

    /// Any line logged in a request's task, on a thread entered for it, or in a span of its
    /// own inside the request, reads as it did inside `tracing`'s span.
    #[test]
    fn lines_logged_while_serving_read_as_inside_tracings_span() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let warn = || tracing::warn!(family = "f-1", reused = true, "refresh token \"reuse\"");
        let nested = || {
            let inner = tracing::info_span!("inner", n = 3);
            let _entered = inner.enter();
            tracing::error!("nested {}", 1);
        };
        for s in scopes() {
            for format in [LogFormat::Text, LogFormat::Json] {
                for log in [&warn as &dyn Fn(), &nested] {
                    let theirs = logged(format, false, || in_span(&s, log));
                    let in_task = logged(format, true, || {
                        runtime.block_on(within(s.clone(), async { log() }))
                    });
                    same_but_time(format, &in_task, &theirs);
                    let on_thread = logged(format, true, || {
                        let _entered = enter(Some(s.clone()));
                        log();
                    });
                    same_but_time(format, &on_thread, &theirs);
                }
                // Outside any request: tracing's own line.
                let theirs = logged(format, false, warn);
                let ours = logged(format, true, warn);
                same_but_time(format, &ours, &theirs);
            }
        }
    }

    #[test]
    fn a_thread_leaves_the_scope_with_the_guard() {
        let s = scope("a", "b", "GET", "/");
        assert!(current_request().is_none());
        {
            let _outer = enter(Some(s.clone()));
            {
                let _inner = enter(None);
                assert!(current_request().is_none());
            }
            assert_eq!(current_request().unwrap().id, "a");
        }
        assert!(current_request().is_none());
    }
}
