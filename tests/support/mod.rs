//! The harness of the black-box tests. `spawn_app()` starts a real Gatehouse in-process on
//! a loopback port of its own, on a fresh SQLite file or a freshly created PostgreSQL
//! database, with its own master key and a manual clock that stands still until the test
//! moves it. The other helpers run the `gatehouse` binary (the CLI, `gatehouse serve`
//! processes), poll for what background tasks and other processes do, and read tokens.

pub mod receiver;
pub mod totp;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use gatehouse::accounts::{NewClientRequest, NewUserRequest};
use gatehouse::clock::Clock;
use gatehouse::config::{Settings, SettingsArgs};
use gatehouse::keys::rotation::{self, GeneratedKey, KeyGenerator};
use gatehouse::keys::Alg;
use gatehouse::passwords::Password;
use gatehouse::startup::Application;
use gatehouse::state::AppState;
use tokio::io::AsyncWriteExt;

// ---------------------------------------------------------------------------------------
// Backends.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend for each async test function `name(backend)`:
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// Says SKIP visibly; under CI=true a skip is a failure.
pub fn skip(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is required when CI=true");
    }
    // Written to the stderr handle, not through eprintln!, so the test harness does not
    // capture it: a skip must be visible.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIP: {what} is not available (set it up, or run .ci/run)"
    );
}

// ---------------------------------------------------------------------------------------
// Storage: a fresh database per test.

/// A PostgreSQL database of the test's own, named `gatehouse_test_<pid>_<uuid>`.
///
/// Creating and dropping a database per test cost PostgreSQL tests about 0.8 s each in the
/// full suite: `CREATE DATABASE` writes a copy of `template1` (7.5 MB of pages, all dirty)
/// and `DROP DATABASE` forces an immediate checkpoint, which writes out everybody's dirty
/// pages and waits for them. So a database whose test has ended is kept as a spare: nobody
/// may connect to it, and the next test that needs one gets it back in the state of a new
/// one, empty or freshly migrated (see [`migrated_and_empty`]). The spares are dropped when
/// the test process exits, and the next run drops those of a run that was killed.
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

/// The URL of database `name` on the server of `admin_url`.
fn pg_url(admin_url: &str, name: &str) -> String {
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    format!("{base}/{name}")
}

fn pg_execute(conn: &mut diesel::PgConnection, sql: &str) -> diesel::QueryResult<usize> {
    diesel::sql_query(sql).execute(conn)
}

/// Drops a test database even while sessions are still on it; a failure leaves it for the
/// clean-up of a later run.
fn pg_drop_database(admin: &mut diesel::PgConnection, name: &str) {
    let _ = pg_execute(
        admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    );
}

/// Databases whose tests have ended, with the moment they were handed back.
static SPARE_PG_DATABASES: std::sync::Mutex<Vec<(String, std::time::Instant)>> =
    std::sync::Mutex::new(Vec::new());

/// How long a spare rests before reuse: its former server may still be shutting down in
/// the thread of the test that ended (its connections are refused meanwhile).
const SPARE_REST: std::time::Duration = std::time::Duration::from_secs(1);

/// Once per process: drop what a killed earlier run left, and register the exit clean-up.
fn pg_first_use(admin: &mut diesel::PgConnection) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        drop_databases_of_dead_runs(admin);
        // SAFETY: registers a function that captures nothing; the test harness ends with
        // `exit`, which runs it once after the last test.
        unsafe { libc::atexit(drop_spare_databases) };
    });
}

extern "C" fn drop_spare_databases() {
    let Ok(admin_url) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
        return;
    };
    let Ok(mut admin) = diesel::PgConnection::establish(&admin_url) else {
        return;
    };
    let spares = std::mem::take(&mut *SPARE_PG_DATABASES.lock().unwrap_or_else(|e| e.into_inner()));
    for (name, _) in spares {
        pg_drop_database(&mut admin, &name);
    }
}

fn drop_databases_of_dead_runs(admin: &mut diesel::PgConnection) {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let Ok(names) = diesel::sql_query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'gatehouse\\_test\\_%'",
    )
    .load::<Name>(admin) else {
        return;
    };
    for Name { datname } in names {
        let pid = datname
            .split('_')
            .nth(2)
            .and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            pg_drop_database(admin, &datname);
        }
    }
}

