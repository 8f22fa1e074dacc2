//! Queries, one file per area. Each function takes a connection and runs on a blocking thread.

pub mod clients;
pub mod keys;
pub mod meta;
pub mod refresh;
pub mod sessions;
pub mod throttle;
pub mod users;

/// Unix seconds now; callers pass it down so that logic below stays testable.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
