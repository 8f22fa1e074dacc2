//! Tokens: their claims, minting, verification, and the refresh-token families.

pub mod claims;
pub mod issue;
pub mod refresh;
pub mod verify;