impl PgDatabase {
    /// An empty database, for tests of what happens on a fresh one (migrations, the first
    /// start).
    pub fn create() -> Option<PgDatabase> {
        Self::create_with(false)
    }

    /// A database that already holds the schema.
    pub fn create_migrated() -> Option<PgDatabase> {
        Self::create_with(true)
    }

    fn create_with(schema: bool) -> Option<PgDatabase> {
        let Ok(admin_url) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
            skip("PostgreSQL (GATEHOUSE_TEST_POSTGRES_URL)");
            return None;
        };
        let mut admin = diesel::PgConnection::establish(&admin_url)
            .expect("connect to GATEHOUSE_TEST_POSTGRES_URL");
        pg_first_use(&mut admin);
        loop {
            let (name, fresh) = match Self::take_spare(&mut admin) {
                Some(name) => (name, false),
                None => {
                    let name = format!(
                        "gatehouse_test_{}_{}",
                        std::process::id(),
                        uuid::Uuid::new_v4().simple()
                    );
                    pg_execute(&mut admin, &format!("CREATE DATABASE {name}"))
                        .expect("create test database");
                    (name, true)
                }
            };
            let url = pg_url(&admin_url, &name);
            let prepared = diesel::PgConnection::establish(&url)
                .map_err(|e| e.to_string())
                .and_then(|mut conn| match (fresh, schema) {
                    (true, false) => Ok(()),
                    (_, true) => migrated_and_empty(conn),
                    (false, false) => empty_schema(&mut conn),
                });
            match prepared {
                Ok(()) => {
                    return Some(PgDatabase {
                        admin_url,
                        name,
                        url,
                    })
                }
                Err(e) if fresh => panic!("prepare the test database {name}: {e}"),
                // A spare that cannot be prepared is dropped, and the next one tried.
                Err(_) => {
                    pg_drop_database(&mut admin, &name);
                }
            }
        }
    }

    /// A spare that has rested, open to connections again.
    fn take_spare(admin: &mut diesel::PgConnection) -> Option<String> {
        loop {
            let name = {
                let mut spares = SPARE_PG_DATABASES.lock().unwrap_or_else(|e| e.into_inner());
                let rested = spares
                    .iter()
                    .position(|(_, at)| at.elapsed() >= SPARE_REST)?;
                spares.swap_remove(rested).0
            };
            let opened = pg_execute(
                admin,
                &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"),
            );
            if opened.is_ok() {
                return Some(name);
            }
            pg_drop_database(admin, &name);
        }
    }
}

/// The tables of the schema and the rows the migrations put in them (as JSON), taken from
/// the first database this process migrates.
struct MigratedContent {
    migrations: i64,
    tables: Vec<(String, String)>,
}

static PG_MIGRATED_CONTENT: std::sync::OnceLock<MigratedContent> = std::sync::OnceLock::new();

#[derive(diesel::QueryableByName)]
struct TableRows {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    rows: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

/// Every table of `public` but the migrations' own, by name.
fn table_names(conn: &mut diesel::PgConnection) -> diesel::QueryResult<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        tablename: String,
    }
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT tablename::text AS tablename FROM pg_tables WHERE schemaname = 'public' \
         AND tablename <> '__diesel_schema_migrations' ORDER BY tablename",
    )
    .load(conn)?;
    Ok(tables.into_iter().map(|t| t.tablename).collect())
}

/// Every table of [`table_names`] with its rows as a JSON array.
fn table_contents(conn: &mut diesel::PgConnection) -> diesel::QueryResult<Vec<TableRows>> {
    table_names(conn)?
        .into_iter()
        .map(|tablename| {
            diesel::sql_query(format!(
                "SELECT '{tablename}' AS name, coalesce(json_agg(t)::text, '[]') AS rows \
                 FROM {tablename} t"
            ))
            .get_result::<TableRows>(conn)
        })
        .collect()
}

fn applied_migrations(conn: &mut diesel::PgConnection) -> diesel::QueryResult<i64> {
    diesel::sql_query("SELECT count(*) AS count FROM __diesel_schema_migrations")
        .get_result::<Count>(conn)
        .map(|c| c.count)
}

/// A new, empty `public` schema: a spare back to the state of a new database.
fn empty_schema(conn: &mut diesel::PgConnection) -> Result<(), String> {
    conn.batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        .map_err(|e| e.to_string())
}

