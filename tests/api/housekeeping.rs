//! Background housekeeping: once the clock has moved past their use, expired refresh records
//! and families, authorization codes, sessions, password reset links and failed-login windows
//! leave the database,
//! while live ones (and used codes whose tokens may still be replayed) stay.

use diesel::prelude::*;
use gatehouse::db::repo::sessions::{insert_code, try_use_code, AuthCode, Session};
use gatehouse::db::schema::{
    auth_codes, login_throttle, password_resets, refresh_families, refresh_tokens, sessions,
};
use gatehouse::db::DbError;
use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, TestApp};

both_backends!(expired_records_are_purged_in_the_background_and_live_ones_stay);

const MINUTE: u64 = 60;

/// What the test looks at in each table.
#[derive(Debug, PartialEq, Eq)]
struct Rows {
    families_of: Vec<String>,
    tokens_of: Vec<String>,
    codes: Vec<String>,
    sessions: Vec<String>,
    reset_links_of: Vec<String>,
    /// When each per-username window started (bucket names are digests).
    windows: Vec<i64>,
}

async fn rows(app: &TestApp) -> Rows {
    app.state
        .db
        .run(|conn| {
            let q = |e: diesel::result::Error| DbError::from_diesel(e);
            let mut families_of: Vec<String> = refresh_families::table
                .select(refresh_families::user_id.assume_not_null())
                .load(conn)
                .map_err(q)?;
            let mut tokens_of: Vec<String> = refresh_tokens::table
                .inner_join(refresh_families::table)
                .select(refresh_families::user_id.assume_not_null())
                .load(conn)
                .map_err(q)?;
            let mut codes: Vec<String> = auth_codes::table
                .select(auth_codes::code_hash)
                .load(conn)
                .map_err(q)?;
            let mut sessions: Vec<String> = sessions::table
                .select(sessions::sid)
                .load(conn)
                .map_err(q)?;
            let mut reset_links_of: Vec<String> = password_resets::table
                .select(password_resets::user_id)
                .load(conn)
                .map_err(q)?;
            let mut windows: Vec<i64> = login_throttle::table
                .select(login_throttle::window_start)
                .filter(login_throttle::bucket.like("user:%"))
                .load(conn)
                .map_err(q)?;
            for v in [
                &mut families_of,
                &mut tokens_of,
                &mut codes,
                &mut sessions,
                &mut reset_links_of,
            ] {
                v.sort();
            }
            windows.sort();
            Ok::<_, DbError>(Rows {
                families_of,
                tokens_of,
                codes,
                sessions,
                reset_links_of,
                windows,
            })
        })
        .await
        .expect("read tables")
}

async fn user_id(app: &TestApp, name: &str) -> String {
    app.state.accounts.find_user(name).await.expect("user").id
}

/// A session (`sid` = `name`) of `user` ending at `expires_at`, stored directly: the browser
/// flow that creates one is tested elsewhere.
async fn store_session(app: &TestApp, name: &str, user: &str, expires_at: i64) {
    let now = app.clock.now();
    let session = Session {
        id_hash: format!("hash-of-{name}"),
        sid: name.into(),
        user_id: user.into(),
        auth_time: now,
        created_at: now,
        expires_at,
        ended_at: None,
        last_used_at: None,
        address: None,
        browser: None,
        amr: "pwd".into(),
    };
    app.state
        .db
        .write(move |conn| gatehouse::db::repo::sessions::create_session(conn, &session))
        .await
        .expect("session stored");
}

/// An authorization code (digest `name`) for `user`, expiring at `expires_at`, used or not.
async fn store_code(app: &TestApp, name: &str, user: &str, expires_at: i64, used: bool) {
    let now = app.clock.now();
    let code = AuthCode {
        code_hash: name.into(),
        client_id: "simplejwt".into(),
        user_id: user.into(),
        sid: "s".into(),
        redirect_uri: "https://rp.example/cb".into(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        auth_time: now,
        expires_at,
        used_at: None,
        family_id: None,
        access_jti_hash: None,
        access_expires_at: None,
        amr: None,
    };
    let name = name.to_string();
    app.state
        .db
        .write(move |conn| {
            insert_code(conn, &code)?;
            if used {
                try_use_code(conn, &name, now)?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .expect("code stored");
}

async fn expired_records_are_purged_in_the_background_and_live_ones_stay(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |a| {
        a.refresh_ttl = Some("90m".into());
        a.refresh_max_lifetime = Some("90m".into());
        a.login_throttle = Some("5/90m".into());
    })
    .await
    else {
        return;
    };
    for name in ["alice", "carol"] {
        app.add_user(name, &format!("{name}'s long password"), false)
            .await;
    }
    let (alice, carol) = (user_id(&app, "alice").await, user_id(&app, "carol").await);
    let t0 = app.clock.now();

    // At t0: alice signs in (refresh record and family end at t0+90m), a guess at mallory's
    // password opens her failed-login window (over at t0+90m).
    let resp = app.simplejwt_login("alice", "alice's long password").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app.simplejwt_login("mallory", "a wrong guess").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    store_session(&app, "old-session", &alice, t0 + 10 * MINUTE as i64).await;
    store_session(&app, "live-session", &carol, t0 + 8 * 60 * MINUTE as i64).await;
    // A code never used is useless once expired; a used one is kept while the tokens it
    // issued may live, so that a replay still revokes them.
    store_code(
        &app,
        "unused-expired",
        &alice,
        t0 + 60 * MINUTE as i64,
        false,
    )
    .await;
    store_code(&app, "used-long-ago", &alice, t0 + 1, true).await;
    store_code(&app, "used-recently", &carol, t0 + 60 * MINUTE as i64, true).await;
    // A reset link valid until t0+60m, another (issued at t1) until t0+170m.
    let accounts = &app.state.accounts;
    accounts
        .issue_reset_link("alice", Some("1h"))
        .await
        .expect("link");

    // At t1 = t0+50m: carol signs in (ends at t0+140m), a guess at eve's password.
    app.advance(50 * MINUTE);
    let resp = app.simplejwt_login("carol", "carol's long password").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let pair: serde_json::Value = resp.json().await.expect("pair");
    let resp = app.simplejwt_login("eve", "a wrong guess").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    accounts
        .issue_reset_link("carol", Some("2h"))
        .await
        .expect("link");
    let before = rows(&app).await;
    assert_eq!(before.reset_links_of.len(), 2, "{before:?}");
    assert_eq!(before.families_of.len(), 2, "{before:?}");
    let t1 = app.clock.now();
    // alice's and mallory's at t0, carol's and eve's at t1 (a success leaves one too).
    assert_eq!(before.windows, [t0, t0, t1, t1]);

    // At t0+120m, alice's records are well past their end (expiry + ACCESS_TTL + LEEWAY), as
    // are the windows opened at t0, the old session and the expired codes; the move wakes the
    // housekeeping, which removes them without a request.
    app.advance(70 * MINUTE);
    let expected = Rows {
        families_of: vec![carol.clone()],
        tokens_of: vec![carol.clone()],
        codes: vec!["used-recently".into()],
        sessions: vec!["live-session".into()],
        reset_links_of: vec![carol.clone()],
        windows: vec![t1, t1],
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now = rows(&app).await;
        if now == expected {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "housekeeping did not converge: {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // What stayed still works: carol's refresh token rotates.
    let resp = app
        .post_json(
            "/api/token/refresh/",
            serde_json::json!({ "refresh": pair["refresh"] }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}
