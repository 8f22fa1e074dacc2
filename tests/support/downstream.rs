//! The downstream tools the tests run: the Python of the virtualenv and Node.js with the
//! packages `tests/downstream/install.sh` installs (run by `.ci/run`), their scripts, and the
//! example resource server. Without them, a visible SKIP.

use std::path::{Path, PathBuf};

use super::skip;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The virtualenv `tests/downstream/install.sh` makes (`GATEHOUSE_DOWNSTREAM_VENV`, or
/// target/downstream-venv).
pub fn venv() -> PathBuf {
    std::env::var_os("GATEHOUSE_DOWNSTREAM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target/downstream-venv"))
}

/// The Python of the verifiers' virtualenv, or a visible SKIP.
pub fn python() -> Option<PathBuf> {
    let venv = venv();
    // The stamp is written once every package is installed.
    if venv.join(".requirements.sha256").exists() {
        Some(venv.join("bin/python"))
    } else {
        skip("the Python verifiers (run tests/downstream/install.sh)");
        None
    }
}

/// `node`, when jose is installed beside the Node script, or a visible SKIP.
pub fn node() -> Option<PathBuf> {
    let jose = manifest_dir().join("tests/downstream/node_modules/jose/package.json");
    let node = ["/usr/bin/node", "/usr/local/bin/node"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    match node {
        Some(node) if jose.exists() => Some(node),
        _ => {
            skip("Node.js with jose (run tests/downstream/install.sh)");
            None
        }
    }
}

/// A script beside `tests/downstream/install.sh`.
pub fn script(name: &str) -> PathBuf {
    manifest_dir().join("tests/downstream").join(name)
}

/// `examples/resource_server`, which `cargo test` builds beside the test binaries.
pub fn resource_server() -> Option<PathBuf> {
    let deps = Path::new(env!("CARGO_BIN_EXE_gatehouse"))
        .parent()
        .expect("target dir");
    let path = deps.join("examples").join("resource_server");
    if path.exists() {
        Some(path)
    } else {
        skip("examples/resource_server (built by a plain `cargo test`, or `cargo build --example resource_server`)");
        None
    }
}