/// Brings a database to the state of a freshly migrated one. A spare that already holds
/// the whole schema is emptied with DELETEs and given back the migrations' rows, in one
/// transaction; anything else gets a new `public` schema and the migrations.
fn migrated_and_empty(mut conn: diesel::PgConnection) -> Result<(), String> {
    if let Some(content) = PG_MIGRATED_CONTENT.get() {
        let same_schema = applied_migrations(&mut conn).ok() == Some(content.migrations)
            && table_names(&mut conn)
                .is_ok_and(|now| now.iter().eq(content.tables.iter().map(|(name, _)| name)));
        if same_schema {
            // Replica mode: no foreign-key checks while the tables are emptied in any order.
            let mut reset = String::from("BEGIN; SET LOCAL session_replication_role = replica; ");
            for (table, rows) in &content.tables {
                reset.push_str(&format!("DELETE FROM {table}; "));
                if rows != "[]" {
                    let rows = rows.replace('\'', "''");
                    reset.push_str(&format!(
                        "INSERT INTO {table} SELECT * FROM json_populate_recordset(NULL::{table}, '{rows}'); "
                    ));
                }
            }
            reset.push_str("COMMIT;");
            return conn.batch_execute(&reset).map_err(|e| e.to_string());
        }
    }
    empty_schema(&mut conn)?;
    let mut db = gatehouse::db::DbConn::Pg(conn);
    gatehouse::db::migrate::run_pending(&mut db).map_err(|e| e.to_string())?;
    let gatehouse::db::DbConn::Pg(mut conn) = db else {
        unreachable!("a PostgreSQL connection")
    };
    if PG_MIGRATED_CONTENT.get().is_none() {
        let migrations = applied_migrations(&mut conn).map_err(|e| e.to_string())?;
        let tables = table_contents(&mut conn).map_err(|e| e.to_string())?;
        let _ = PG_MIGRATED_CONTENT.set(MigratedContent {
            migrations,
            tables: tables.into_iter().map(|t| (t.name, t.rows)).collect(),
        });
    }
    Ok(())
}

impl Drop for PgDatabase {
    /// Ends the test's sessions, closes the database to new ones and keeps it as a spare (or
    /// drops it when that fails).
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Runs on its own thread: Drop may happen inside the async runtime.
        let _ = std::thread::spawn(move || {
            let Ok(mut conn) = diesel::PgConnection::establish(&admin_url) else {
                return;
            };
            // The test's server may still hold connections: refuse new ones, end the old ones.
            let closed = pg_execute(&mut conn, &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
            let _ = pg_execute(
                &mut conn,
                &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
            );
            let mut ended = false;
            for _ in 0..500 {
                let left = pg_execute(
                    &mut conn,
                    &format!("SELECT pid FROM pg_stat_activity WHERE datname = '{name}'"),
                );
                if left.is_ok_and(|rows| rows == 0) {
                    ended = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            if closed.is_ok() && ended {
                SPARE_PG_DATABASES
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((name, std::time::Instant::now()));
            } else {
                pg_drop_database(&mut conn, &name);
            }
        })
        .join();
    }
}

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

// ---------------------------------------------------------------------------------------
// The server under test, in-process.

/// A server started by [`spawn_app`], and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub http: reqwest::Client,
    pub settings: Settings,
    pub storage: Storage,
    /// The server's services, for seeding users and clients in-process.
    pub state: AppState,
    /// The server's clock: it stands still until a test moves it.
    pub clock: Clock,
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// Starts a server; `configure` may change any setting (durations are shortened this way).
/// Its database already holds the process-wide seed signing keys (see [`pooled_key`]) unless
/// `configure` asks for another key size.
pub async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut SettingsArgs),
) -> Option<TestApp> {
    let storage = Storage::migrated(backend)?;
    spawn_on(storage, configure, KeySource::Seeded).await
}

/// Starts a server on an empty database for tests of the first start itself: the server
/// creates its master key file and generates its own signing keys.
pub async fn spawn_app_first_start(backend: Backend) -> Option<TestApp> {
    let storage = Storage::new(backend)?;
    spawn_on(storage, |_| {}, KeySource::FirstStart).await
}

/// Where a test server's signing keys come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeySource {
    /// The seed keys, stored before the server starts.
    Seeded,
    /// Generated by the server at its first start.
    FirstStart,
}

