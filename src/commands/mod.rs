//! The bodies of the operator commands that do more than call one use case: `backup` and
//! `restore`, `check`,
//! `user import`, `master-key rotate`, and what terminals get (progress).

pub mod backup;
pub mod check;
pub mod import;
pub mod master_key;
pub mod progress;
pub mod sessions;
