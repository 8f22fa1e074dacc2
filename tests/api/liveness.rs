//! A token is live only while its user and its client are: the access token of a disabled or
//! deleted user (one issued without a refresh family, which disabling would have revoked) or
//! of a disabled or deleted client is refused by `/api/token/verify/`, `/userinfo`,
//! `/introspect` and the admin API alike. Users and clients are changed in-process, through
//! the use cases the CLI, the admin API and the console share.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_invalid_token, password_grant, status_json, Backend, TestApp};
use diesel::connection::SimpleConnection;
use gatehouse::accounts::LastAdmin;
use gatehouse::clock::Clock;
use gatehouse::config::{Settings, SettingsArgs};
use gatehouse::db::DbError;
use gatehouse::startup::Application;
use gatehouse::state::AppState;

const PASSWORD: &str = "correct horse battery";

both_backends!(
    a_disabled_or_deleted_users_access_token_is_refused_everywhere,
    a_disabled_or_deleted_clients_access_token_is_refused_everywhere,
    a_change_by_another_instance_or_by_hand_takes_effect_at_the_next_check,
);

/// Users `alice`, `bob` and the admin `root`; the clients `rs` (a resource server that may
/// introspect every token), `pw` (password grant only: its tokens have no refresh family),
/// `adm` (password grant, scope `admin`) and `svc` (client_credentials). Returns the server,
/// `rs`'s secret and `pw`'s.
async fn setup(backend: Backend) -> Option<(TestApp, String, String)> {
    let app = crate::helpers::spawn_app(backend).await?;
    app.add_user("alice", PASSWORD, false).await;
    app.add_user("bob", PASSWORD, false).await;
    let rs = app
        .add_client(&[
            "rs",
            "--grant",
            "client_credentials",
            "--scope",
            "api",
            "--introspect-any",
        ])
        .await
        .expect("rs is confidential");
    let pw = app
        .add_client(&["pw", "--grant", "password"])
        .await
        .expect("pw is confidential");
    Some((app, rs, pw))
}

async fn access_token(resp: reqwest::Response) -> String {
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "token: {body}");
    assert!(body.get("refresh_token").is_none(), "no family: {body}");
    body["access_token"].as_str().expect("access_token").into()
}

async fn user_token(app: &TestApp, pw: &str, username: &str) -> String {
    access_token(password_grant(&app.http, &app.address, "pw", pw, username, PASSWORD, "").await)
        .await
}

async fn verify(app: &TestApp, token: &str) -> (u16, Value) {
    let resp = app
        .post_json("/api/token/verify/", json!({ "token": token }))
        .await;
    let (status, body) = status_json(resp).await;
    (status.as_u16(), body)
}

async fn introspect(app: &TestApp, rs: &str, token: &str) -> Value {
    let resp = app
        .post_form_basic("/introspect", "rs", rs, &[("token", token)])
        .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "introspect: {body}");
    body
}

async fn admin_api(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .get(app.url("/admin/keys"))
        .bearer_auth(token)
        .send()
        .await
        .expect("admin request")
}

async fn assert_live(app: &TestApp, rs: &str, token: &str, what: &str) {
    assert_eq!(verify(app, token).await, (200, json!({})), "verify, {what}");
    assert_eq!(
        introspect(app, rs, token).await["active"],
        true,
        "introspect, {what}"
    );
}

/// Refused at every place that takes a token.
async fn assert_refused_everywhere(app: &TestApp, rs: &str, token: &str, what: &str) {
    assert_invalid_token(admin_api(app, token).await, &format!("admin API, {what}")).await;
    assert_invalid_token(app.userinfo(token).await, &format!("userinfo, {what}")).await;
    assert_eq!(
        introspect(app, rs, token).await,
        json!({ "active": false }),
        "introspect, {what}"
    );
    let (status, body) = verify(app, token).await;
    assert_eq!(status, 401, "verify, {what}: {body}");
    assert_eq!(body["code"], "token_not_valid", "verify, {what}");
}

async fn a_disabled_or_deleted_users_access_token_is_refused_everywhere(backend: Backend) {
    let Some((app, rs, pw)) = setup(backend).await else {
        return;
    };
    let root = app.admin_token().await;
    let alice = user_token(&app, &pw, "alice").await;
    let bob = user_token(&app, &pw, "bob").await;
    for (what, token) in [("alice", &alice), ("bob", &bob), ("root", &root)] {
        assert_live(&app, &rs, token, what).await;
    }
    assert_eq!(app.userinfo(&alice).await.status(), 200);
    assert_eq!(admin_api(&app, &root).await.status(), 200);

    let accounts = &app.state.accounts;
    accounts
        .set_user_disabled("alice", true, LastAdmin::Keep)
        .await
        .expect("disable alice");
    accounts
        .delete_user("bob", LastAdmin::Keep)
        .await
        .expect("delete bob");
    accounts
        .set_user_disabled("root", true, LastAdmin::MayRemove)
        .await
        .expect("disable root");
    assert_refused_everywhere(&app, &rs, &alice, "disabled user").await;
    assert_refused_everywhere(&app, &rs, &bob, "deleted user").await;
    assert_refused_everywhere(&app, &rs, &root, "disabled admin").await;
}

