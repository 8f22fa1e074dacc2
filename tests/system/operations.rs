//! What an operator runs beside the server: `backup` under load and `restore` into a fresh
//! directory (SQLite; PostgreSQL is pointed at pg_dump), the checks that keep a restore from
//! replacing a database with something that would not start, and the first start that says
//! what to do next.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{run_cli, run_cli_env, Backend, ServerProcess, Storage};

both_backends!(a_first_start_says_how_to_create_the_first_admin_until_one_exists,);

const ISSUER: &str = "http://gatehouse.test";

async fn start(storage: &Storage, name: &str) -> ServerProcess {
    let mut server = ServerProcess::spawn(storage, ISSUER, name);
    assert!(
        server.ready(&reqwest::Client::new(), 60).await,
        "{name} never got ready:\n{}",
        server.log_text()
    );
    server
}

async fn add_user(storage: &Storage, name: &str, admin: bool) {
    let mut args = vec!["user", "add", name, "--password-stdin"];
    if admin {
        args.push("--admin");
    }
    let out = run_cli(storage, &args, "correct horse battery\n").await;
    assert!(out.status.success(), "{}", out.stderr);
}

async fn pair(http: &reqwest::Client, server: &ServerProcess) -> (String, String) {
    let resp = http
        .post(server.url("/api/token/"))
        .json(&json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    (
        body["access"].as_str().unwrap().into(),
        body["refresh"].as_str().unwrap().into(),
    )
}

async fn refresh(http: &reqwest::Client, server: &ServerProcess, token: &str) -> Option<String> {
    let resp = http
        .post(server.url("/api/token/refresh/"))
        .json(&json!({ "refresh": token }))
        .send()
        .await
        .unwrap();
    if resp.status() != 200 {
        return None;
    }
    let body: Value = resp.json().await.unwrap();
    body["refresh"].as_str().map(String::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_refresh_load_restores_into_a_fresh_directory() {
    let storage = Storage::new(Backend::Sqlite).unwrap();
    add_user(&storage, "alice", false).await;
    let server = start(&storage, "before").await;
    let http = reqwest::Client::new();
    let (_, kept) = pair(&http, &server).await;

    // Refreshes go on, each spending the last token, while the backup is taken.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..2 {
        let (_, mut token) = pair(&http, &server).await;
        let (http, url, stop) = (http.clone(), server.url(""), stop.clone());
        load.push(tokio::spawn(async move {
            let mut done = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let resp = http
                    .post(format!("{url}/api/token/refresh/"))
                    .json(&json!({ "refresh": token }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "a refresh failed during the backup");
                let body: Value = resp.json().await.unwrap();
                token = body["refresh"].as_str().unwrap().into();
                done += 1;
            }
            done
        }));
    }
    let file = storage.dir.path().join("backup.db");
    let out = run_cli(&storage, &["backup", file.to_str().unwrap()], "").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut refreshed = 0;
    for task in load {
        refreshed += task.await.unwrap();
    }
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(refreshed > 0, "the load ran beside the backup");
    assert!(
        out.stdout.contains("1 users, 1 clients, 3 signing keys"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("keep a copy of the master key"));
    let again = run_cli(&storage, &["backup", file.to_str().unwrap()], "").await;
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing file is never overwritten"
    );
    assert!(again.stderr.contains("exists already"), "{}", again.stderr);

    // A fresh directory that holds nothing but a copy of the master key.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Storage::on_database(format!(
        "sqlite://{}",
        fresh_dir.path().join("restored.db").display()
    ));
    std::fs::create_dir_all(fresh.master_key_file().parent().unwrap()).unwrap();
    std::fs::copy(storage.master_key_file(), fresh.master_key_file()).unwrap();
    let out = run_cli(&fresh, &["restore", file.to_str().unwrap()], "").await;
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    let restored = start(&fresh, "after").await;
    assert!(
        refresh(&http, &restored, &kept).await.is_some(),
        "a refresh token issued before the backup works after the restore:\n{}",
        restored.log_text()
    );
    assert!(
        refresh(&http, &restored, &kept).await.is_none(),
        "and is spent by that use, as before"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_refuses_what_would_not_start_and_changes_nothing() {
    let storage = Storage::new(Backend::Sqlite).unwrap();
    add_user(&storage, "alice", false).await;
    let server = start(&storage, "live").await;
    let file = storage.dir.path().join("backup.db");
    let out = run_cli(&storage, &["backup", file.to_str().unwrap()], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    let live = storage.dir.path().join("gatehouse.db");
    let entries = || {
        let mut names: Vec<String> = std::fs::read_dir(storage.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };

    // The server has the database open.
    let before = entries();
    let out = run_cli(&storage, &["restore", file.to_str().unwrap()], "").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("is in use"), "{}", out.stderr);
    assert_eq!(entries(), before, "nothing was moved or left behind");
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let live_bytes = std::fs::read(&live).unwrap();

    // Not a database, a database of another program, a backup under another master key.
    let junk = storage.dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let other = storage.dir.path().join("other.db");
    {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut conn = diesel::SqliteConnection::establish(other.to_str().unwrap()).unwrap();
        conn.batch_execute("CREATE TABLE notes (body TEXT)")
            .unwrap();
    }
    let other_key = storage.dir.path().join("other.key");
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    std::fs::write(&other_key, format!("{key}\n")).unwrap();
    /// A backup, the environment of the restore, and the reason it gives.
    type Case<'a> = (&'a std::path::Path, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 3] = [
        (&junk, &[], "not a SQLite database"),
        (&other, &[], "not a Gatehouse database"),
        (
            &file,
            &[("GATEHOUSE_MASTER_KEY_FILE", other_key.to_str().unwrap())],
            "is another",
        ),
    ];
    for (source, env, reason) in cases {
        let out = run_cli_env(&storage, &["restore", source.to_str().unwrap()], "", env).await;
        assert_eq!(out.status.code(), Some(1), "{}", source.display());
        assert!(
            out.stderr.contains(reason) && out.stderr.contains("nothing was changed"),
            "{}: {}",
            source.display(),
            out.stderr
        );
        assert_eq!(std::fs::read(&live).unwrap(), live_bytes);
        assert!(
            !storage.dir.path().join("gatehouse.db.restoring").exists(),
            "the staged copy is removed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_on_postgresql_name_pg_dump_and_change_nothing() {
    let Some(storage) = Storage::migrated(Backend::Postgres) else {
        return;
    };
    for command in ["backup", "restore"] {
        let file = storage.dir.path().join("x.db");
        if command == "restore" {
            std::fs::write(&file, b"x").unwrap();
        }
        let out = run_cli(&storage, &[command, file.to_str().unwrap()], "").await;
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(out.stderr.contains("pg_dump"), "{command}: {}", out.stderr);
    }
    assert!(!storage.dir.path().join("x.db.partial").exists());
}

async fn a_first_start_says_how_to_create_the_first_admin_until_one_exists(backend: Backend) {
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    let first = start(&storage, "first").await;
    let said = |log: &str| {
        log.contains("no admin user yet: create the first with `gatehouse user add NAME --admin`")
    };
    assert!(said(&first.log_text()), "{}", first.log_text());
    assert!(first
        .log_text()
        .contains("console=http://gatehouse.test/console"));
    let check = run_cli_env(&storage, &["check"], "", &[("GATEHOUSE_ISSUER", ISSUER)]).await;
    assert!(check.status.success(), "{}", check.stdout);
    assert!(
        check.stdout.contains("warning  users: no admin user yet")
            && check
                .stdout
                .contains("the console http://gatehouse.test/console"),
        "{}",
        check.stdout
    );
    drop(first);

    add_user(&storage, "root", true).await;
    let second = start(&storage, "second").await;
    assert!(!said(&second.log_text()), "{}", second.log_text());
    let check = run_cli(&storage, &["check"], "").await;
    assert!(
        check
            .stdout
            .contains("ok       users: an enabled admin exists"),
        "{}",
        check.stdout
    );
}
