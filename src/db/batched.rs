//! Concurrent reads of one kind folded into one query.
//!
//! A read is queued; if no batch is running, a blocking thread is started, once the tasks
//! that are ready on this worker have had their turn, that takes everything queued, runs one
//! query for all of it, answers each reader and looks again. Reads that arrive while a batch
//! runs go together in the next one. Alone, a read costs what a plain [`Db::run`] does plus
//! one task switch; under load (every verification, introspection and bearer authentication
//! of an access token reads its revocation state) a read costs a share of one thread hand-off
//! and one round trip instead of a whole one each. Every answer is read from the database
//! after the read was queued, so nothing is served from a cache.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::{Db, DbConn, DbError};

/// The most keys in one query: it bounds the query's size and how long the readers of one
/// batch wait for its slowest part.
const MAX_BATCH: usize = 256;

/// Answers, in the order of the keys, for a batch of keys. Batches run one at a time, so a
/// query may keep state between them (the liveness read keeps its view of enabled holders).
pub type BatchQuery<K, V> = Box<dyn Fn(&mut DbConn, &[K]) -> Result<Vec<V>, DbError> + Send + Sync>;

type Reply<V> = oneshot::Sender<Result<V, DbError>>;

pub struct BatchedReads<K, V> {
    db: Db,
    query: BatchQuery<K, V>,
    queue: Mutex<Queue<K, V>>,
}

struct Queue<K, V> {
    waiting: Vec<(K, Reply<V>)>,
    /// A blocking thread is draining the queue.
    running: bool,
}

impl<K: Send + 'static, V: Send + 'static> BatchedReads<K, V> {
    pub fn new(
        db: Db,
        query: impl Fn(&mut DbConn, &[K]) -> Result<Vec<V>, DbError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(BatchedReads {
            db,
            query: Box::new(query),
            queue: Mutex::new(Queue {
                waiting: Vec::new(),
                running: false,
            }),
        })
    }

