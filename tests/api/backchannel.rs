//! Single logout over HTTP (OpenID Connect Back-Channel Logout 1.0), with a receiving
//! application in the test (`helpers::receiver`) that validates every logout token against
//! the JWKS: two applications signed in through one session both hear of its end, with the
//! session's `sid`; a receiver that is down gets everything once it is back; a receiver that
//! hangs never holds a logout; a session already gone sends nothing; registration refuses
//! what it must.

use std::time::{Duration, Instant};

use gatehouse::db::repo::outbox as rows;
use gatehouse::db::DbError;
use gatehouse::sso::backchannel::endpoints::{EndpointError, LogoutEndpoints};
use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::receiver::{Receiver, CLOSE, FAIL, HANG, HUGE, OK, REDIRECT};
use crate::helpers::{eventually, peek, spawn_app, Backend, TestApp};
use crate::sso::{authorize_url, browser, exchange, query_param, setup, sign_in, VERIFIER};

both_backends!(
    two_applications_of_one_session_hear_of_its_end,
    a_receiver_that_was_down_gets_every_notification_once_back,
    registration_refuses_unsafe_logout_uris,
    an_admin_lists_and_ends_a_users_sessions,
    a_user_signs_other_sessions_out_on_the_account_page,
    redirects_huge_answers_and_dropped_connections_are_retried_and_never_followed,
    the_logout_page_loads_front_channel_uris_in_hidden_iframes,
    the_console_ends_sessions_and_registers_logout_uris,
);

const OTHER_REDIRECT: &str = "http://127.0.0.2:9998/cb";

/// Alice's id_token for `client` from `browser`'s session (signing in when needed).
async fn id_token(app: &TestApp, b: &reqwest::Client, client: &str, sign: bool) -> String {
    let (redirect, scope) = match client {
        "app" => (crate::sso::REDIRECT, "openid profile offline_access"),
        _ => (OTHER_REDIRECT, "openid"),
    };
    let url = authorize_url(
        app,
        &[
            ("client_id", client),
            ("redirect_uri", redirect),
            ("scope", scope),
        ],
    );
    let cb = if sign {
        sign_in(app, b, &url, "alice-password-1").await
    } else {
        let resp = b.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND);
        crate::helpers::location(&resp)
    };
    let code = query_param(&cb, "code").expect("code");
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", client),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", VERIFIER),
    ];
    let resp = if client == "app" {
        exchange(app, &code, Some(VERIFIER), "app").await
    } else {
        app.http
            .post(app.url("/token"))
            .form(&form)
            .send()
            .await
            .unwrap()
    };
    let tokens: serde_json::Value = resp.json().await.unwrap();
    tokens["id_token"].as_str().expect("id_token").to_string()
}

/// Two clients, `app` and `other`, each registered at the receiver.
async fn two_clients(app: &TestApp, receiver: &Receiver) {
    setup(app, false).await;
    app.add_client(&["other", "--public", "--redirect-uri", OTHER_REDIRECT])
        .await;
    for client in ["app", "other"] {
        app.state
            .sso
            .set_logout_endpoints(LogoutEndpoints {
                client_id: client.into(),
                backchannel_logout_uri: Some(receiver.uri(client)),
                backchannel_logout_session_required: true,
                ..LogoutEndpoints::default()
            })
            .await
            .expect("registered");
    }
}

async fn outbox_rows(app: &TestApp) -> Vec<rows::OutboxRow> {
    app.state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            // One read: a row moving from pending to delivered is seen once.
            gatehouse::db::schema::outbox::table
                .order(gatehouse::db::schema::outbox::id.asc())
                .load::<rows::OutboxRow>(conn)
                .map_err(DbError::from_diesel)
        })
        .await
        .expect("rows")
}

async fn logout(app: &TestApp, b: &reqwest::Client, id_token: &str) -> Duration {
    let url = format!(
        "{}/logout?{}",
        app.address,
        serde_urlencoded::to_string([("id_token_hint", id_token)]).unwrap()
    );
    let started = Instant::now();
    let resp = b.get(&url).send().await.unwrap();
    let took = started.elapsed();
    assert!(resp.status().is_success(), "{}", resp.status());
    took
}

