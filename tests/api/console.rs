//! The admin console over HTTP with a cookie-keeping client: only for a signed-in admin,
//! every change behind the pages' CSRF token, rotations and deletes behind a confirmation,
//! a new client's secret shown once, and the audit log. In Chromium:
//! tests/system/console_browser.rs.

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{
    form_actions, kids, spawn_app, status_json, submit_login, Backend, TestApp, ADMIN_PASSWORD,
};
use crate::sso::{browser, hidden, location};

both_backends!(
    the_console_sends_strangers_to_sign_in_and_refuses_non_admins,
    an_admin_rotates_keys_after_a_confirmation_and_only_with_the_form_token,
    an_admin_revokes_any_key_with_a_reason_after_a_confirmation,
    an_admin_manages_users_and_the_last_admin_stays,
    a_new_clients_secret_is_shown_once,
    the_audit_log_page_lists_and_filters_events,
    client_ids_are_registered_url_safe_only,
    a_stored_client_id_cannot_bend_a_console_path,
    the_console_lists_are_paged_and_searched_and_its_header_signs_out,
);

/// Signs `username` in through the login page, coming back to `return_to`.
pub(crate) async fn signed_in(
    app: &TestApp,
    username: &str,
    password: &str,
    return_to: &str,
) -> reqwest::Client {
    let b = browser();
    let query = serde_urlencoded::to_string([("return_to", return_to)]).expect("query");
    let resp = submit_login(app, &b, &format!("/login?{query}"), username, password).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "sign-in of {username}"
    );
    assert_eq!(
        location(&resp),
        return_to,
        "back to where the console sent us"
    );
    b
}

async fn admin_console(app: &TestApp) -> reqwest::Client {
    let _ = app.admin_token().await; // creates the admin user root
    signed_in(app, "root", ADMIN_PASSWORD, "/console/keys").await
}

pub(crate) async fn page(b: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let resp = b.get(app.url(path)).send().await.expect("page");
    let status = resp.status();
    (status, resp.text().await.expect("html"))
}

pub(crate) async fn post(
    b: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let resp = b.post(app.url(path)).form(form).send().await.expect("post");
    let status = resp.status();
    (status, resp.text().await.expect("html"))
}

async fn the_console_sends_strangers_to_sign_in_and_refuses_non_admins(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let stranger = browser();
    let resp = stranger
        .get(app.url("/console/users"))
        .send()
        .await
        .expect("page");
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), "/login?return_to=%2Fconsole%2Fusers");
    // Nothing changes without a session, whatever is posted.
    let resp = stranger
        .post(app.url("/console/users"))
        .form(&[("username", "mallory"), ("password", "mallory's password")])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(app.state.accounts.find_user("mallory").await.is_err());

    app.add_user("alice", "alice's long password", false).await;
    let alice = signed_in(&app, "alice", "alice's long password", "/console/keys").await;
    for path in [
        "/console/keys",
        "/console/users",
        "/console/clients",
        "/console/audit",
    ] {
        let (status, html) = page(&alice, &app, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("admin users"), "{html}");
    }
    // The login page may return only to the console or /authorize, never elsewhere.
    let resp = stranger
        .get(app.url("/login?return_to=%2F%2Fevil.example%2Fconsole"))
        .send()
        .await
        .expect("page");
    let html = resp.text().await.expect("html");
    assert_eq!(hidden(&html, "return_to"), "");
}