async fn spawn_on(
    storage: Storage,
    configure: impl FnOnce(&mut SettingsArgs),
    keys: KeySource,
) -> Option<TestApp> {
    // Bound here and handed over: the port is known before the issuer is set, and no other
    // process can take it in between.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut args = SettingsArgs {
        bind: Some(format!("127.0.0.1:{port}")),
        database_url: Some(storage.database_url.clone()),
        master_key_file: Some(storage.master_key_file().display().to_string()),
        workers: Some("2".into()),
        hash_workers: Some("2".into()),
        db_pool_size: Some("4".into()),
        // The key upkeep runs whenever the test moves the clock; its real-time poll is pushed
        // out of the way so that no test can pass by waiting for it.
        key_poll_interval: Some("1h".into()),
        ..Default::default()
    };
    configure(&mut args);
    let settings = Settings::from_args(&args).expect("settings");
    let clock = Clock::manual(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64,
    );
    let generator = match keys {
        KeySource::Seeded => storage.key_generator(),
        KeySource::FirstStart => rotation::generator(),
    };
    if keys == KeySource::Seeded && settings.key_size == SEED_KEY_BITS {
        seed_signing_keys(&settings, clock.now()).await;
    }
    let app = Application::build_on(settings.clone(), listener, clock.clone(), generator)
        .await
        .expect("application builds");
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    Some(TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        settings,
        storage,
        state,
        clock,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Moves the server's clock forward by `secs` seconds.
    pub fn advance(&self, secs: u64) {
        assert!(self.clock.advance(std::time::Duration::from_secs(secs)));
    }

    /// Creates a user in-process, through the same service the CLI and admin API use.
    pub async fn add_user(&self, name: &str, password: &str, admin: bool) {
        self.state
            .accounts
            .create_user(NewUserRequest {
                username: name.into(),
                email: None,
                password: Password::new(password.into()),
                is_admin: admin,
            })
            .await
            .expect("user add");
    }

    /// Registers a client in-process from `gatehouse client add` arguments (parsed by the
    /// CLI's own parser); returns its secret when confidential.
    pub async fn add_client(&self, args: &[&str]) -> Option<String> {
        use gatehouse::cli::{ClientCommand, Command};
        let argv = ["gatehouse", "client", "add"].iter().chain(args);
        let cli = gatehouse::cli::Cli::try_parse_from(argv).expect("client add arguments");
        let Some(Command::Client(ClientCommand::Add {
            id,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            grants,
            scopes,
            consent,
            introspect_any,
            access_alg,
            id_token_alg,
            ..
        })) = cli.command
        else {
            panic!("not a client add command: {args:?}");
        };
        let (_, secret) = self
            .state
            .accounts
            .create_client(NewClientRequest {
                client_id: id,
                public,
                redirect_uris,
                post_logout_redirect_uris,
                grants,
                scopes,
                consent,
                introspect_any,
                access_token_alg: access_alg,
                id_token_alg,
            })
            .await
            .expect("client add");
        secret
    }

    /// Creates the admin user `root` and the confidential client `adm` (password grant,
    /// scopes `admin openid`) and returns an access token carrying scope `admin`.
    pub async fn admin_token(&self) -> String {
        self.add_user("root", ADMIN_PASSWORD, true).await;
        let secret = self
            .add_client(&["adm", "--grant", "password", "--scope", "admin", "openid"])
            .await
            .expect("adm is confidential");
        let resp = password_grant(
            &self.http,
            &self.address,
            "adm",
            &secret,
            "root",
            ADMIN_PASSWORD,
            "admin",
        )
        .await;
        assert_eq!(resp.status(), 200, "admin token");
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(body["scope"], "admin");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// The stored signing keys, read in-process through the use case behind
    /// `gatehouse keys list` (tests of the command itself use [`cli_keys_list`]).
    pub async fn stored_keys(&self) -> Vec<KeyRow> {
        let records = self.state.keys.list().await.expect("list keys");
        records
            .into_iter()
            .map(|k| KeyRow {
                kid: k.kid,
                state: k.state.as_str().to_string(),
                created_at: k.created_at,
                activated_at: k.activated_at,
            })
            .collect()
    }

    /// Runs the `gatehouse` binary against this app's database, feeding `stdin`.
    pub async fn cli(&self, args: &[&str], stdin: &str) -> CliOutput {
        run_cli(&self.storage, args, stdin).await
    }

    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// `POST` with a form body and no client authentication.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("request")
    }

    /// `POST` with a form body and `client_secret_basic` client authentication.
    pub async fn post_form_basic(
        &self,
        path: &str,
        client_id: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .basic_auth(client_id, Some(secret))
            .form(form)
            .send()
            .await
            .expect("request")
    }

    /// `POST /api/token/` with a form body.
    pub async fn simplejwt_login(&self, username: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/token/"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .expect("request")
    }

    /// Logs in and returns (access, refresh).
    pub async fn tokens(&self, username: &str, password: &str) -> (String, String) {
        let resp = self.simplejwt_login(username, password).await;
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.expect("json");
        (
            body["access"].as_str().expect("access").to_string(),
            body["refresh"].as_str().expect("refresh").to_string(),
        )
    }

    /// `GET /userinfo` with `token` as the bearer token.
    pub async fn userinfo(&self, token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn jwks(&self) -> serde_json::Value {
        self.http
            .get(self.url("/.well-known/jwks.json"))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    /// The kid of the current signing key, read in-process.
    pub async fn current_kid(&self) -> String {
        let keys = self.state.keys.list().await.expect("keys");
        keys.iter()
            .find(|k| k.state.as_str() == "current")
            .expect("a current key")
            .kid
            .clone()
    }

    /// `GET /metrics` as text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("text")
    }
}

/// Password of the admin user [`TestApp::admin_token`] creates.
pub const ADMIN_PASSWORD: &str = "root password for tests";

// ---------------------------------------------------------------------------------------
// Signing keys made once per test process.

const SEED_KEY_BITS: usize = 2048;
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
async fn seed_signing_keys(settings: &Settings, now: i64) {
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

// ---------------------------------------------------------------------------------------
// A user agent: the login page and redirects, step by step.

/// A user agent: keeps cookies and follows no redirect, so each step can be checked.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Location` header, or "".
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// A query parameter of `url`, decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The value of the hidden form field `name` in a page, unescaped.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden field {name}"))
        + marker.len();
    let end = html[start..].find('"').unwrap();
    unescape(&html[start..start + end])
}

/// The `action` of every form of a page, as written (a relative URL to resolve).
pub fn form_actions(html: &str) -> Vec<String> {
    html.split("<form ")
        .skip(1)
        .filter_map(|form| form.split("action=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(unescape)
        .collect()
}

/// Decodes the HTML character references askama writes (`&amp;`, `&#39;`, `&#x2f;`, ...).
pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').unwrap_or(0);
        let entity = &tail[1..end.max(1)];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) if end > 0 => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            _ => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Follows /authorize to the login form, signs alice in with `password`, and returns the
/// callback URL.
pub async fn sign_in(app: &TestApp, b: &reqwest::Client, url: &str, password: &str) -> String {
    let resp = b.get(url).send().await.unwrap();
    let status = resp.status();
    let login = location(&resp);
    assert_eq!(
        status,
        reqwest::StatusCode::FOUND,
        "{url}: {}",
        resp.text().await.unwrap()
    );
    assert!(login.starts_with("/login?"), "{login}");
    let page = b
        .get(app.url(&login))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (csrf, back) = (hidden(&page, "csrf"), hidden(&page, "return_to"));
    let resp = b
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("return_to", back.as_str()),
            ("username", "alice"),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        reqwest::StatusCode::SEE_OTHER,
        "login should succeed"
    );
    let back = location(&resp);
    let resp = b.get(app.url(&back)).send().await.unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::FOUND);
    location(&resp)
}