async fn two_applications_of_one_session_hear_of_its_end(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let receiver = Receiver::start(&app.settings.issuer, app.jwks().await).await;
    two_clients(&app, &receiver).await;
    let b = browser();
    let first = id_token(&app, &b, "app", true).await;
    let second = id_token(&app, &b, "other", false).await;
    let (_, claims) = peek(&second);
    let (sid, sub) = (claims["sid"].clone(), claims["sub"].clone());
    assert_eq!(peek(&first).1["sid"], sid, "one session");

    // Discovery says so.
    let discovery: serde_json::Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);
    assert_eq!(discovery["frontchannel_logout_supported"], true);

    // Logout at the first application: both hear of it.
    logout(&app, &b, &first).await;
    assert!(
        eventually(10, || async { receiver.valid().len() == 2 }).await,
        "both notified: {:?} {:?}",
        receiver.valid(),
        receiver.invalid()
    );
    assert_eq!(receiver.invalid(), Vec::<String>::new());
    let mut got = receiver.valid();
    got.sort_by_key(|c| c["aud"].as_str().unwrap().to_string());
    assert_eq!(got[0]["aud"], "app");
    assert_eq!(got[1]["aud"], "other");
    for claims in &got {
        assert_eq!(claims["sid"], sid);
        assert_eq!(claims["sub"], sub);
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert!((1..=300).contains(&lifetime), "{lifetime}");
    }
    assert_ne!(got[0]["jti"], got[1]["jti"]);
    assert!(
        eventually(10, || async {
            let stored = outbox_rows(&app).await;
            stored.len() == 2 && stored.iter().all(|m| m.status == "delivered")
        })
        .await,
        "{:?}",
        outbox_rows(&app).await
    );

    // The session is gone: logging out again (or signing in anew elsewhere) sends nothing.
    let url = format!(
        "{}/logout?{}",
        app.address,
        serde_urlencoded::to_string([("id_token_hint", first.as_str())]).unwrap()
    );
    let resp = b.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "asks to confirm");
    app.advance(60);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(outbox_rows(&app).await.len(), 2);
    assert_eq!(receiver.attempts(), 2, "nothing more sent");
}

