//! The hashing workers: exactly `HASH_WORKERS` long-lived threads, each owning one argon2
//! memory block (19 MiB) that it reuses for every hash. Hashing memory is therefore
//! `HASH_WORKERS × 19 MiB` whatever the load: a burst of logins queues here instead of
//! spreading over tokio's blocking pool, where every thread that ever ran a hash kept its
//! freed 19 MiB in its own malloc arena (hundreds of MB after one burst).
//!
//! Jobs arrive over a bounded channel; the caller awaits an admission slot (so a flood waits
//! asynchronously, holding no thread) and then a oneshot with the result. A worker idle for
//! [`IDLE_RELEASE`] gives its block back, so a quiet server holds no hashing memory.
//!
//! The workers run at a lower scheduling priority than the rest of the process (nice +10 on
//! Linux, see [`lower_own_priority`]): a login flood keeps them busy for as long as it lasts,
//! and at equal priority they would take the HTTP workers' and database threads' core time
//! slice by slice, so that JWKS and refresh requests waited behind hashes. With the lower
//! priority those run first and the hashes take the rest of the core; logins still progress
//! (a nice +10 thread keeps about a tenth of a fully contended core), they only queue.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argon2::Block;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::{HashError, Password, Verified};

/// How long a worker keeps its memory block without work. Long enough that a steady trickle
/// of logins never reallocates it, short enough that the memory is back well within a minute
/// of a burst.
const IDLE_RELEASE: Duration = Duration::from_secs(20);

/// Jobs queued or running per worker before further callers wait for a slot.
const QUEUE_PER_WORKER: usize = 64;

/// How much nicer than the rest of the process the workers run (Linux nice values: weight
/// 110 against 1024 at +10, so about 10 % of a core that the HTTP workers also want).
#[cfg(target_os = "linux")]
const NICER_BY: libc::c_int = 10;

type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

/// The hashing workers shared by every request; cheap to clone. The threads end when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Hasher {
    jobs: Sender<Job>,
    slots: Arc<Semaphore>,
    dummy: Arc<str>,
    load: Arc<Load>,
}

/// How many jobs run at this moment, the most that ever ran at once, and how many ran.
#[derive(Default)]
struct Load {
    running: AtomicUsize,
    peak: AtomicUsize,
    done: AtomicUsize,
}

impl Hasher {
    /// Starts `workers` threads (at least one). Their memory is allocated at their first job.
    pub fn new(workers: usize) -> Hasher {
        let workers = workers.max(1);
        let capacity = workers * QUEUE_PER_WORKER;
        let (jobs, receiver) = crossbeam_channel::bounded::<Job>(capacity);
        let load = Arc::new(Load::default());
        for n in 0..workers {
            let receiver = receiver.clone();
            let load = load.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("gatehouse-hash-{n}"))
                .spawn(move || work(&receiver, &load));
            if let Err(e) = spawned {
                // The others still serve; with none, every hash fails with HashError.
                tracing::error!(error = %e, "cannot start a password hashing worker");
            }
        }
        Hasher {
            jobs,
            slots: Arc::new(Semaphore::new(capacity)),
            dummy: super::dummy_hash().into(),
            load,
        }
    }

    /// The most hashes that ran at the same time since start.
    pub fn peak_concurrency(&self) -> usize {
        self.load.peak.load(Ordering::Relaxed)
    }

    /// The hashes and checks run since start (what the login throttle must bound).
    pub fn jobs_run(&self) -> usize {
        self.load.done.load(Ordering::SeqCst)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let slot: OwnedSemaphorePermit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HashError::Failed)?;
        let (reply, result) = oneshot::channel();
        let load = self.load.clone();
        let job: Job = Box::new(move |memory| {
            let _slot = slot;
            // The caller gave up (its client went away): don't spend a hash on nobody.
            if !reply.is_closed() {
                let answer = f(memory);
                // Counted before the reply, so whoever got the answer sees the count.
                load.done.fetch_add(1, Ordering::SeqCst);
                let _ = reply.send(answer);
            }
        });
        // Never full: a job holds one of `capacity` slots until it has run.
        self.jobs.try_send(job).map_err(|_| HashError::Failed)?;
        result.await.map_err(|_| HashError::Failed)
    }

    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.run(move |memory| super::hash_in(password.expose(), memory))
            .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no user,
    /// so that both cost the same; the latter never succeeds.
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let exists = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy.to_string());
        let verified = self
            .run(move |memory| super::verify_in(password.expose(), &phc, memory))
            .await?;
        Ok(if exists {
            verified
        } else {
            Verified {
                ok: false,
                needs_rehash: false,
            }
        })
    }
}

