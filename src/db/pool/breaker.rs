//! The outage breaker: while the last attempts to connect failed within [`DOWN_FOR`], a
//! check-out that finds the pool empty fails at once instead of waiting `DB_TIMEOUT`. One
//! request in every [`PROBE_EVERY`] is let through to try for itself, and one background
//! prober at a time keeps trying to connect. A failure of an attempt that began before a later
//! success does not reopen it: the order is kept by a count of successes, not by a clock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a failed attempt to connect keeps the breaker open.
pub const DOWN_FOR: Duration = Duration::from_secs(1);
/// How often the background prober tries to connect while the database is down, and how
/// often one request is let through to try for itself (so the first request after the
/// database returns does not fail on a breaker that has not noticed yet).
pub const PROBE_EVERY: Duration = Duration::from_millis(100);
/// How long the request let through an open breaker waits for a connection: longer than
/// r2d2's retry interval ([`PROBE_EVERY`]), so a database that is back is found by it.
pub const TRIAL_WAIT: Duration = Duration::from_millis(250);

pub struct Breaker {
    started: Instant,
    /// Open while the database is thought down. Read without a lock at every check-out;
    /// written only under `successes`' lock.
    down: AtomicBool,
    /// When an attempt to connect last opened (or held open) the breaker.
    last_connect_failure: AtomicU64,
    /// How many times the database has answered: a failed attempt that began before the
    /// latest of these says nothing new. The lock orders a failure against a success, so a
    /// stale failure cannot reopen the breaker a success has just closed.
    successes: Mutex<u64>,
    prober_running: AtomicBool,
    /// When a request last went through the open breaker to try the database itself.
    last_trial: AtomicU64,
}

/// An attempt to connect, as it began: how many successes the pool had seen then.
#[derive(Clone, Copy)]
pub struct Attempt {
    successes_before: u64,
}

impl Breaker {
    pub(super) fn new() -> Breaker {
        Breaker {
            started: Instant::now(),
            down: AtomicBool::new(false),
            last_connect_failure: AtomicU64::new(0),
            successes: Mutex::new(0),
            prober_running: AtomicBool::new(false),
            last_trial: AtomicU64::new(0),
        }
    }

    /// Milliseconds since the breaker was built (never 0, so 0 can mean "never").
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + 1
    }

    fn successes(&self) -> std::sync::MutexGuard<'_, u64> {
        self.successes.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn attempt_begins(&self) -> Attempt {
        Attempt {
            successes_before: *self.successes(),
        }
    }

    /// An attempt failed. One that began before the database last answered says nothing
    /// new: it was restarting while the attempt tried (a backoff retry that met "the
    /// database system is starting up" as the prober got in).
    pub fn connect_failed(&self, attempt: Attempt) {
        let successes = self.successes();
        if *successes != attempt.successes_before {
            return;
        }
        self.last_connect_failure
            .store(self.now_ms(), Ordering::SeqCst);
        self.down.store(true, Ordering::SeqCst);
    }

    /// The database answered: a connection was made, or a pooled one answered its probe.
    pub fn answered(&self) {
        let mut successes = self.successes();
        *successes += 1;
        self.down.store(false, Ordering::SeqCst);
    }

    /// Open, however long ago the last failure was (a live connection then closes it).
    pub fn is_open(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// The database is known to be down: the last attempt to connect failed, recently.
    pub fn is_down(&self) -> bool {
        // Saturating: another thread may record a failure after `now_ms` was read.
        self.is_open()
            && self
                .now_ms()
                .saturating_sub(self.last_connect_failure.load(Ordering::SeqCst))
                < DOWN_FOR.as_millis() as u64
    }

    /// While the breaker is open, one request in every [`PROBE_EVERY`] may try anyway.
    pub fn claim_trial(&self) -> bool {
        let (now, last) = (self.now_ms(), self.last_trial.load(Ordering::SeqCst));
        now.saturating_sub(last) >= PROBE_EVERY.as_millis() as u64
            && self
                .last_trial
                .compare_exchange(last, now, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }

    /// True for the one caller that becomes the background prober.
    pub fn start_probing(&self) -> bool {
        !self.prober_running.swap(true, Ordering::SeqCst)
    }

    pub fn probing_done(&self) {
        self.prober_running.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Opens the breaker as a failed attempt to connect does.
    pub fn open(breaker: &Breaker) {
        breaker.connect_failed(breaker.attempt_begins());
        assert!(breaker.is_down());
    }

    #[test]
    fn a_failed_attempt_opens_the_breaker_and_a_success_closes_it() {
        let breaker = Breaker::new();
        assert!(!breaker.is_down());
        open(&breaker);
        breaker.answered();
        assert!(!breaker.is_down());
    }

    #[test]
    fn an_attempt_that_began_before_a_success_does_not_reopen_the_breaker() {
        let breaker = Breaker::new();
        open(&breaker);
        // A background retry begins while the database restarts …
        let retry = breaker.attempt_begins();
        // … the prober gets in, then the retry reports its failure, within the same
        // millisecond (a clock would not tell the two apart).
        breaker.answered();
        breaker.connect_failed(retry);
        assert!(!breaker.is_down(), "a stale failure reopened the breaker");
        // A failure of an attempt begun after the success is news.
        breaker.connect_failed(breaker.attempt_begins());
        assert!(breaker.is_down());
    }
}
