//! A database that cannot serve is answered with 503 and `Retry-After`, never a 500 or a
//! hang, and the service resumes by itself when it can serve again. This runs in the default
//! `cargo test` (SQLite): another process holds the database's write lock, as a backup tool
//! or a stuck command would. The PostgreSQL server being stopped and started is
//! `stack::a_stopped_database_gives_prompt_503s_and_service_resumes_when_it_returns`.

use std::sync::mpsc;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use reqwest::StatusCode;

use crate::helpers::{spawn_app_with, status_json, Backend, TestApp};

const PASSWORD: &str = "alice's long password";

/// Holds SQLite's write lock from another connection until dropped.
struct WriteLock {
    release: mpsc::Sender<()>,
    done: Option<std::thread::JoinHandle<()>>,
}

impl WriteLock {
    fn take(app: &TestApp) -> WriteLock {
        let path = app
            .storage
            .database_url
            .strip_prefix("sqlite://")
            .expect("a SQLite app")
            .to_string();
        let (locked_tx, locked_rx) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let done = std::thread::spawn(move || {
            let mut conn = diesel::SqliteConnection::establish(&path).expect("open");
            conn.batch_execute("BEGIN EXCLUSIVE").expect("lock");
            locked_tx.send(()).expect("report");
            let _ = release_rx.recv();
            conn.batch_execute("ROLLBACK").expect("unlock");
        });
        locked_rx.recv().expect("locked");
        WriteLock {
            release,
            done: Some(done),
        }
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.release.send(());
        if let Some(done) = self.done.take() {
            let _ = done.join();
        }
    }
}

async fn login(app: &TestApp) -> reqwest::Response {
    app.simplejwt_login("alice", PASSWORD).await
}

async fn sign_in_page(app: &TestApp) -> reqwest::Response {
    // Any browser sign-in writes a session; the CSRF pair is the double-submit cookie.
    let csrf = "c".repeat(43);
    app.http
        .post(app.url("/login"))
        .header("cookie", format!("gh_csrf={csrf}"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_cannot_be_written_answers_503_then_recovers() {
    let Some(app) = spawn_app_with(Backend::Sqlite, |a| a.db_timeout = Some("1s".into())).await
    else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let (_, refresh) = app.tokens("alice", PASSWORD).await;

    let lock = WriteLock::take(&app);
    let resp = login(&app).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "server_error", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("temporarily unavailable")),
        "{body}"
    );
    let (status, body) = status_json(
        app.post_json(
            "/api/token/refresh/",
            serde_json::json!({ "refresh": refresh }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let page = sign_in_page(&app).await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(page.headers()["retry-after"], "1");
    let html = page.text().await.expect("page");
    assert!(html.contains("temporarily unavailable"), "{html}");
    // What needs no write keeps working from memory and reads.
    let jwks = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks");
    assert_eq!(jwks.status(), StatusCode::OK);

    drop(lock);
    assert_eq!(login(&app).await.status(), StatusCode::OK);
    assert_eq!(sign_in_page(&app).await.status(), StatusCode::OK);
    // The refresh token refused during the outage was not spent by it.
    let (status, body) = status_json(
        app.post_json(
            "/api/token/refresh/",
            serde_json::json!({ "refresh": refresh }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
