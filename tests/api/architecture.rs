//! The layering of ARCHITECTURE.md, checked rather than only described: handlers reach the
//! database only through the use cases (no `repo::` under `src/http/`), the database layer
//! imports nothing above it, no HTTP type leaves `src/http/` and start-up, no module imports
//! `config` below start-up, no two modules import each other (however long the ring), and a
//! handler's answer is a typed body, never `json!`.

use std::collections::{BTreeMap, BTreeSet};
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

/// The lines of code of `file` before its unit tests (`#[cfg(test)] mod …`): what a test
/// module imports is not part of the module's place in the layers.
fn code_lines_before_tests(file: &Path) -> Vec<(usize, String)> {
    let lines = code_lines(file);
    let end = lines
        .windows(2)
        .position(|w| w[0].1.trim() == "#[cfg(test)]" && w[1].1.trim_start().starts_with("mod "))
        .unwrap_or(lines.len());
    lines[..end].to_vec()
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
        // `error` is a leaf below every layer: the store says how its error becomes `Internal`;
        // `request_scope` too: a blocking closure carries the request it works for.
        file.starts_with("db/")
            && crate_paths(code)
                .iter()
                .any(|m| *m != "db" && *m != "error" && *m != "request_scope")
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

/// The module path of a file under `src/`: `accounts/mod.rs` is `["accounts"]`,
/// `http/console/keys.rs` is `["http", "console", "keys"]`, `lib.rs` is the root.
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") || rel == "lib.rs" || rel == "main.rs" {
        parts.pop();
    }
    parts
}

/// The modules named by `crate::…` and `super::…` paths on a line of `module`, each cut to
/// the longest prefix that is a module.
fn imported_modules(
    module: &[String],
    code: &str,
    modules: &BTreeSet<Vec<String>>,
) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (start, root) in [("crate::", true), ("super::", false)] {
        for (i, _) in code.match_indices(start) {
            // Only where the path begins (`super::super::x` is read once, from its first).
            let before = code[..i].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[i..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let mut segments = rest[..end].split("::").filter(|s| !s.is_empty());
            segments.next(); // `crate` or the first `super`
            let mut path: Vec<String> = if root {
                Vec::new()
            } else {
                // `super` of a file module is its parent; of `x/mod.rs`, the parent of `x`.
                module[..module.len().saturating_sub(1)].to_vec()
            };
            for segment in segments {
                if segment == "super" {
                    path.pop();
                } else {
                    path.push(segment.to_string());
                }
            }
            while !path.is_empty() && !modules.contains(&path) {
                path.pop();
            }
            out.push(path);
        }
    }
    out
}

/// The imports between sibling modules (children of one parent, or the top-level modules
/// of the crate), each edge with the first line that makes it. A module and its own
/// ancestors may name each other (a parent re-exports, a child uses its parent's context).
fn sibling_imports() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files: Vec<(String, Vec<String>, PathBuf)> = rust_files(&src)
        .into_iter()
        .map(|file| {
            let rel = file.strip_prefix(&src).expect("under src");
            let rel = rel.to_string_lossy().replace('\\', "/");
            (rel.clone(), module_of(&rel), file)
        })
        .collect();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(_, m, _)| m.clone()).collect();
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (rel, module, file) in &files {
        for (n, code) in code_lines_before_tests(file) {
            for target in imported_modules(module, &code, &modules) {
                let shared = module
                    .iter()
                    .zip(&target)
                    .take_while(|(a, b)| a == b)
                    .count();
                if shared >= module.len() || shared >= target.len() {
                    continue; // the same module, or an ancestor
                }
                let (from, to) = (module[..=shared].join("::"), target[..=shared].join("::"));
                edges
                    .entry(from)
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| format!("src/{rel}:{n}: {}", code.trim()));
            }
        }
    }
    edges
}

/// Every cycle a depth-first walk meets (one per edge that closes a ring), as the modules
/// in order with the first module again at the end.
fn cycles(edges: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<Vec<String>> {
    fn walk<'a>(
        node: &'a str,
        edges: &'a BTreeMap<String, BTreeMap<String, String>>,
        state: &mut BTreeMap<&'a str, bool>,
        stack: &mut Vec<&'a str>,
        found: &mut Vec<Vec<String>>,
    ) {
        state.insert(node, true);
        stack.push(node);
        for next in edges.get(node).into_iter().flat_map(|e| e.keys()) {
            match state.get(next.as_str()) {
                Some(true) => {
                    let from = stack.iter().position(|m| m == next).expect("on the stack");
                    let mut ring: Vec<String> =
                        stack[from..].iter().map(|m| m.to_string()).collect();
                    ring.push(next.clone());
                    found.push(ring);
                }
                Some(false) => {}
                None => walk(next, edges, state, stack, found),
            }
        }
        stack.pop();
        state.insert(node, false);
    }
    let (mut state, mut found) = (BTreeMap::new(), Vec::new());
    for node in edges.keys() {
        if !state.contains_key(node.as_str()) {
            walk(node, edges, &mut state, &mut Vec::new(), &mut found);
        }
    }
    found
}