    /// The answer for `key`, read in the next batch.
    pub async fn read(self: &Arc<Self>, key: K) -> Result<V, DbError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.lock();
            queue.waiting.push((key, reply));
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            // The drain starts after the tasks that are ready now (and the I/O that is
            // waiting) have had their turn, so the requests of one round go in one batch
            // instead of the first going alone. A task of its own, so that a reader dropped
            // meanwhile cannot leave the queue without a drain.
            let this = self.clone();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                tokio::task::spawn_blocking(move || this.drain());
            });
        }
        answer
            .await
            .map_err(|_| DbError::Join("a batched read was dropped".into()))?
    }

    fn lock(&self) -> MutexGuard<'_, Queue<K, V>> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs batches until the queue is empty.
    fn drain(&self) {
        loop {
            let batch = {
                let mut queue = self.lock();
                if queue.waiting.is_empty() {
                    queue.running = false;
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect::<Vec<_>>()
            };
            let (keys, replies): (Vec<K>, Vec<Reply<V>>) = batch.into_iter().unzip();
            // A query that panics fails its batch, not the queue behind it.
            let answered = std::panic::catch_unwind(AssertUnwindSafe(|| {
                self.db.with_conn(|conn| (self.query)(conn, &keys))
            }))
            .unwrap_or_else(|_| Err(DbError::Batch("the query panicked".into())));
            match answered {
                Ok(values) if values.len() == keys.len() => {
                    for (reply, value) in replies.into_iter().zip(values) {
                        let _ = reply.send(Ok(value));
                    }
                }
                Ok(values) => {
                    let e = format!("{} answers for {} keys", values.len(), keys.len());
                    tracing::error!(error = %e, "a batched read answered wrongly");
                    for reply in replies {
                        let _ = reply.send(Err(DbError::Batch(e.clone())));
                    }
                }
                Err(e) => {
                    // One error, told to every reader of the batch: unavailable stays
                    // unavailable (503), anything else is an internal error.
                    let unavailable = e.is_unavailable();
                    let message = e.to_string();
                    for reply in replies {
                        let _ = reply.send(Err(if unavailable {
                            DbError::Unavailable(message.clone())
                        } else {
                            DbError::Batch(message.clone())
                        }));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::DatabaseUrl;
    use diesel::connection::SimpleConnection;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    fn sqlite_db(dir: &tempfile::TempDir) -> Db {
        let path = dir.path().join("batched.db").display().to_string();
        Db::new(&DatabaseUrl::Sqlite(path), 4, Duration::from_secs(5)).expect("db")
    }

    /// Shut by the test while the first batch is running, so that the other reads queue up.
    static GATE_OPEN: AtomicBool = AtomicBool::new(false);
    static BATCHES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

    /// Doubles each key, after a real statement on the connection.
    fn doubled(conn: &mut DbConn, keys: &[u32]) -> Result<Vec<u32>, DbError> {
        BATCHES.lock().unwrap().push(keys.len());
        while !GATE_OPEN.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        conn.batch_execute("SELECT 1")
            .map_err(DbError::from_diesel)?;
        Ok(keys.iter().map(|k| k * 2).collect())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_that_arrive_while_a_batch_runs_go_together_in_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let reads = BatchedReads::new(sqlite_db(&dir), doubled);
        let read = |k: u32| {
            let reads = reads.clone();
            tokio::spawn(async move { (k, reads.read(k).await) })
        };
        // The first read's batch is at the gate; then 199 more arrive and wait in the queue.
        let mut tasks = vec![read(0)];
        while BATCHES.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tasks.extend((1..200u32).map(read));
        while reads.lock().waiting.len() < 199 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        GATE_OPEN.store(true, Ordering::SeqCst);
        for task in tasks {
            let (k, answer) = task.await.unwrap();
            assert_eq!(answer.unwrap(), k * 2);
        }
        let batches = BATCHES.lock().unwrap().clone();
        assert_eq!(batches, [1, 199]);
        // The drain answers its readers before it looks at the queue again, so it may still
        // be on its way to finding it empty.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while reads.lock().running && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(
            !reads.lock().running,
            "the drain stops when the queue is empty"
        );
    }

    static ROUND_BATCHES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

    fn counted(_: &mut DbConn, keys: &[u32]) -> Result<Vec<u32>, DbError> {
        ROUND_BATCHES.lock().unwrap().push(keys.len());
        Ok(keys.iter().map(|k| k + 1).collect())
    }

    /// One worker thread, as an HTTP worker has: the reads its tasks make in one round wait
    /// for each other instead of the first going alone.
    #[tokio::test(flavor = "current_thread")]
    async fn the_reads_of_one_round_go_in_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let reads = BatchedReads::new(sqlite_db(&dir), counted);
        // A first read leaves an idle blocking thread behind, ready to start the next drain
        // at once: the case in which the first read of a round used to go alone.
        assert_eq!(reads.read(100).await.unwrap(), 101);
        tokio::time::sleep(Duration::from_millis(20)).await;
        ROUND_BATCHES.lock().unwrap().clear();
        // Each request works a little on this thread before its read, as a signature
        // check does: time in which a drain started at the first read takes it alone.
        let request = |k: u32| {
            let reads = reads.clone();
            async move {
                std::thread::sleep(Duration::from_millis(2));
                reads.read(k).await
            }
        };
        let answers = futures_util::future::join_all((0..10u32).map(request)).await;
        for (k, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.unwrap(), k as u32 + 1);
        }
        assert_eq!(*ROUND_BATCHES.lock().unwrap(), [10]);
    }

    fn unavailable(_: &mut DbConn, _: &[u32]) -> Result<Vec<bool>, DbError> {
        Err(DbError::Unavailable("the database is down".into()))
    }

    fn broken(_: &mut DbConn, _: &[u32]) -> Result<Vec<bool>, DbError> {
        Err(DbError::Conflict)
    }

    fn too_few(_: &mut DbConn, _: &[u32]) -> Result<Vec<bool>, DbError> {
        Ok(Vec::new())
    }

    #[tokio::test]
    async fn a_failed_batch_tells_every_reader_and_unavailable_stays_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_db(&dir);
        let down = BatchedReads::new(db.clone(), unavailable);
        let answers = futures_util::future::join_all((0..5).map(|k| down.read(k))).await;
        assert!(answers
            .iter()
            .all(|a| a.as_ref().is_err_and(DbError::is_unavailable)));
        for query in [broken, too_few] {
            let reads = BatchedReads::new(db.clone(), query);
            let answer = reads.read(1).await;
            assert!(
                matches!(answer, Err(DbError::Batch(_))),
                "an internal error, not a 503: {answer:?}"
            );
        }
    }

    static PANIC_ONCE: AtomicBool = AtomicBool::new(true);

    fn panics_once(_: &mut DbConn, keys: &[u32]) -> Result<Vec<u32>, DbError> {
        if PANIC_ONCE.swap(false, Ordering::SeqCst) {
            panic!("a query that panics");
        }
        Ok(keys.to_vec())
    }

    #[tokio::test]
    async fn after_a_panicking_batch_its_reader_gets_an_error_and_the_next_read_is_answered() {
        let dir = tempfile::tempdir().unwrap();
        let reads = BatchedReads::new(sqlite_db(&dir), panics_once);
        let answer = reads.read(1).await;
        assert!(matches!(answer, Err(DbError::Batch(_))), "{answer:?}");
        let next = tokio::time::timeout(Duration::from_secs(10), reads.read(2)).await;
        assert_eq!(next.expect("answered, not stuck").unwrap(), 2);
    }
}