async fn a_disabled_or_deleted_clients_access_token_is_refused_everywhere(backend: Backend) {
    let Some((app, rs, _)) = setup(backend).await else {
        return;
    };
    let root = app.admin_token().await;
    let mut services = Vec::new();
    for id in ["svc1", "svc2"] {
        let secret = app
            .add_client(&[id, "--grant", "client_credentials", "--scope", "api"])
            .await
            .expect("confidential");
        let resp = app
            .post_form_basic(
                "/token",
                id,
                &secret,
                &[("grant_type", "client_credentials")],
            )
            .await;
        services.push(access_token(resp).await);
    }
    for (what, token) in [
        ("svc1", &services[0]),
        ("svc2", &services[1]),
        ("adm", &root),
    ] {
        assert_live(&app, &rs, token, what).await;
    }
    assert_eq!(admin_api(&app, &root).await.status(), 200);

    let accounts = &app.state.accounts;
    accounts
        .set_client_disabled("svc1", true)
        .await
        .expect("disable svc1");
    accounts.delete_client("svc2").await.expect("delete svc2");
    accounts
        .set_client_disabled("adm", true)
        .await
        .expect("disable adm");
    assert_refused_everywhere(&app, &rs, &services[0], "disabled client").await;
    assert_refused_everywhere(&app, &rs, &services[1], "deleted client").await;
    assert_refused_everywhere(&app, &rs, &root, "admin token of a disabled client").await;
}

/// A second instance on `app`'s database and master key, with its own pool: what another
/// `gatehouse serve` behind the same load balancer, or the CLI, is to the first.
async fn second_instance(app: &TestApp) -> AppState {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let args = SettingsArgs {
        bind: Some(format!("127.0.0.1:{port}")),
        issuer: Some(app.settings.issuer.clone()),
        database_url: Some(app.storage.database_url.clone()),
        master_key_file: Some(app.storage.master_key_file().display().to_string()),
        hash_workers: Some("1".into()),
        db_pool_size: Some("2".into()),
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
    let state = second.state().clone();
    tokio::spawn(second.run_until_stopped());
    state
}

/// SQL run by hand on the database, past every use case (as an operator might).
async fn by_hand(other: &AppState, sql: &'static str) {
    other
        .db
        .write(move |conn| conn.batch_execute(sql).map_err(DbError::from_diesel))
        .await
        .expect(sql);
}

/// The verifying instance keeps the users and clients it has seen enabled in memory
/// (`db::repo::liveness::EnabledHolders`); a disable, enable or delete made elsewhere (another
/// instance, SQL by hand) moves the liveness generation in its own transaction, so the very
/// next check sees it: no waiting here, and the tokens are checked again and again before
/// each change so that the instance's view is warm.
async fn a_change_by_another_instance_or_by_hand_takes_effect_at_the_next_check(backend: Backend) {
    let Some((app, rs, pw)) = setup(backend).await else {
        return;
    };
    let alice = user_token(&app, &pw, "alice").await;
    let bob = user_token(&app, &pw, "bob").await;
    let other = second_instance(&app).await;
    let warm = |what: &'static str| {
        let (app, rs, alice, bob) = (&app, &rs, &alice, &bob);
        async move {
            for _ in 0..3 {
                assert_live(app, rs, alice, what).await;
                assert_live(app, rs, bob, what).await;
            }
        }
    };
    warm("before any change").await;

    other
        .accounts
        .set_user_disabled("alice", true, LastAdmin::Keep)
        .await
        .expect("disable alice on the other instance");
    assert_refused_everywhere(&app, &rs, &alice, "disabled by another instance").await;
    assert_live(&app, &rs, &bob, "bob, beside alice disabled").await;
    other
        .accounts
        .set_user_disabled("alice", false, LastAdmin::Keep)
        .await
        .expect("enable alice again");
    warm("alice enabled again by another instance").await;

    by_hand(
        &other,
        "UPDATE users SET disabled = TRUE WHERE username = 'bob'",
    )
    .await;
    assert_refused_everywhere(&app, &rs, &bob, "disabled by hand").await;
    by_hand(
        &other,
        "UPDATE users SET disabled = FALSE WHERE username = 'bob'",
    )
    .await;
    warm("bob enabled again by hand").await;

    by_hand(&other, "UPDATE clients SET disabled = TRUE WHERE id = 'pw'").await;
    assert_refused_everywhere(&app, &rs, &alice, "client disabled by hand").await;
    assert_refused_everywhere(&app, &rs, &bob, "client disabled by hand").await;
    by_hand(
        &other,
        "UPDATE clients SET disabled = FALSE WHERE id = 'pw'",
    )
    .await;
    warm("the client enabled again by hand").await;

    other
        .accounts
        .delete_user("bob", LastAdmin::Keep)
        .await
        .expect("delete bob on the other instance");
    assert_refused_everywhere(&app, &rs, &bob, "deleted by another instance").await;
    assert_live(&app, &rs, &alice, "alice, beside bob deleted").await;
    other
        .accounts
        .delete_client("pw")
        .await
        .expect("delete the client on the other instance");
    assert_refused_everywhere(&app, &rs, &alice, "client deleted by another instance").await;
}
