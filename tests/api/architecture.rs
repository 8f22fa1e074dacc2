//! The layering of ARCHITECTURE.md, checked rather than only described: handlers reach the
//! database only through the use cases (no `repo::` under `src/http/`), the database layer
//! imports nothing above it, and no HTTP type leaves `src/http/` and start-up.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Each line of code of `file` with its number, comments left out (a rule may be named in
/// a comment without breaking it).
fn code_lines(file: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(file).expect("read source");
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.split("//").next().unwrap_or("").to_string()))
        .filter(|(_, code)| !code.trim().is_empty())
        .collect()
}

/// Every line under `src/` (relative path, number, code) where `breaks` holds.
fn violations(breaks: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).expect("under src");
        let rel = rel.to_string_lossy().replace('\\', "/");
        for (n, code) in code_lines(&file) {
            if breaks(&rel, &code) {
                found.push(format!("src/{rel}:{n}: {}", code.trim()));
            }
        }
    }
    found
}

/// `crate::x` paths named on a line of code.
fn crate_paths(code: &str) -> Vec<&str> {
    code.match_indices("crate::")
        .map(|(i, _)| {
            let rest = &code[i + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn handlers_reach_the_store_only_through_use_cases() {
    let found = violations(|file, code| file.starts_with("http/") && code.contains("repo::"));
    assert!(
        found.is_empty(),
        "src/http/ calls the repository:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_database_layer_imports_nothing_above_it() {
    let found = violations(|file, code| {
        // `error` is a leaf below every layer: the store says how its error becomes `Internal`.
        file.starts_with("db/")
            && crate_paths(code)
                .iter()
                .any(|m| *m != "db" && *m != "error")
    });
    assert!(
        found.is_empty(),
        "src/db/ imports from above:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_http_type_outside_the_http_layer_and_start_up() {
    let found = violations(|file, code| {
        let http_side = file.starts_with("http/") || file == "startup.rs";
        !http_side
            && (code.contains("actix")
                || crate_paths(code)
                    .iter()
                    .any(|m| *m == "http" || *m == "state"))
    });
    assert!(
        found.is_empty(),
        "HTTP outside src/http/:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checks_see_a_violation() {
    // The scanner itself: a rule that every source tree breaks must find something.
    assert!(!violations(|_, code| code.contains("fn ")).is_empty());
    assert_eq!(
        crate_paths("use crate::db::{repo, Db}; crate::keys::x"),
        ["db", "keys"]
    );
}