/// One worker: takes jobs until every `Hasher` clone is gone.
fn work(jobs: &Receiver<Job>, load: &Load) {
    if let Err(e) = lower_own_priority() {
        // Only latency under a login flood depends on it, never a result.
        tracing::debug!(error = %e, "cannot lower the priority of a password hashing worker");
    }
    let mut memory: Option<Vec<Block>> = None;
    loop {
        match jobs.recv_timeout(IDLE_RELEASE) {
            Ok(job) => {
                let block = memory.get_or_insert_with(super::new_memory);
                let running = load.running.fetch_add(1, Ordering::SeqCst) + 1;
                load.peak.fetch_max(running, Ordering::SeqCst);
                // A panic drops the job's reply (the caller sees HashError) but must not
                // take the worker with it.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(block)));
                load.running.fetch_sub(1, Ordering::SeqCst);
            }
            Err(RecvTimeoutError::Timeout) => memory = None,
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Lowers the calling thread's scheduling priority by [`NICER_BY`] (at most to 19), leaving
/// the rest of the process alone: on Linux the nice value belongs to the thread, and
/// `setpriority(PRIO_PROCESS, 0, …)` names the calling one.
#[cfg(target_os = "linux")]
fn lower_own_priority() -> std::io::Result<()> {
    // getpriority may legitimately return -1, so errno tells the error apart.
    // SAFETY: errno is thread-local; getpriority and setpriority take no pointers.
    let current = unsafe {
        *libc::__errno_location() = 0;
        libc::getpriority(libc::PRIO_PROCESS, 0)
    };
    if current == -1 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(0) {
            return Err(e);
        }
    }
    let nicer = (current + NICER_BY).min(19);
    // SAFETY: as above.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nicer) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn lower_own_priority() -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};

    fn pw(s: &str) -> Password {
        Password::new(s.to_string())
    }

    #[tokio::test]
    async fn the_workers_verify_right_and_wrong_passwords() {
        let hasher = Hasher::new(2);
        let phc = hasher.hash(pw("correct horse")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        // The ordinary argon2 path agrees with the one in reused memory.
        assert!(super::super::verify_blocking("correct horse", &phc).ok);
        let right = hasher
            .verify(pw("correct horse"), Some(phc.clone()))
            .await
            .unwrap();
        assert_eq!(
            right,
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        let wrong = hasher.verify(pw("wrong"), Some(phc)).await.unwrap();
        assert!(!wrong.ok);
        // An unknown user never succeeds, even with the dummy's "password".
        assert!(!hasher.verify(pw(""), None).await.unwrap().ok);
        // Hashes made the ordinary way verify in reused memory too.
        let ordinary = super::super::hash_blocking("pw").unwrap();
        assert!(hasher.verify(pw("pw"), Some(ordinary)).await.unwrap().ok);
    }

    #[tokio::test]
    async fn hashes_with_other_parameters_still_verify_on_the_workers() {
        let hasher = Hasher::new(1);
        let params = Params::new(4096, 3, 1, None).unwrap();
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i] {
            let weak = Argon2::new(algorithm, Version::V0x13, params.clone());
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            let phc = weak.hash_password(b"pw", &salt).unwrap().to_string();
            let v = hasher.verify(pw("pw"), Some(phc.clone())).await.unwrap();
            assert_eq!(
                v,
                Verified {
                    ok: true,
                    needs_rehash: true
                }
            );
            assert!(!hasher.verify(pw("bad"), Some(phc)).await.unwrap().ok);
        }
        // A Django hash (pbkdf2_sha256, "pw", 1000 iterations) takes the Django path.
        let django = "pbkdf2_sha256$1000$salt$CjglNVXON/XHKmtwP5loFOvyQfIDrxRuk9zesDHFVn4=";
        let v = hasher.verify(pw("pw"), Some(django.into())).await.unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        assert!(
            !hasher
                .verify(pw("bad"), Some(django.into()))
                .await
                .unwrap()
                .ok
        );
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_workers_run_at_a_lower_priority_than_the_caller() {
        // SAFETY: getpriority takes no pointers; -1 (an error) would fail the comparison.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let own = nice();
        let hasher = Hasher::new(1);
        let worker = hasher.run(move |_| nice()).await.unwrap();
        assert_eq!(worker, (own + NICER_BY).min(19), "caller {own}");
        // The caller's own priority is untouched.
        assert_eq!(nice(), own);
    }

    #[tokio::test]
    async fn no_more_than_hash_workers_hashes_run_at_once() {
        let hasher = Hasher::new(2);
        let phc = super::super::dummy_hash();
        let checks = (0..8).map(|_| hasher.verify(pw("guess"), Some(phc.clone())));
        let results = futures_util::future::join_all(checks).await;
        assert!(results.iter().all(|r| r.as_ref().is_ok_and(|v| !v.ok)));
        let peak = hasher.peak_concurrency();
        assert!((1..=2).contains(&peak), "peak {peak}");
    }
}
