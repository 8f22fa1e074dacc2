//! Where a test's server keeps its data (a temporary directory with the master key file,
//! and a SQLite file or a PostgreSQL database), and the signing keys made once per test
//! process that a fresh database is seeded with.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gatehouse::clock::Clock;
use gatehouse::config::{Settings, SettingsArgs};
use gatehouse::keys::rotation::{self, GeneratedKey, KeyGenerator};
use gatehouse::keys::Alg;

use super::{Backend, PgDatabase};

/// Where a test's server keeps its data.
pub struct Storage {
    pub dir: tempfile::TempDir,
    pub database_url: String,
    pub pg: Option<PgDatabase>,
    /// The index of the next key of [`pooled_key`] this database's rotations get: each key
    /// once per database, whichever of its servers rotates.
    next_pooled_key: Arc<AtomicUsize>,
}

impl Storage {
    /// Storage with an empty database.
    pub fn new(backend: Backend) -> Option<Storage> {
        Self::with_database(backend, PgDatabase::create)
    }

    /// Storage whose database already holds the schema (on SQLite the server migrates the
    /// new file itself, which costs next to nothing).
    pub fn migrated(backend: Backend) -> Option<Storage> {
        Self::with_database(backend, PgDatabase::create_migrated)
    }

    fn with_database(
        backend: Backend,
        create_pg: impl FnOnce() -> Option<PgDatabase>,
    ) -> Option<Storage> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, pg) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("gatehouse.db").display()),
                None,
            ),
            Backend::Postgres => {
                let pg = create_pg()?;
                (pg.url.clone(), Some(pg))
            }
        };
        Some(Storage::on(dir, database_url, pg))
    }

    /// Storage on a database the test manages itself (a PostgreSQL cluster of its own).
    pub fn on_database(database_url: String) -> Storage {
        Storage::on(tempfile::tempdir().expect("tempdir"), database_url, None)
    }

    fn on(dir: tempfile::TempDir, database_url: String, pg: Option<PgDatabase>) -> Storage {
        super::install_tls_provider();
        Storage {
            dir,
            database_url,
            pg,
            // 0, 1 and 2 are the seed keys.
            next_pooled_key: Arc::new(AtomicUsize::new(SEED_KEYS)),
        }
    }

    /// New signing keys for in-process servers on this storage: RSA keys of the
    /// process-wide pool, each once per database; an RSA size other than the pool's is
    /// generated, and so are ES256 and EdDSA keys (microseconds each, no pool needed).
    pub fn key_generator(&self) -> KeyGenerator {
        let next = self.next_pooled_key.clone();
        Arc::new(move |alg, bits| {
            if alg != Alg::Rs256 || bits != SEED_KEY_BITS {
                return rotation::generate(alg, bits);
            }
            Ok(pooled_key(next.fetch_add(1, Ordering::Relaxed)))
        })
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.dir.path().join("keys").join("master.key")
    }

    /// Environment that points a `gatehouse` process at this storage.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("GATEHOUSE_DATABASE_URL".into(), self.database_url.clone()),
            (
                "GATEHOUSE_MASTER_KEY_FILE".into(),
                self.master_key_file().display().to_string(),
            ),
        ]
    }
}

// Signing keys made once per test process.

pub(super) const SEED_KEY_BITS: usize = 2048;
/// Current, next and standby.
const SEED_KEYS: usize = 3;

/// Key `index` of the signing keys made once per test process. Generating an RSA key takes
/// a few hundred milliseconds of CPU, more than most tests take, and in the API suite key
/// generation was a third of all the CPU spent. So keys 0, 1 and 2 are the current, next and
/// standby keys of the servers [`spawn_app`] starts, and the rest are handed out to their rotations
/// ([`Storage::key_generator`]); each test seals them under its own master key. Key
/// generation itself is tested where it is the subject: the first start
/// ([`spawn_app_first_start`]), other key sizes, and every `gatehouse` process.
fn pooled_key(index: usize) -> GeneratedKey {
    static POOL: Mutex<Vec<GeneratedKey>> = Mutex::new(Vec::new());
    let mut pool = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    while pool.len() <= index {
        pool.push(rotation::generate(Alg::Rs256, SEED_KEY_BITS).expect("RSA key"));
    }
    pool[index].clone()
}

/// Migrates `storage`'s database, creates its master key file and stores the seed keys, as
/// [`spawn_app`] does: for tests that start `gatehouse` processes on it and are not about
/// the first start (each process would otherwise generate keys the others throw away).
pub async fn seed_storage(storage: &Storage) {
    let settings = Settings::from_args(&SettingsArgs {
        database_url: Some(storage.database_url.clone()),
        master_key_file: Some(storage.master_key_file().display().to_string()),
        ..Default::default()
    })
    .expect("settings");
    seed_signing_keys(&settings, Clock::system().now()).await;
}

/// Stores the seed keys as current, next and standby, sealed under this test's master key, by the
/// code a server's first start stores the keys it generates with; the database is migrated
/// and the master key file created by the server's own start-up code.
pub(super) async fn seed_signing_keys(settings: &Settings, now: i64) {
    let seeds = tokio::task::spawn_blocking(|| (0..SEED_KEYS).map(pooled_key).collect())
        .await
        .expect("seed keys");
    let db = gatehouse::startup::open_database(settings)
        .await
        .expect("database");
    let master = gatehouse::startup::load_master_keys(settings, &db)
        .await
        .expect("master key")
        .current;
    db.run(move |conn| rotation::fill_gaps(conn, seeds, &master, now))
        .await
        .expect("seed signing keys");
}
