//! Logging: text or JSON lines via `tracing` on stderr, filtered by `GATEHOUSE_LOG`. The
//! request middleware (`http::middleware`) adds each request's id and client address.

use crate::config::LogFormat;

/// `filter` is an `EnvFilter` directive (`info`, `off`, `warn,gatehouse=debug`); the
/// command line picks it (`cli::log_filter`: `GATEHOUSE_LOG`, else by command and `-v`).
pub fn init(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into a file or a log collector.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
