//! Progress for a person at a terminal, on stderr; nothing at all when stderr is a file or
//! a pipe, so scripts and logs see only results.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar of `len` steps, or a hidden one off a terminal.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if !on_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta} left)") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// A spinner with a message, ticking on its own, or a hidden one off a terminal.
pub fn spinner(what: String) -> ProgressBar {
    if !on_terminal() {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        spinner.set_style(style);
    }
    spinner.set_message(what);
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}