// ---------------------------------------------------------------------------------------
// Requests and what their answers must be.

/// `POST /token` with the password grant and `client_secret_basic`.
#[allow(clippy::too_many_arguments)]
pub async fn password_grant(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    client_secret: &str,
    username: &str,
    password: &str,
    scope: &str,
) -> reqwest::Response {
    http.post(format!("{base}/token"))
        .basic_auth(client_id, Some(client_secret))
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("scope", scope),
        ])
        .send()
        .await
        .expect("request")
}

/// A response's status and JSON body; panics with the raw text when the body is not JSON.
pub async fn status_json(resp: reqwest::Response) -> (reqwest::StatusCode, serde_json::Value) {
    let status = resp.status();
    let text = resp.text().await.expect("response body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{status}: the body is not JSON: {text:?}"));
    (status, body)
}

/// RFC 6750 §3.1: a bearer token was presented and refused: 401 `invalid_token`, and a
/// challenge that names the error.
pub async fn assert_invalid_token(resp: reqwest::Response, what: &str) {
    let challenge = www_authenticate(&resp);
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"], "invalid_token", "{what}: {body}");
    assert_eq!(
        challenge, r#"Bearer realm="gatehouse", error="invalid_token""#,
        "{what}"
    );
}

/// RFC 6750 §3.1: no bearer token at all (none sent, or another scheme): 401 with a bare
/// challenge that names no error.
pub async fn assert_bearer_token_required(resp: reqwest::Response, what: &str) {
    let challenge = www_authenticate(&resp);
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"], "invalid_token", "{what}: {body}");
    assert_eq!(challenge, r#"Bearer realm="gatehouse""#, "{what}");
}

fn www_authenticate(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------------------
// Tokens, as a downstream service (or an attacker) sees them.

/// Decodes a JWT's header and claims without verifying (for looking, not trusting).
pub fn peek(token: &str) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine;
    let mut parts = token.split('.');
    let mut next = || {
        let seg = parts.next().expect("segment");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(seg)
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("json")
    };
    let header = next();
    let claims = next();
    (header, claims)
}

/// Verifies an RS256 token with the jsonwebtoken crate against a fetched JWKS, as any
/// downstream service would.
pub fn verify_with_jwks(
    token: &str,
    jwks: &serde_json::Value,
    issuer: &str,
) -> Result<serde_json::Value, String> {
    let (header, _) = peek(token);
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(jwks.clone()).map_err(|e| e.to_string())?;
    let jwk = set
        .find(kid)
        .ok_or_else(|| format!("kid {kid} not in JWKS"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    // The key decides the algorithm (RFC 8725 §3.1), never the token's header.
    let published = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .and_then(|k| k["alg"].as_str())
        .ok_or("the JWK names no alg")?;
    let alg = match published {
        "RS256" => jsonwebtoken::Algorithm::RS256,
        "ES256" => jsonwebtoken::Algorithm::ES256,
        "EdDSA" => jsonwebtoken::Algorithm::EdDSA,
        other => return Err(format!("unexpected alg {other}")),
    };
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

/// base64url without padding, as JWT segments are encoded.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Assembles a JWT from a header, a claim set and a signature segment as given, signing
/// nothing: for forging hostile tokens.
pub fn assemble_jwt(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    signature: &str,
) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        signature
    )
}

// ---------------------------------------------------------------------------------------
// Waiting for background tasks and other processes.

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

// ---------------------------------------------------------------------------------------
// The `gatehouse` command line.

/// What a finished `gatehouse` command printed.
pub struct CliOutput {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

pub async fn run_cli(storage: &Storage, args: &[&str], stdin: &str) -> CliOutput {
    run_cli_env(storage, args, stdin, &[]).await
}

/// Like [`run_cli`], with extra environment variables (a different master key, say).
pub async fn run_cli_env(
    storage: &Storage,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> CliOutput {
    run_cli_with(storage, args, stdin, env, &[]).await
}

/// Like [`run_cli_env`], without the variables `unset` of this process's environment.
pub async fn run_cli_with(
    storage: &Storage,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
    unset: &[&str],
) -> CliOutput {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    for name in unset {
        command.env_remove(name);
    }
    let mut child = command
        .args(args)
        .envs(storage.env())
        .env("GATEHOUSE_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn gatehouse");
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .await
            .expect("write stdin");
    }
    let out = child.wait_with_output().await.expect("gatehouse finishes");
    CliOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One signing key as `gatehouse keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub kid: String,
    pub state: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
}

/// A time as `gatehouse keys list` shows it (RFC 3339, UTC) as Unix seconds; `None` for `-`.
pub fn listed_time(shown: &str) -> Option<i64> {
    time::OffsetDateTime::parse(shown, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Runs `gatehouse keys list` on `storage` and parses its table.
pub async fn cli_keys_list(storage: &Storage) -> Vec<KeyRow> {
    let out = run_cli(storage, &["keys", "list"], "").await;
    assert!(out.status.success(), "keys list failed: {}", out.stderr);
    let mut lines = out.stdout.lines();
    let header = lines.next().expect("keys list prints a header");
    assert!(header.starts_with("KID\tSTATE"), "header: {header}");
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() >= 5, "keys list row: {l}");
            KeyRow {
                kid: cols[0].to_string(),
                state: cols[1].to_string(),
                created_at: listed_time(cols[3]).expect("created_at is a date"),
                activated_at: listed_time(cols[4]),
            }
        })
        .collect()
}

/// The `kid`s a JWKS document lists.
pub fn kids(jwks: &serde_json::Value) -> std::collections::BTreeSet<String> {
    jwks["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_string())
        .collect()
}

/// The kids of `keys list` rows in `state`.
pub fn with_state(rows: &[KeyRow], state: &str) -> Vec<String> {
    rows.iter()
        .filter(|r| r.state == state)
        .map(|r| r.kid.clone())
        .collect()
}

/// The one kid of `keys list` rows in `state`; panics unless there is exactly one.
pub fn only(rows: &[KeyRow], state: &str) -> String {
    let found = with_state(rows, state);
    assert_eq!(found.len(), 1, "exactly one {state} key: {rows:?}");
    found[0].clone()
}

/// The `kid` in a token's header.
pub fn kid_of(token: &str) -> String {
    peek(token).0["kid"]
        .as_str()
        .expect("kid in header")
        .to_string()
}

// ---------------------------------------------------------------------------------------
// `gatehouse serve` processes.

/// A port that was free a moment ago. Only for a process that must know its port before it
/// starts and cannot report one it chose itself (nginx, whose port is in the issuer): another
/// process may take the port in between, so everything else binds port 0.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A `gatehouse serve` child process on a shared [`Storage`]; killed when dropped. It binds
/// `127.0.0.1:0` itself, so no other process can take its port between a pick and a bind.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`, known once [`ServerProcess::ready`] has read the port from
    /// the start-up log line; empty before.
    pub address: String,
    pub log: PathBuf,
}

impl ServerProcess {
    /// Starts `gatehouse serve` with `issuer`, polling keys every second.
    pub fn spawn(storage: &Storage, issuer: &str, name: &str) -> ServerProcess {
        ServerProcess::spawn_with_env(storage, issuer, name, &[])
    }

    /// Like [`ServerProcess::spawn`], with extra (or overriding) environment variables.
    pub fn spawn_with_env(
        storage: &Storage,
        issuer: &str,
        name: &str,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let log = storage.dir.path().join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .envs(storage.env())
            .env("GATEHOUSE_BIND", "127.0.0.1:0")
            .env("GATEHOUSE_ISSUER", issuer)
            .env("GATEHOUSE_KEY_POLL_INTERVAL", "1s")
            .env("GATEHOUSE_WORKERS", "2")
            .env("GATEHOUSE_HASH_WORKERS", "1")
            .env("GATEHOUSE_DB_POOL_SIZE", "4")
            // Warnings, and the start-up line that names the port.
            .env("GATEHOUSE_LOG", "warn,gatehouse::startup=info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn gatehouse serve");
        ServerProcess {
            child,
            address: String::new(),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        assert!(!self.address.is_empty(), "the port is known once ready");
        format!("{}{}", self.address, path)
    }

    /// What the process wrote to stderr so far (for failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the process has logged the port it bound and `/readyz` answers 200 there;
    /// false when the process exited or `secs` passed. Its own loop rather than
    /// [`eventually`]: it must stop as soon as the process exits.
    pub async fn ready(&mut self, http: &reqwest::Client, secs: u64) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if self.address.is_empty() {
                if let Some(port) = serving_port(&self.log_text()) {
                    self.address = format!("http://127.0.0.1:{port}");
                }
            }
            if !self.address.is_empty() {
                if let Ok(resp) = http.get(self.url("/readyz")).send().await {
                    if resp.status() == 200 {
                        return true;
                    }
                }
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// The port in the start-up line `gatehouse is serving` (target `gatehouse::startup`):
/// `port=N` in text logs, `"port":N` in JSON logs.
fn serving_port(log: &str) -> Option<u16> {
    let line = log.lines().find(|l| l.contains("gatehouse is serving"))?;
    let (_, rest) = line
        .split_once("port=")
        .or_else(|| line.split_once("\"port\":"))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
