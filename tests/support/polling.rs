//! Waiting for background tasks and other processes.

/// Polls `check` until it holds or `secs` pass: for what a background task or another
/// process does, never for time to pass (move the clock instead). The deadline only bounds
/// a failing test; a passing one returns as soon as `check` holds.
pub async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if check().await {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