async fn a_receiver_that_was_down_gets_every_notification_once_back(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let receiver = Receiver::start(&app.settings.issuer, app.jwks().await).await;
    two_clients(&app, &receiver).await;

    // A receiver that hangs: the user's logout still answers at once.
    receiver.set_mode(HANG);
    let b = browser();
    let token = id_token(&app, &b, "other", true).await;
    let took = logout(&app, &b, &token).await;
    assert!(took < Duration::from_secs(2), "logout took {took:?}");

    // Down: three more sessions end while every attempt fails.
    receiver.set_mode(FAIL);
    let mut sids = vec![peek(&token).1["sid"].as_str().unwrap().to_string()];
    for _ in 0..3 {
        let b = browser();
        let token = id_token(&app, &b, "other", true).await;
        sids.push(peek(&token).1["sid"].as_str().unwrap().to_string());
    }
    // An admin disables alice: her three live sessions end, one notification each.
    app.state
        .accounts
        .set_user_disabled("alice", true, gatehouse::accounts::LastAdmin::Keep)
        .await
        .expect("disabled");
    assert!(
        eventually(20, || async { receiver.attempts() >= 3 }).await,
        "tried while down"
    );
    let stored = outbox_rows(&app).await;
    assert_eq!(stored.len(), 4, "{stored:?}");
    assert!(stored.iter().all(|m| m.status == "pending"), "{stored:?}");

    // Back: every notification arrives, each once (the hung attempt's claim lapses too).
    receiver.set_mode(OK);
    for _ in 0..15 {
        app.advance(15 * 60);
        if eventually(2, || async { receiver.valid().len() >= 4 }).await {
            break;
        }
    }
    assert!(
        eventually(10, || async {
            outbox_rows(&app)
                .await
                .iter()
                .all(|m| m.status == "delivered")
        })
        .await,
        "{:?}",
        outbox_rows(&app).await
    );
    let mut got: Vec<String> = receiver
        .valid()
        .iter()
        .map(|c| c["sid"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    got.dedup();
    sids.sort();
    assert_eq!(got, sids);
    assert_eq!(receiver.invalid(), Vec::<String>::new());
}

async fn registration_refuses_unsafe_logout_uris(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let set = |uri: &str| LogoutEndpoints {
        client_id: "app".into(),
        backchannel_logout_uri: Some(uri.into()),
        ..LogoutEndpoints::default()
    };
    for bad in [
        "ftp://rp.example/logout",
        "not a url",
        "https://user:secret@rp.example/logout",
        "https://rp.example/logout#x",
    ] {
        let refused = app.state.sso.set_logout_endpoints(set(bad)).await;
        assert!(matches!(refused, Err(EndpointError::Invalid(_))), "{bad}");
    }
    let unknown = app
        .state
        .sso
        .set_logout_endpoints(LogoutEndpoints {
            client_id: "nobody".into(),
            backchannel_logout_uri: Some("https://rp.example/logout".into()),
            ..LogoutEndpoints::default()
        })
        .await;
    assert!(matches!(unknown, Err(EndpointError::UnknownClient)));
    assert_eq!(
        app.state.sso.logout_endpoints("app").await.unwrap(),
        LogoutEndpoints {
            client_id: "app".into(),
            ..LogoutEndpoints::default()
        }
    );
    app.state
        .sso
        .set_logout_endpoints(set("https://rp.example/logout"))
        .await
        .expect("https is fine");
    assert_eq!(
        app.state
            .sso
            .logout_endpoints("app")
            .await
            .unwrap()
            .backchannel_logout_uri
            .as_deref(),
        Some("https://rp.example/logout")
    );
}

async fn an_admin_lists_and_ends_a_users_sessions(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let receiver = Receiver::start(&app.settings.issuer, app.jwks().await).await;
    two_clients(&app, &receiver).await;
    let admin = app.admin_token().await;
    let mut sids = vec![];
    for _ in 0..2 {
        let b = browser();
        let token = id_token(&app, &b, "other", true).await;
        sids.push(peek(&token).1["sid"].as_str().unwrap().to_string());
    }
    let list = |path: &str| app.http.get(app.url(path)).bearer_auth(&admin).send();
    let resp = list("/admin/users/alice/sessions").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.unwrap();
    let listed = body["sessions"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{body}");
    for s in listed {
        assert!(sids.iter().any(|sid| s["sid"] == sid.as_str()), "{body}");
        assert_eq!(s["clients"][0]["client_id"], "other", "{body}");
    }

    // Not without an admin's token; unknown users and sessions are 404 and change nothing.
    let resp = app
        .http
        .delete(app.url("/admin/users/alice/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    for path in [
        "/admin/users/alice/sessions/not-a-session".to_string(),
        "/admin/users/nobody/sessions".to_string(),
        format!("/admin/users/root/sessions/{}", sids[0]),
    ] {
        let resp = app
            .http
            .delete(app.url(&path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(receiver.attempts(), 0);

    // One session ended by the API: its application hears of it.
    let resp = app
        .http
        .delete(app.url(&format!("/admin/users/alice/sessions/{}", sids[0])))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(eventually(10, || async { receiver.valid().len() == 1 }).await);
    assert_eq!(receiver.valid()[0]["sid"], sids[0].as_str());
    let body: serde_json::Value = list("/admin/users/alice/sessions")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["sessions"].as_array().unwrap().len(), 1);

    // The rest by the CLI (another process): the server delivers from the outbox.
    let out = app.cli(&["user", "sessions", "alice"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains(&sids[1]), "{}", out.stdout);
    assert!(out.stdout.contains("other"), "{}", out.stdout);
    let out = app
        .cli(&["user", "sessions", "alice", "--end-all"], "")
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains("ended 1 session"), "{}", out.stdout);
    app.advance(60);
    assert!(eventually(10, || async { receiver.valid().len() == 2 }).await);
    assert_eq!(receiver.valid()[1]["sid"], sids[1].as_str());

    // Registration through the API and the CLI.
    let put = |body: serde_json::Value| {
        app.http
            .put(app.url("/admin/clients/other/logout"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let resp = put(serde_json::json!({"backchannel_logout_uri": "ftp://rp.example/"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = put(serde_json::json!({"backchannel_logout_uri": "https://rp.example/bc", "backchannel_logout_session_required": true}))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["backchannel_logout_uri"], "https://rp.example/bc");
    assert_eq!(body["backchannel_logout_session_required"], true);
    let out = app
        .cli(
            &[
                "client",
                "logout",
                "app",
                "--backchannel-logout-uri",
                "https://app.example/bc",
            ],
            "",
        )
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("https://app.example/bc"),
        "{}",
        out.stdout
    );
    let audit = app.state.db.run(|conn| {
        gatehouse::db::repo::audit::list(
            conn,
            &gatehouse::db::repo::audit::AuditQuery {
                kind: Some("session.ended".into()),
                actor: None,
                since: None,
                until: None,
                before: None,
                limit: 10,
            },
        )
    });
    assert_eq!(audit.await.unwrap().len(), 2);
}

async fn a_user_signs_other_sessions_out_on_the_account_page(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let receiver = Receiver::start(&app.settings.issuer, app.jwks().await).await;
    two_clients(&app, &receiver).await;
    let mut others = vec![];
    for _ in 0..2 {
        let b = browser();
        let token = id_token(&app, &b, "other", true).await;
        others.push(peek(&token).1["sid"].as_str().unwrap().to_string());
    }
    let me = crate::account::signed_in_browser(&app, "alice-password-1").await;
    let (status, html) = crate::account::account_page(&app, &me).await;
    assert_eq!(status, StatusCode::OK);
    let section = &html[html.find("id=\"sessions\"").expect("sessions section")..];
    assert_eq!(
        section.matches("<tr class=\"session\">").count(),
        3,
        "{section}"
    );
    assert!(section.contains("this browser"), "{section}");
    assert!(section.contains("other"), "{section}");
    for sid in &others {
        assert!(section.contains(sid.as_str()), "{section}");
    }
    let csrf = crate::helpers::hidden(&html, "csrf");

    // A stale form, or a sid that is not one of the user's live sessions: nothing ends.
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        me.post(app.url(path)).form(&form).send()
    };
    let resp = post(
        "/account/sessions/end",
        vec![("csrf", "stale".into()), ("sid", others[0].clone())],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = post(
        "/account/sessions/end",
        vec![("csrf", csrf.clone()), ("sid", "someone-elses".into())],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(receiver.attempts(), 0);

    // One, then every other: each application hears of each.
    let resp = post(
        "/account/sessions/end",
        vec![("csrf", csrf.clone()), ("sid", others[0].clone())],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(eventually(10, || async { receiver.valid().len() == 1 }).await);
    assert_eq!(receiver.valid()[0]["sid"], others[0].as_str());
    let resp = post("/account/sessions/end-others", vec![("csrf", csrf.clone())])
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    let section = &html[html.find("id=\"sessions\"").unwrap()..];
    assert_eq!(
        section.matches("<tr class=\"session\">").count(),
        1,
        "{section}"
    );
    assert!(eventually(10, || async { receiver.valid().len() == 2 }).await);
    assert_eq!(receiver.valid()[1]["sid"], others[1].as_str());
    // This browser is still signed in.
    let (status, _) = crate::account::account_page(&app, &me).await;
    assert_eq!(status, StatusCode::OK);
}

async fn redirects_huge_answers_and_dropped_connections_are_retried_and_never_followed(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let receiver = Receiver::start(&app.settings.issuer, app.jwks().await).await;
    // An "internal" service the registered URI redirects to.
    let internal = Receiver::start(&app.settings.issuer, app.jwks().await).await;
    receiver.redirect_to(&internal.uri("other"));
    two_clients(&app, &receiver).await;
    for (n, (mode, error)) in [
        (REDIRECT, "answered 302"),
        (HUGE, "answered 503"),
        (CLOSE, "request failed"),
    ]
    .into_iter()
    .enumerate()
    {
        receiver.set_mode(mode);
        let b = browser();
        let token = id_token(&app, &b, "other", true).await;
        let took = logout(&app, &b, &token).await;
        assert!(took < Duration::from_secs(2), "logout took {took:?}");
        assert!(
            eventually(10, || async {
                outbox_rows(&app)
                    .await
                    .get(n)
                    .is_some_and(|m| m.last_error.as_deref() == Some(error))
            })
            .await,
            "{error}: {:?}",
            outbox_rows(&app).await
        );
        let stored = &outbox_rows(&app).await[n];
        assert_eq!(stored.status, "pending", "retried later: {stored:?}");
    }
    assert_eq!(internal.attempts(), 0, "a redirect is never followed");
    assert!(receiver.valid().is_empty());
}

async fn the_logout_page_loads_front_channel_uris_in_hidden_iframes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    app.state
        .sso
        .set_logout_endpoints(LogoutEndpoints {
            client_id: "app".into(),
            frontchannel_logout_uri: Some("https://app.example/fc?v=1".into()),
            frontchannel_logout_session_required: true,
            ..LogoutEndpoints::default()
        })
        .await
        .expect("registered");
    let b = browser();
    let token = id_token(&app, &b, "app", true).await;
    let sid = peek(&token).1["sid"].as_str().unwrap().to_string();
    let url = format!(
        "{}/logout?{}",
        app.address,
        serde_urlencoded::to_string([
            ("id_token_hint", token.as_str()),
            ("post_logout_redirect_uri", "http://localhost:9999/bye"),
        ])
        .unwrap()
    );
    let resp = b.get(&url).send().await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "a page first, not the redirect"
    );
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-src https://app.example"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = resp.text().await.unwrap();
    let expected = format!(
        "https://app.example/fc?v=1&#38;{}",
        serde_urlencoded::to_string([("iss", app.settings.issuer.as_str()), ("sid", sid.as_str())])
            .unwrap()
            .replace('&', "&#38;")
    );
    assert!(
        html.contains(&format!("hidden src=\"{expected}\"")),
        "{expected} in {html}"
    );
    assert!(html.contains("url=http://localhost:9999/bye"), "{html}");
    // The session is over.
    let resp = b.get(authorize_url(&app, &[])).send().await.unwrap();
    assert!(crate::helpers::location(&resp).starts_with("/login?"));
}

async fn the_console_ends_sessions_and_registers_logout_uris(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let receiver = Receiver::start(&app.settings.issuer, app.jwks().await).await;
    two_clients(&app, &receiver).await;
    let _ = app.admin_token().await; // creates the admin user root
    let console = crate::console::signed_in(
        &app,
        "root",
        crate::helpers::ADMIN_PASSWORD,
        "/console/users/alice/sessions",
    )
    .await;
    let b = browser();
    let token = id_token(&app, &b, "other", true).await;
    let sid = peek(&token).1["sid"].as_str().unwrap().to_string();

    let (status, html) =
        crate::console::page(&console, &app, "/console/users/alice/sessions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&sid) && html.contains("other"), "{html}");
    let csrf = crate::helpers::hidden(&html, "csrf");
    let (status, _) = crate::console::post(
        &console,
        &app,
        "/console/users/alice/sessions",
        &[("csrf", "stale"), ("sid", &sid)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(receiver.attempts(), 0);
    let (status, html) = crate::console::post(
        &console,
        &app,
        "/console/users/alice/sessions",
        &[("csrf", &csrf), ("sid", &sid)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("1 session(s) ended"), "{html}");
    assert!(eventually(10, || async { receiver.valid().len() == 1 }).await);
    assert_eq!(receiver.valid()[0]["sid"], sid.as_str());

    let (status, html) =
        crate::console::page(&console, &app, "/console/clients/other/logout").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&receiver.uri("other")), "{html}");
    let (status, html) = crate::console::post(
        &console,
        &app,
        "/console/clients/other/logout",
        &[
            ("csrf", &csrf),
            ("backchannel_logout_uri", "ftp://rp.example/x"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("must be https"), "{html}");
    assert_eq!(
        app.state
            .sso
            .logout_endpoints("other")
            .await
            .unwrap()
            .backchannel_logout_uri,
        Some(receiver.uri("other")),
        "nothing changed"
    );
    let (status, html) = crate::console::post(
        &console,
        &app,
        "/console/clients/other/logout",
        &[
            ("csrf", &csrf),
            ("backchannel_logout_uri", "https://other.example/bc"),
            ("backchannel_logout_session_required", "on"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Saved.") && html.contains("https://other.example/bc"),
        "{html}"
    );
}
