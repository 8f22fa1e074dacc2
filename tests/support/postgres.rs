//! A PostgreSQL database per test, created on the server of `GATEHOUSE_TEST_POSTGRES_URL`
//! and kept as a spare for the next test once its test has ended.

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};

use super::skip;

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
