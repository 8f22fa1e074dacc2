//! The bodies of the operator commands that do more than call one use case: `backup` and
//! `restore`, `check`,
//! `user import`, `user email`, `master-key rotate`, and what terminals get (progress).

pub mod backup;
pub mod check;
pub mod email;
pub mod import;
pub mod master_key;
pub mod progress;
