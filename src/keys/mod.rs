//! Signing keys: the master key that seals them, their lifecycle, the JWKS, rotation, and
//! the in-memory key set that every request reads.

pub mod encryption;
pub mod jwks;
pub mod lifecycle;
pub mod manager;
pub mod reseal;
pub mod rotation;
pub mod store;
