//! Signing keys: the master key that seals them, their lifecycle, the JWKS, rotation, and
//! the in-memory key set that every request reads.

pub mod encryption;
pub mod generate;
pub mod jwks;
pub mod lifecycle;
pub mod manager;
pub mod reseal;
pub mod rotation;
pub mod store;

/// The signing algorithms (defined beside the stored keys, which name theirs).
pub use crate::db::alg::Alg;