async fn an_admin_rotates_keys_after_a_confirmation_and_only_with_the_form_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let b = admin_console(&app).await;
    let before = app.current_kid().await;
    let (status, html) = page(&b, &app, "/console/keys").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&before), "{html}");
    assert!(html.contains("retires at the scheduled rotation"), "{html}");
    assert!(html.contains("signs from the scheduled rotation"), "{html}");
    assert!(
        html.contains("becomes next at the scheduled rotation"),
        "{html}"
    );

    let (status, confirm) = page(&b, &app, "/console/keys/rotate").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.current_kid().await, before, "a GET rotates nothing");
    let csrf = hidden(&confirm, "csrf");
    let (status, _) = post(
        &b,
        &app,
        "/console/keys/rotate",
        &[("emergency", "0"), ("csrf", "forged")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.current_kid().await,
        before,
        "a forged form rotates nothing"
    );
    let (status, html) = post(
        &b,
        &app,
        "/console/keys/rotate",
        &[("emergency", "0"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let after = app.current_kid().await;
    assert_ne!(after, before);
    assert!(
        html.contains(&format!("Rotated: {after} now signs (published")),
        "{html}"
    );
    assert!(html.contains("retired"), "{html}");

    let (_, confirm) = page(&b, &app, "/console/keys/rotate?emergency=1").await;
    assert!(confirm.contains("revoked at once"), "{confirm}");
    let (status, html) = post(
        &b,
        &app,
        "/console/keys/rotate",
        &[("emergency", "1"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("revoked"), "{html}");
    assert_ne!(app.current_kid().await, after);
}

async fn an_admin_revokes_any_key_with_a_reason_after_a_confirmation(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let b = admin_console(&app).await;
    let keys = app.stored_keys().await;
    let kid_in = |state: &str| keys.iter().find(|k| k.state == state).unwrap().kid.clone();
    let (current, standby) = (kid_in("current"), kid_in("standby"));
    let (_, html) = page(&b, &app, "/console/keys").await;
    let revoke_path = format!("/console/keys/{standby}/revoke");
    assert!(html.contains(&revoke_path), "a revoke link per key: {html}");

    let (status, confirm) = page(&b, &app, &revoke_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        confirm.contains("standby key leaves the JWKS at once"),
        "{confirm}"
    );
    assert!(confirm.contains("name=\"reason\""), "{confirm}");
    assert!(
        kids(&app.jwks().await).contains(&standby),
        "a GET revokes nothing"
    );
    let csrf = hidden(&confirm, "csrf");
    let (status, _) = post(
        &b,
        &app,
        &revoke_path,
        &[("csrf", "forged"), ("reason", "leaked")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, html) = post(&b, &app, &revoke_path, &[("csrf", &csrf), ("reason", "")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("Not revoked"), "{html}");
    assert!(kids(&app.jwks().await).contains(&standby));

    let (status, html) = post(
        &b,
        &app,
        &revoke_path,
        &[("csrf", &csrf), ("reason", "seen in a screenshot")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!(
            "Revoked {standby}: {current} now signs (published"
        )),
        "{html}"
    );
    assert!(!kids(&app.jwks().await).contains(&standby));
    let (status, html) = post(
        &b,
        &app,
        &revoke_path,
        &[("csrf", &csrf), ("reason", "twice")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("already revoked"), "{html}");
    let (status, _) = page(&b, &app, "/console/keys/no-such-kid/revoke").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, audit) = page(&b, &app, "/console/audit").await;
    assert!(audit.contains("reason: seen in a screenshot"), "{audit}");
}

async fn an_admin_manages_users_and_the_last_admin_stays(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let b = admin_console(&app).await;
    let (_, html) = page(&b, &app, "/console/users").await;
    let csrf = hidden(&html, "csrf");
    let add = [
        ("csrf", csrf.as_str()),
        ("username", "bob"),
        ("email", "bob@example.com"),
        ("password", "bob's long password"),
    ];
    let (status, html) = post(&b, &app, "/console/users", &add).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Added bob."), "{html}");
    assert!(html.contains("bob@example.com"), "{html}");
    assert_eq!(
        app.simplejwt_login("bob", "bob's long password")
            .await
            .status(),
        200
    );
    let (status, html) = post(&b, &app, "/console/users", &add).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("already exists"), "{html}");
    let (status, _) = post(
        &b,
        &app,
        "/console/users",
        &[
            ("csrf", "forged"),
            ("username", "eve"),
            ("password", "eve's password"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(app.state.accounts.find_user("eve").await.is_err());

    let (status, html) = post(&b, &app, "/console/users/bob/disable", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Disabled bob."), "{html}");
    assert_eq!(
        app.simplejwt_login("bob", "bob's long password")
            .await
            .status(),
        401
    );
    // Deleting asks first.
    let (status, confirm) = page(&b, &app, "/console/users/bob/delete").await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirm.contains("cannot be undone"), "{confirm}");
    assert!(
        app.state.accounts.find_user("bob").await.is_ok(),
        "a GET deletes nothing"
    );
    let (status, html) = post(&b, &app, "/console/users/bob/delete", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Deleted bob."), "{html}");
    assert!(app.state.accounts.find_user("bob").await.is_err());
    // The admin cannot lock every admin out from here.
    let (status, html) = post(&b, &app, "/console/users/root/disable", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("last enabled admin"), "{html}");
}

async fn a_new_clients_secret_is_shown_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let b = admin_console(&app).await;
    let (_, html) = page(&b, &app, "/console/clients").await;
    let csrf = hidden(&html, "csrf");
    let (status, html) = post(
        &b,
        &app,
        "/console/clients",
        &[
            ("csrf", csrf.as_str()),
            ("client_id", "svc"),
            ("grants", "client_credentials"),
            ("scopes", "api"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let marker = "id=\"client-secret\">";
    let start = html.find(marker).expect("the secret is shown") + marker.len();
    let secret = &html[start..start + html[start..].find('<').expect("end")];
    assert_eq!(secret.len(), 43, "{secret}");
    let resp = app
        .post_form_basic(
            "/token",
            "svc",
            secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "the shown secret works");
    let (_, again) = page(&b, &app, "/console/clients").await;
    assert!(!again.contains(secret), "the secret is shown only once");
    assert!(again.contains("svc"));
    let (status, html) = post(
        &b,
        &app,
        "/console/clients",
        &[("csrf", &csrf), ("client_id", "bad id with spaces")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    let (status, html) = post(&b, &app, "/console/clients/svc/disable", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Disabled svc."), "{html}");
    let resp = app
        .post_form_basic(
            "/token",
            "svc",
            secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

async fn the_audit_log_page_lists_and_filters_events(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let b = admin_console(&app).await;
    let (_, html) = page(&b, &app, "/console/users").await;
    let csrf = hidden(&html, "csrf");
    post(
        &b,
        &app,
        "/console/users",
        &[
            ("csrf", csrf.as_str()),
            ("username", "carol"),
            ("password", "carol's long password"),
        ],
    )
    .await;
    let resp = b.get(app.url("/console/audit")).send().await.expect("page");
    assert_eq!(resp.status(), StatusCode::OK);
    for header in [
        "content-security-policy",
        "x-frame-options",
        "referrer-policy",
    ] {
        assert!(resp.headers().contains_key(header), "{header}");
    }
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let html = resp.text().await.expect("html");
    assert!(html.contains("user.created"), "{html}");
    assert!(html.contains("carol"), "{html}");
    assert!(html.contains("sign_in"), "the admin's own sign-in: {html}");
    let (_, filtered) = page(&b, &app, "/console/audit?kind=user.created&actor=root").await;
    assert!(filtered.contains("carol"), "{filtered}");
    assert!(!filtered.contains("<td>sign_in</td>"), "{filtered}");
    let (status, _) = page(&b, &app, "/console/audit?kind=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn add_client_in_console(
    b: &reqwest::Client,
    app: &TestApp,
    csrf: &str,
    id: &str,
) -> (StatusCode, String) {
    let form = [
        ("csrf", csrf),
        ("client_id", id),
        ("grants", "client_credentials"),
    ];
    post(b, app, "/console/clients", &form).await
}

/// Letters, digits and `-._~` (never `.` or `..` alone), through the console, the admin API
/// and the CLI alike: an id is a path segment of the console's and the admin API's URLs.
async fn client_ids_are_registered_url_safe_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await;
    let b = signed_in(&app, "root", ADMIN_PASSWORD, "/console/keys").await;
    let (_, html) = page(&b, &app, "/console/clients").await;
    let csrf = hidden(&html, "csrf");
    for id in [
        "../users/victim",
        "a/b",
        ".",
        "..",
        "a?b",
        "a#b",
        "a%2Fb",
        "a@b",
        "é",
    ] {
        let (status, html) = add_client_in_console(&b, &app, &csrf, id).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "console registered {id:?}: {html}"
        );
        let resp = app
            .http
            .post(app.url("/admin/clients"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "client_id": id, "grants": ["client_credentials"] }))
            .send()
            .await
            .expect("request");
        let (status, body) = status_json(resp).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "admin API registered {id:?}: {body}"
        );
        let out = app
            .cli(&["client", "add", id, "--grant", "client_credentials"], "")
            .await;
        assert!(!out.status.success(), "the CLI registered {id:?}");
        assert!(out.stderr.contains("client id"), "{id:?}: {}", out.stderr);
        assert!(
            app.state.accounts.find_client(id).await.is_err(),
            "{id:?} was stored"
        );
    }
    let id = "Svc-1.api_v2~x";
    let (status, html) = add_client_in_console(&b, &app, &csrf, id).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(app.state.accounts.find_client(id).await.is_ok());
}

/// A client an earlier release registered under an id that is now refused stays listed, and
/// an admin can still disable and delete it: the console writes every id into its paths
/// percent-encoded, so that a browser never resolves `..` or `/` in it into another path.
async fn a_stored_client_id_cannot_bend_a_console_path(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.admin_token().await;
    let b = signed_in(&app, "root", ADMIN_PASSWORD, "/console/keys").await;
    app.add_user("victim", "victim's long password", false)
        .await;
    let sneaky = "../users/victim";
    let stored = gatehouse::db::repo::clients::Client {
        client_id: sneaky.into(),
        secret_hash: None,
        public: true,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grants: vec!["refresh_token".into()],
        scopes: vec!["openid".into()],
        consent: false,
        disabled: false,
        created_at: 0,
        introspect_any: false,
        managed: false,
        access_token_alg: None,
        id_token_alg: gatehouse::keys::Alg::Rs256,
        require_mfa: false,
    };
    app.state
        .db
        .write(move |conn| gatehouse::db::repo::clients::insert(conn, &stored))
        .await
        .expect("an old release's client");

    // What a browser does with the page's "Disable" form: resolve its action against the
    // page's URL, then post there.
    let page_url = reqwest::Url::parse(&app.url("/console/clients")).expect("url");
    let (status, html) = page(&b, &app, "/console/clients").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(sneaky), "listed: {html}");
    let csrf = hidden(&html, "csrf");
    let disable = form_actions(&html)
        .into_iter()
        .map(|action| page_url.join(&action).expect("resolves"))
        .find(|url| url.path().ends_with("/disable") && url.path().contains("users"))
        .expect("the sneaky client's disable form");
    let resp = b
        .post(disable.clone())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::OK, "{disable}");
    let victim = app
        .state
        .accounts
        .find_user("victim")
        .await
        .expect("victim");
    assert!(
        !victim.disabled,
        "the form at {disable} disabled the user victim"
    );
    let client = app
        .state
        .accounts
        .find_client(sneaky)
        .await
        .expect("client");
    assert!(
        client.disabled,
        "the form at {disable} did not disable the client"
    );

    // Its delete confirmation, and the delete it posts, reach the client too.
    let (status, html) = page(&b, &app, "/console/clients").await;
    assert_eq!(status, StatusCode::OK);
    let confirm = html
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| {
            page_url
                .join(&crate::helpers::unescape(href))
                .expect("resolves")
        })
        .find(|url| url.path().ends_with("/delete") && url.path().contains("users"))
        .expect("the sneaky client's delete link");
    let resp = b.get(confirm.clone()).send().await.expect("page");
    assert_eq!(resp.status(), StatusCode::OK, "{confirm}");
    let html = resp.text().await.expect("html");
    assert!(html.contains(sneaky), "the confirmation names it: {html}");
    let delete = form_actions(&html)
        .into_iter()
        .map(|action| confirm.join(&action).expect("resolves"))
        .find(|url| url.path() != "/logout")
        .expect("the delete form (beside the header's sign-out)");
    assert_eq!(delete.path(), confirm.path(), "posts where it was shown");
    let resp = b
        .post(delete)
        .form(&[("csrf", hidden(&html, "csrf"))])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        app.state.accounts.find_client(sneaky).await.is_err(),
        "deleted"
    );
    assert!(
        app.state.accounts.find_user("victim").await.is_ok(),
        "victim stays"
    );

    // The admin API reaches such a client by its percent-encoded id as well.
    let mut stored = client;
    stored.client_id = "old/style@id".into();
    app.state
        .db
        .write(move |conn| gatehouse::db::repo::clients::insert(conn, &stored))
        .await
        .expect("an old release's client");
    let resp = app
        .http
        .post(app.url("/admin/clients/old%2Fstyle%40id/disable"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["client_id"], "old/style@id", "{body}");
    let resp = app
        .http
        .delete(app.url("/admin/clients/old%2Fstyle%40id"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert!(resp.status().is_success(), "{}", resp.status());
    assert!(app
        .state
        .accounts
        .find_client("old/style@id")
        .await
        .is_err());
}

/// The names in the first column of a console table, in order.
fn first_column(html: &str) -> Vec<String> {
    html.split("<tr><td")
        .skip(1)
        .map(|row| {
            let cell = &row[row.find('>').expect("a cell") + 1..];
            cell[..cell.find("</td>").expect("the cell's end")].to_string()
        })
        .collect()
}

/// The page behind the "Next page" link, if the page has one.
fn next_page(html: &str) -> Option<String> {
    let end = html.find("\">Next page</a>")?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    // askama escapes the `&` between parameters.
    Some(html[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

async fn the_console_lists_are_paged_and_searched_and_its_header_signs_out(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let b = admin_console(&app).await;
    for name in ["alice", "alina", "bob"] {
        app.add_user(name, "a long enough password", false).await;
    }
    let (status, html) = page(&b, &app, "/console/users?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(first_column(&html), ["alice", "alina"]);
    let next = next_page(&html).expect("a link to the next page");
    let (_, html) = page(&b, &app, &next).await;
    assert_eq!(first_column(&html), ["bob", "root"], "{next}");
    assert_eq!(next_page(&html), None, "the last page");

    // The search box: a prefix of the name (or email), kept in the box.
    let (_, html) = page(&b, &app, "/console/users?prefix=ali").await;
    assert_eq!(first_column(&html), ["alice", "alina"]);
    assert!(html.contains("value=\"ali\""), "{html}");
    let (_, html) = page(&b, &app, "/console/users?prefix=ali&limit=1").await;
    let next = next_page(&html).expect("a next page of the search");
    assert!(next.contains("prefix=ali"), "{next}");
    let (_, html) = page(&b, &app, &next).await;
    assert_eq!(first_column(&html), ["alina"], "{next}");
    let (_, html) = page(&b, &app, "/console/clients?prefix=sim").await;
    assert_eq!(first_column(&html), ["simplejwt"]);
    for bad in [
        "/console/users?limit=0",
        "/console/users?after=%00",
        "/console/clients?limit=x",
    ] {
        let (status, _) = page(&b, &app, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // Every console page's header signs out (a POST with the page's token).
    for path in [
        "/console/keys",
        "/console/users",
        "/console/clients",
        "/console/audit",
    ] {
        let (_, html) = page(&b, &app, path).await;
        assert!(
            html.contains("<form method=\"post\" action=\"/logout\""),
            "{path}: {html}"
        );
    }
    let (_, html) = page(&b, &app, "/console/audit").await;
    let (status, html) = post(&b, &app, "/logout", &[("csrf", &hidden(&html, "csrf"))]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Signed out"), "{html}");
    let resp = b.get(app.url("/console/users")).send().await.expect("page");
    assert_eq!(
        resp.status(),
        StatusCode::FOUND,
        "signed out, sent to sign in"
    );
}
