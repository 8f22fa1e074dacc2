//! Queries, one file per area. Each function takes a connection and runs on a blocking thread.

pub mod audit;
pub mod clients;
pub mod keys;
pub mod meta;
pub mod refresh;
pub mod sessions;
pub mod throttle;
pub mod users;
