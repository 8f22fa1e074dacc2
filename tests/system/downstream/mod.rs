//! Verifiers that already exist, unchanged, accepting Gatehouse's tokens and refusing
//! forged, expired and revoked-key ones: Django REST Framework with simplejwt, PyJWT,
//! Node's jose, and the project's own Rust resource server (`examples/resource_server.rs`);
//! and a relying party that already exists, Node's openid-client, running the code flow.
//! The Python and Node ones come from `tests/downstream/install.sh` (run by `.ci/run`);
//! without them these tests SKIP.

// The tools are found by tests/support/downstream.rs.
pub use crate::helpers::downstream::{node, python, resource_server, script};

mod relying_party;
mod resource_server;
mod verifiers;