/// Cycles not yet untied, each named by its ring as the test prints it. The list only
/// shrinks: an entry that no longer matches a cycle fails the test too.
const KNOWN_CYCLES: &[&str] = &[];

#[test]
fn no_import_cycle_among_the_modules_of_src() {
    let edges = sibling_imports();
    let mut report = Vec::new();
    let mut seen = BTreeSet::new();
    for ring in cycles(&edges) {
        let name = ring.join(" -> ");
        seen.insert(name.clone());
        if KNOWN_CYCLES.contains(&name.as_str()) {
            continue;
        }
        report.push(name);
        for pair in ring.windows(2) {
            report.push(format!("    {}", edges[&pair[0]][&pair[1]]));
        }
    }
    let stale: Vec<&&str> = KNOWN_CYCLES
        .iter()
        .filter(|c| !seen.contains(**c))
        .collect();
    assert!(
        report.is_empty() && stale.is_empty(),
        "import cycles:\n{}\nuntied, take them off KNOWN_CYCLES: {stale:?}",
        report.join("\n")
    );
}

/// Start-up: the modules that read `Settings` and build the narrow policy of each context.
const START_UP: &[&str] = &[
    "main.rs",
    "cli.rs",
    "commands/",
    "config.rs",
    "policies.rs",
    "startup.rs",
    "state.rs",
    "telemetry/",
];

#[test]
fn config_is_imported_only_by_start_up() {
    let found = violations(|file, code| {
        !START_UP
            .iter()
            .any(|s| file == *s || (s.ends_with('/') && file.starts_with(s)))
            && crate_paths(code).contains(&"config")
    });
    assert!(
        found.is_empty(),
        "config imported below start-up (give the module a narrow policy instead):\n{}",
        found.join("\n")
    );
}

/// Files under `src/http/` that still answer with `json!`; the list only shrinks.
const JSON_BODIES_LEFT: &[&str] = &[];

#[test]
fn handlers_answer_with_typed_bodies_not_json_macros() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut files_with = BTreeSet::new();
    for file in rust_files(&src.join("http")) {
        let rel = file.strip_prefix(&src).expect("under src");
        let rel = rel.to_string_lossy().replace('\\', "/");
        for (n, code) in code_lines_before_tests(&file) {
            if code.contains("json!") {
                files_with.insert(rel.clone());
                if !JSON_BODIES_LEFT.contains(&rel.as_str()) {
                    found.push(format!("src/{rel}:{n}: {}", code.trim()));
                }
            }
        }
    }
    let stale: Vec<&&str> = JSON_BODIES_LEFT
        .iter()
        .filter(|f| !files_with.contains(**f))
        .collect();
    assert!(
        found.is_empty() && stale.is_empty(),
        "json! in an answer (use a typed struct of http/schemas.rs):\n{}\nno json! left, take them off JSON_BODIES_LEFT: {stale:?}",
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
    // The cycle finder finds a ring of three, and nothing in a chain.
    let mut ring: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        ring.entry(a.into())
            .or_default()
            .insert(b.into(), String::new());
    }
    assert_eq!(cycles(&ring), [["a", "b", "c", "a"]]);
    ring.get_mut("c").expect("c").remove("a");
    assert!(cycles(&ring).is_empty());
    // Paths resolve to modules, `super` from the file's parent.
    let modules: BTreeSet<Vec<String>> = [vec!["x"], vec!["x", "y"], vec!["x", "z"], vec!["w"]]
        .into_iter()
        .map(|m| m.into_iter().map(str::to_string).collect())
        .collect();
    let module = module_of("x/y.rs");
    assert_eq!(
        imported_modules(
            &module,
            "use super::z::T; crate::w::f(); super::T",
            &modules
        ),
        [
            vec!["w".to_string()],
            vec!["x".into(), "z".into()],
            vec!["x".into()]
        ]
    );
}

/// The longest a file of `src/` or `tests/` may be: one a reader can hold (issue 23).
const MAX_LINES: usize = 800;

/// The `.rs` files under `dirs` of the crate longer than `max` lines, as `path: N lines`.
fn longer_than(max: usize, dirs: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    dirs.iter()
        .flat_map(|dir| rust_files(&root.join(dir)))
        .filter_map(|file| {
            let lines = std::fs::read_to_string(&file)
                .expect("read")
                .lines()
                .count();
            let rel = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            (lines > max).then(|| format!("{rel}: {lines} lines"))
        })
        .collect()
}

#[test]
fn no_file_of_src_or_tests_is_over_800_lines() {
    let long = longer_than(MAX_LINES, &["src", "tests"]);
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines (split by subject into a directory module):\n{}",
        long.join("\n")
    );
    // The count itself: a limit every tree breaks finds files.
    assert!(!longer_than(10, &["src", "tests"]).is_empty());
}
