//! The connection pool (r2d2) and what makes it survive a database restart and an outage.
//!
//! - Validation on check-out, as HikariCP does it: only a connection idle for more than
//!   [`IDLE_BEFORE_VALIDATION`] is probed (`SELECT 1`) before use, so a busy pool adds no round
//!   trip, and an idle instance finds its dead connections before a request does. When one is
//!   found dead, every connection returned before that moment is probed at its next check-out.
//! - An outage breaker ([`breaker`]): while the database is known to be down, a check-out
//!   that finds the pool empty fails at once (the caller answers 503 with `Retry-After`)
//!   instead of waiting `DB_TIMEOUT`; one background thread keeps trying to connect and closes
//!   the breaker as soon as the database answers. A connect can fail while the pooled
//!   connections work ("too many clients"), so the breaker refuses only a caller that finds
//!   the pool empty: an idle connection is used, one in use is waited for (up to
//!   `DB_TIMEOUT`), and one that answers its probe closes the breaker.
//! - Recovery without a lost request: r2d2 retries a failed connection in the background with
//!   a backoff capped at half its `connection_timeout`, which is set so that the cap is
//!   [`PROBE_EVERY`]; and the request let through an open breaker may wait [`TRIAL_WAIT`],
//!   long enough for one of those retries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use super::{DatabaseUrl, DbConn, DbError};

mod breaker;

use breaker::{Breaker, PROBE_EVERY, TRIAL_WAIT};

/// A connection unused for this long is closed (r2d2 looks every 30 s), so an instance that
/// went quiet after a burst gives back the memory of its connections (libpq's buffers, SQLite's
/// page cache) and PostgreSQL its backends; the next burst connects again (~ms).
pub const CLOSE_IDLE_AFTER: Duration = Duration::from_secs(30);
/// A connection idle for longer than this is probed before use.
pub const IDLE_BEFORE_VALIDATION: Duration = Duration::from_millis(500);
/// The slice a check-out waits for a connection before it looks at the breaker again.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// A pooled connection, with the marks that keep a dead one out of the pool.
pub struct Pooled {
    pub conn: DbConn,
    /// Set when the connection was found dead (the server restarted, the network dropped
    /// it): r2d2 then discards it instead of handing it out again.
    broken: bool,
    /// When it was last returned to the pool (milliseconds on the pool's clock).
    returned_at: u64,
}

impl Pooled {
    /// One `SELECT 1`; a connection that cannot answer it is marked for eviction.
    pub fn probe(&mut self) -> bool {
        let ok = self.conn.batch_execute("SELECT 1").is_ok();
        self.broken = !ok;
        ok
    }
}

/// What the pool knows about the database, shared by its connections and check-outs.
pub struct Health {
    started: Instant,
    /// Connections returned before this moment are probed at their next check-out.
    suspect_before: AtomicU64,
    /// Whether the database is thought down, and who may try it meanwhile.
    breaker: Breaker,
}

impl Health {
    fn new() -> Health {
        Health {
            started: Instant::now(),
            suspect_before: AtomicU64::new(0),
            breaker: Breaker::new(),
        }
    }

    /// Milliseconds since the pool was built (never 0, so 0 can mean "never").
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + 1
    }

    /// The database is known to be down: the last attempt to connect failed, recently.
    pub fn is_down(&self) -> bool {
        self.breaker.is_down()
    }

    /// A dead connection was found: the others returned before now are suspect too.
    fn suspect_all(&self) {
        self.suspect_before.store(self.now_ms(), Ordering::SeqCst);
    }

    fn needs_probe(&self, pooled: &Pooled) -> bool {
        let idle = self.now_ms().saturating_sub(pooled.returned_at);
        idle > IDLE_BEFORE_VALIDATION.as_millis() as u64
            || pooled.returned_at <= self.suspect_before.load(Ordering::SeqCst)
    }
}

/// r2d2 manager that builds the variant named by the URL and sets SQLite's pragmas.
pub struct DbManager {
    url: DatabaseUrl,
    busy_timeout_ms: u64,
    health: Arc<Health>,
}

impl DbManager {
    fn establish(&self) -> Result<DbConn, r2d2::Error> {
        let conn = match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(&format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {};",
                    self.busy_timeout_ms
                ))
                .map_err(r2d2::Error::QueryError)?;
                DbConn::Sqlite(conn)
            }
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConn::Pg)
                .map_err(r2d2::Error::ConnectionError)?,
        };
        Ok(conn)
    }
}

