//! The failed-login guard under a burst: an attempt is reserved before its password is
//! hashed, so parallel wrong guesses for one username cannot overshoot the limit, on either
//! backend and across instances sharing the database; parallel right passwords wait their
//! turn instead of being refused.

use futures_util::future::join_all;
use gatehouse::clock::Clock;
use gatehouse::config::{Settings, SettingsArgs};
use gatehouse::passwords::workers::Hasher;
use gatehouse::startup::Application;
use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, TestApp};

both_backends!(
    fifty_parallel_wrong_guesses_over_two_instances_get_exactly_the_limit_hashed,
    thirty_parallel_right_passwords_for_one_user_all_sign_in,
);

/// A second instance on the first one's database and master key, on its own pool; its
/// address and its password hasher.
async fn second_instance(app: &TestApp) -> (String, Hasher) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let args = SettingsArgs {
        bind: Some(format!("127.0.0.1:{port}")),
        issuer: Some(app.settings.issuer.clone()),
        database_url: Some(app.storage.database_url.clone()),
        master_key_file: Some(app.storage.master_key_file().display().to_string()),
        login_throttle: Some("5/15m,1000/15m".into()),
        hash_workers: Some("2".into()),
        db_pool_size: Some("4".into()),
        ..Default::default()
    };
    let settings = Settings::from_args(&args).expect("settings");
    let second = Application::build_on(
        settings,
        listener,
        Clock::manual(app.clock.now()),
        app.storage.key_generator(),
    )
    .await
    .expect("second instance");
    let hasher = second.state().accounts.hasher.clone();
    tokio::spawn(second.run_until_stopped());
    (format!("http://127.0.0.1:{port}"), hasher)
}

async fn fifty_parallel_wrong_guesses_over_two_instances_get_exactly_the_limit_hashed(
    backend: Backend,
) {
    let Some(app) = spawn_app_with(backend, |a| {
        a.login_throttle = Some("5/15m,1000/15m".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", "the right password", false).await;
    let (other, other_hasher) = second_instance(&app).await;
    let hashers = [app.state.accounts.hasher.clone(), other_hasher];
    let hashes = || hashers.iter().map(Hasher::jobs_run).sum::<usize>();
    let hashed_before = hashes();
    let guesses = (0..50).map(|i| {
        let base = if i % 2 == 0 { &app.address } else { &other };
        app.http
            .post(format!("{base}/api/token/"))
            .form(&[("username", "alice"), ("password", "a wrong guess")])
            .send()
    });
    let mut refused = 0;
    let mut throttled = 0;
    for resp in join_all(guesses).await {
        match resp.expect("answered").status() {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("a wrong guess answered {other}"),
        }
    }
    assert_eq!(
        (refused, throttled),
        (5, 45),
        "exactly the limit of guesses is checked as wrong, the rest throttled"
    );
    assert_eq!(hashes() - hashed_before, 5, "hashed on the two instances");
    // The window is full on both instances, for the right password too.
    for base in [&app.address, &other] {
        let resp = app
            .http
            .post(format!("{base}/api/token/"))
            .form(&[("username", "alice"), ("password", "the right password")])
            .send()
            .await
            .expect("answered");
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(
        hashes() - hashed_before,
        5,
        "a throttled attempt was hashed"
    );
}

async fn thirty_parallel_right_passwords_for_one_user_all_sign_in(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |a| {
        a.login_throttle = Some("5/15m,20/15m".into());
    })
    .await
    else {
        return;
    };
    app.add_user("svc", "the right password", false).await;
    // More at once than either window's limit: pending attempts queue, none is refused.
    let logins = (0..30).map(|_| app.simplejwt_login("svc", "the right password"));
    for resp in join_all(logins).await {
        assert_eq!(resp.status(), StatusCode::OK);
    }
}
