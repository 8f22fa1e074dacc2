//! The one source of "now" (Unix seconds). The server runs on the system clock; tests use a
//! manual clock that they move forward, so expiry, grace windows, rotation schedules and
//! throttle windows are tested without waiting for real seconds to pass.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// Cheap to clone; every clone reads (and, for a manual clock, moves) the same time.
#[derive(Clone)]
pub struct Clock(Arc<Inner>);

struct Inner {
    manual: Option<AtomicI64>,
    /// Bumped at every move of a manual clock, so background tasks waiting for their next
    /// tick look at the new time at once instead of at their next real-time tick.
    moved: watch::Sender<u64>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::with(None)
    }

    /// A clock that stands still at `start` until [`Clock::advance`] moves it.
    pub fn manual(start: i64) -> Clock {
        Clock::with(Some(AtomicI64::new(start)))
    }

    fn with(manual: Option<AtomicI64>) -> Clock {
        Clock(Arc::new(Inner {
            manual,
            moved: watch::channel(0).0,
        }))
    }

    pub fn now(&self) -> i64 {
        match &self.0.manual {
            Some(t) => t.load(Ordering::SeqCst),
            None => system_now(),
        }
    }

    /// Moves a manual clock forward; the system clock cannot be moved (returns false).
    pub fn advance(&self, by: Duration) -> bool {
        let Some(t) = &self.0.manual else {
            return false;
        };
        t.fetch_add(by.as_secs() as i64, Ordering::SeqCst);
        self.0.moved.send_modify(|n| *n += 1);
        true
    }

    /// Resolves at the next move of a manual clock; never for the system clock.
    pub fn moves(&self) -> ClockMoves {
        ClockMoves(self.0.moved.subscribe())
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0.manual {
            Some(_) => write!(f, "Clock::manual({})", self.now()),
            None => f.write_str("Clock::system"),
        }
    }
}

/// A subscription to a manual clock's moves (see [`Clock::moves`]).
pub struct ClockMoves(watch::Receiver<u64>);

impl ClockMoves {
    pub async fn next(&mut self) {
        if self.0.changed().await.is_err() {
            // The clock is gone: nothing will ever move it again.
            std::future::pending::<()>().await;
        }
    }
}

fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_advanced() {
        let clock = Clock::manual(1_000);
        assert_eq!(clock.now(), 1_000);
        assert!(clock.clone().advance(Duration::from_secs(90)));
        assert_eq!(clock.now(), 1_090);
    }

    #[test]
    fn the_system_clock_cannot_be_moved() {
        let clock = Clock::system();
        assert!(!clock.advance(Duration::from_secs(60)));
        assert!((clock.now() - system_now()).abs() <= 1);
    }

    #[tokio::test]
    async fn moving_a_manual_clock_wakes_its_subscribers() {
        let clock = Clock::manual(0);
        let mut moves = clock.moves();
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), moves.next())
            .await
            .expect("woken by the move");
    }
}