impl ManageConnection for DbManager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        let attempt = self.health.breaker.attempt_begins();
        match self.establish() {
            Ok(conn) => {
                self.health.breaker.answered();
                Ok(Pooled {
                    conn,
                    broken: false,
                    returned_at: self.health.now_ms(),
                })
            }
            Err(e) => {
                // Only an unreachable server opens the breaker; a setup statement refused
                // (SQLite busy while another process migrates) is retried as usual.
                if matches!(e, r2d2::Error::ConnectionError(_)) {
                    self.health.breaker.connect_failed(attempt);
                }
                Err(e)
            }
        }
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), r2d2::Error> {
        pooled
            .conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    /// Called by r2d2 as the connection goes back to the pool.
    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        pooled.returned_at = self.health.now_ms();
        pooled.broken
    }
}

pub type PooledConn = r2d2::PooledConnection<DbManager>;

/// The pool with its health; cheap to clone.
#[derive(Clone)]
pub struct Pool {
    pool: r2d2::Pool<DbManager>,
    health: Arc<Health>,
    url: DatabaseUrl,
    timeout: Duration,
}

impl Pool {
    /// Lazily: no connection is made here, so a server can start, report itself unready,
    /// and recover when the database comes back.
    pub fn new(url: &DatabaseUrl, size: u32, timeout: Duration) -> Pool {
        let health = Arc::new(Health::new());
        let manager = DbManager {
            url: url.clone(),
            busy_timeout_ms: timeout.as_millis() as u64,
            health: health.clone(),
        };
        let pool = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(0))
            .idle_timeout(Some(CLOSE_IDLE_AFTER))
            // Used by r2d2 only to cap its backoff between background retries of a failed
            // connection (half of it), as every check-out here passes its own wait.
            .connection_timeout(2 * PROBE_EVERY)
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(manager);
        Pool {
            pool,
            health,
            url: url.clone(),
            timeout,
        }
    }

    pub fn state(&self) -> r2d2::State {
        self.pool.state()
    }

    pub fn max_size(&self) -> u32 {
        self.pool.max_size()
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// A live connection within `wait` (at most `DB_TIMEOUT`), on the current (blocking)
    /// thread: at once `Unavailable` while the database is known to be down and the pool
    /// holds no connection.
    pub fn get_within(&self, wait: Duration) -> Result<PooledConn, DbError> {
        let deadline = Instant::now() + wait.min(self.timeout);
        // Set once this caller is let through the open breaker: how long it may wait.
        let mut trial_until: Option<Instant> = None;
        loop {
            if let Some(pooled) = self.pool.try_get() {
                match self.live(pooled) {
                    Some(pooled) => return Ok(pooled),
                    None => continue,
                }
            }
            let now = Instant::now();
            let mut slice_end = deadline.min(now + WAIT_SLICE);
            // While the pool holds connections (all in use), the database answers them and
            // only refuses more ("too many clients"): wait for one to come back.
            if self.health.is_down() && self.pool.state().connections == 0 {
                self.probe_in_background();
                if trial_until.is_none() && self.health.breaker.claim_trial() {
                    trial_until = Some(now + TRIAL_WAIT);
                }
                match trial_until {
                    Some(until) if now < until => slice_end = deadline.min(until),
                    _ => return Err(DbError::Unavailable("the database is down".into())),
                }
            }
            match self
                .pool
                .get_timeout(slice_end.saturating_duration_since(now))
            {
                Ok(pooled) => {
                    if let Some(pooled) = self.live(pooled) {
                        return Ok(pooled);
                    }
                }
                Err(_) if Instant::now() >= deadline => {
                    return Err(DbError::Unavailable(
                        "no database connection within DB_TIMEOUT".into(),
                    ))
                }
                Err(_) => {}
            }
        }
    }

    /// The connection if it may be used: checked first ([`Pool::check`]) when it has been
    /// idle a while or is suspect; a dead one is dropped (evicted).
    fn live(&self, mut pooled: PooledConn) -> Option<PooledConn> {
        (!self.health.needs_probe(&pooled) || self.check(&mut pooled)).then_some(pooled)
    }

    /// After a failed call: a dead connection is evicted, and the others suspected.
    pub fn found_dead(&self, pooled: &mut Pooled) {
        self.check(pooled);
    }

    /// Probes `pooled` and records what the answer says: a dead one is marked for eviction
    /// and makes the others returned before now suspect; a live one closes the breaker.
    fn check(&self, pooled: &mut Pooled) -> bool {
        let alive = pooled.probe();
        if !alive {
            self.health.suspect_all();
        } else if self.health.breaker.is_open() {
            self.health.breaker.answered();
        }
        alive
    }

    /// One thread that tries to connect until the database answers, then closes the breaker.
    fn probe_in_background(&self) {
        if !self.health.breaker.start_probing() {
            return;
        }
        let manager = DbManager {
            url: self.url.clone(),
            busy_timeout_ms: 0,
            health: self.health.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("gatehouse-db-probe".into())
            .spawn(move || {
                while manager.connect().is_err() {
                    std::thread::sleep(PROBE_EVERY);
                }
                manager.health.breaker.probing_done();
                tracing::info!("the database answers again");
            });
        if spawned.is_err() {
            self.health.breaker.probing_done();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool on SQLite file `file` of a fresh directory, and the directory.
    fn sqlite_pool(file: &str, size: u32, db_timeout: Duration) -> (tempfile::TempDir, Pool) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(file).to_string_lossy().into_owned();
        let pool = Pool::new(&DatabaseUrl::Sqlite(path), size, db_timeout);
        (dir, pool)
    }

    /// Makes one connection and returns it to the pool, idle.
    fn warm(pool: &Pool) {
        let pooled = pool.get_within(Duration::from_secs(5));
        drop(pooled.expect("a first connection"));
    }

    /// Opens the breaker as a failed attempt to connect does.
    fn open_breaker(health: &Health) {
        breaker::tests::open(&health.breaker);
    }

    #[test]
    fn an_idle_connection_serves_every_caller_while_the_breaker_is_open() {
        let (_dir, pool) = sqlite_pool("pool.db", 2, Duration::from_secs(5));
        warm(&pool);
        // A connect failed (say "too many clients") while the pooled connection works:
        // callers are not limited to one trial per PROBE_EVERY.
        open_breaker(pool.health());
        for call in 0..5 {
            let pooled = pool.get_within(Duration::from_secs(5));
            assert!(
                pooled.is_ok(),
                "call {call} refused with an idle connection"
            );
        }
    }

    #[test]
    fn a_connection_in_use_is_waited_for_while_the_breaker_is_open() {
        let (_dir, pool) = sqlite_pool("pool.db", 1, Duration::from_secs(30));
        let held = pool
            .get_within(Duration::from_secs(5))
            .expect("the one connection");
        // The database refused a further connection while this one works.
        open_breaker(pool.health());
        // It comes back later than a trial (TRIAL_WAIT) would wait.
        let holder = std::thread::spawn(move || {
            std::thread::sleep(TRIAL_WAIT * 2);
            drop(held);
        });
        let waited = pool.get_within(Duration::from_secs(30));
        assert!(waited.is_ok(), "refused while a connection was in use");
        holder.join().expect("holder");
    }

    #[test]
    fn a_pooled_connection_that_answers_its_probe_closes_the_breaker() {
        let (_dir, pool) = sqlite_pool("pool.db", 2, Duration::from_secs(5));
        warm(&pool);
        // The connection returned before this moment is probed at its next check-out.
        pool.health().suspect_all();
        open_breaker(pool.health());
        let mut pooled = pool
            .get_within(Duration::from_secs(5))
            .expect("probed and live");
        assert!(
            !pool.health().is_down(),
            "the answer did not close the breaker"
        );
        assert!(pooled.probe());
    }

    #[test]
    fn an_empty_pool_behind_an_open_breaker_answers_without_waiting_for_db_timeout() {
        // A file in a missing directory: every attempt to connect fails.
        let db_timeout = Duration::from_secs(60);
        let (_dir, pool) = sqlite_pool("missing/pool.db", 2, db_timeout);
        open_breaker(pool.health());
        // Each caller is refused at once, or after its trial (TRIAL_WAIT) when it is the one
        // let through; the background prober's failures keep the breaker open meanwhile.
        for call in 0..3 {
            let asked = Instant::now();
            let answer = pool.get_within(db_timeout);
            assert!(
                matches!(answer, Err(DbError::Unavailable(_))),
                "call {call}"
            );
            // A bound, not a benchmark: waiting for a connection would take DB_TIMEOUT.
            assert!(asked.elapsed() < Duration::from_secs(10), "call {call}");
        }
    }
}
