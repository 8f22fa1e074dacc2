//! `gatehouse keys list` and `migrate` on a fresh and a served database, and a database from
//! before the standby key.

use super::*;

both_backends!(
    cli_keys_list_and_migrate_work_on_a_fresh_and_a_served_database,
    a_database_from_before_the_standby_key_migrates_and_gets_one_at_first_start,
);

async fn cli_keys_list_and_migrate_work_on_a_fresh_and_a_served_database(backend: Backend) {
    // A database no server has touched yet.
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    let out = run_cli(&storage, &["migrate"], "").await;
    ok(&out, "migrate on a fresh database");
    let out = run_cli(&storage, &["migrate"], "").await;
    ok(&out, "migrate again");
    assert!(out.stdout.contains("up to date"), "{}", out.stdout);
    let rows = cli_keys_list(&storage).await;
    let mut states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
    states.sort();
    assert_eq!(states, ["current", "next", "standby"], "{rows:?}");
    assert!(storage.master_key_file().exists());
    drop(storage);

    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let out = app.cli(&["migrate"], "").await;
    ok(&out, "migrate while serving");
    let out = app.cli(&["keys", "list"], "").await;
    ok(&out, "keys list");
    let header = out.stdout.lines().next().unwrap();
    assert_eq!(
        header.split('\t').collect::<Vec<_>>(),
        [
            "KID",
            "STATE",
            "BITS",
            "PUBLISHED",
            "ACTIVATED",
            "RETIRED",
            "REMOVE_AFTER",
            "ALG"
        ]
    );
    let rows = cli_keys_list(&app.storage).await;
    assert_eq!(rows.len(), 3);
    let jwks = app.jwks().await;
    for row in &rows {
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == row.kid.as_str()),
            "{} is published",
            row.kid
        );
    }
    // keys list only reads: listing twice changes nothing.
    assert_eq!(cli_keys_list(&app.storage).await, rows);
    assert!(!out.stdout.contains("PRIVATE") && !out.stdout.contains("BEGIN"));
}

/// A key's state, read straight from the database.
#[derive(diesel::QueryableByName)]
struct StoredState {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kid: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    state: String,
}

/// Takes `storage`'s database back to the schema before the standby key (the `down.sql`
/// of that migration and of every later one) and lists its keys as they are stored then.
fn before_the_standby_key(storage: &Storage) -> Vec<(String, String)> {
    use diesel::{Connection, RunQueryDsl};
    use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
    const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
    const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
    const LIST: &str = "SELECT kid, state FROM signing_keys ORDER BY state";
    // migrations/*/2026-12-07-000008_standby_key
    const STANDBY_MIGRATION: &str = "20261207000008";
    let rows: Vec<StoredState> = match storage.database_url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut conn = diesel::SqliteConnection::establish(path).expect("SQLite");
            while conn
                .revert_last_migration(SQLITE)
                .expect("revert")
                .to_string()
                != STANDBY_MIGRATION
            {}
            diesel::sql_query(LIST).load(&mut conn).expect("keys")
        }
        None => {
            let mut conn = diesel::PgConnection::establish(&storage.database_url).expect("PG");
            while conn
                .revert_last_migration(POSTGRES)
                .expect("revert")
                .to_string()
                != STANDBY_MIGRATION
            {}
            diesel::sql_query(LIST).load(&mut conn).expect("keys")
        }
    };
    rows.into_iter().map(|r| (r.kid, r.state)).collect()
}

async fn a_database_from_before_the_standby_key_migrates_and_gets_one_at_first_start(
    backend: Backend,
) {
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    ok(
        &run_cli(&storage, &["keys", "list"], "").await,
        "first start",
    );
    let old = before_the_standby_key(&storage);
    let states: Vec<&str> = old.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(states, ["current", "next"], "the schema of before: {old:?}");

    // The first start after the upgrade migrates and makes the missing standby key; the
    // current and next keys stay as they were.
    let rows = cli_keys_list(&storage).await;
    let kid_in = |state: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r.state == state)
            .map(|r| r.kid.clone())
            .collect()
    };
    assert_eq!(kid_in("current"), [old[0].0.clone()], "{rows:?}");
    assert_eq!(kid_in("next"), [old[1].0.clone()], "{rows:?}");
    assert_eq!(kid_in("standby").len(), 1, "{rows:?}");
    assert_eq!(rows.len(), 3, "{rows:?}");
}
