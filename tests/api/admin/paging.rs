//! The admin API: the lists: paged after a cursor, searched by prefix.

use serde_json::json;

use super::json_of;
use crate::both_backends;
use crate::helpers::{spawn_app, Backend, TestApp};

both_backends!(admin_lists_are_paged_after_a_cursor_and_searched_by_prefix,);

/// Every page of `path` (which has a query already), following `next`: the names on each.
async fn pages(app: &TestApp, token: &str, path: &str, list: &str, key: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut url = path.to_string();
    loop {
        let resp = app.admin_get(token, &url).await;
        assert_eq!(resp.status(), 200, "{url}");
        let page = json_of(resp).await;
        let names = page[list]
            .as_array()
            .unwrap_or_else(|| panic!("{list} in {page}"))
            .iter()
            .map(|row| row[key].as_str().unwrap().to_string())
            .collect();
        pages.push(names);
        match page["next"].as_str() {
            Some(next) => {
                url = format!("{path}&after={}", urlencoding(next));
            }
            None => {
                assert!(
                    page.get("next").is_some(),
                    "a next member, null on the last page"
                );
                return pages;
            }
        }
        assert!(pages.len() < 20, "no end to the pages of {path}");
    }
}

fn urlencoding(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_string()
}

async fn admin_lists_are_paged_after_a_cursor_and_searched_by_prefix(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    // Code point order: upper case before lower case, `_` between them.
    let users = [
        ("alice", Some("alice@example.com")),
        ("alina", None),
        ("al_x", None),
        ("Alan", None),
        ("bob", Some("ali.baba@example.com")),
        ("carol", Some("carol@example.com")),
    ];
    for (name, email) in users {
        let resp = app
            .admin_post(
                &admin,
                "/admin/users",
                Some(json!({ "username": name, "password": "a long enough password", "email": email })),
            )
            .await;
        assert_eq!(resp.status(), 201, "{name}");
    }
    let everyone = ["Alan", "al_x", "alice", "alina", "bob", "carol", "root"];
    let paged = pages(&app, &admin, "/admin/users?limit=3", "users", "username").await;
    assert_eq!(
        paged,
        [&everyone[..3], &everyone[3..6], &everyone[6..]],
        "three pages, in order, each user once"
    );
    // Exactly one full page: no next page to read empty.
    let paged = pages(&app, &admin, "/admin/users?limit=7", "users", "username").await;
    assert_eq!(paged, [&everyone[..]]);
    // The default page holds them all.
    let paged = pages(&app, &admin, "/admin/users?", "users", "username").await;
    assert_eq!(paged, [&everyone[..]]);

    // A prefix of the username or of the email; case-sensitive; `_` and `%` are plain
    // characters, not LIKE's wildcards.
    for (prefix, expected) in [
        ("ali", vec!["alice", "alina", "bob"]),
        ("al", vec!["al_x", "alice", "alina", "bob"]),
        ("Al", vec!["Alan"]),
        ("al_", vec!["al_x"]),
        ("a%", vec![]),
        ("carol@", vec!["carol"]),
        ("z", vec![]),
    ] {
        let path = format!("/admin/users?limit=2&prefix={}", urlencoding(prefix));
        let found: Vec<String> = pages(&app, &admin, &path, "users", "username")
            .await
            .concat();
        assert_eq!(found, expected, "prefix {prefix:?}");
    }

    // Clients alike, by client_id.
    for id in ["app-one", "app-two", "app_three", "other"] {
        app.add_client(&[id, "--grant", "client_credentials"]).await;
    }
    let paged = pages(
        &app,
        &admin,
        "/admin/clients?limit=2",
        "clients",
        "client_id",
    )
    .await;
    assert_eq!(
        paged,
        [
            vec!["adm", "app-one"],
            vec!["app-two", "app_three"],
            vec!["other", "simplejwt"]
        ]
    );
    let path = "/admin/clients?prefix=app-";
    let found = pages(&app, &admin, path, "clients", "client_id").await;
    assert_eq!(found, [["app-one", "app-two"]]);

    // Bad paging is a 400 that says what is wrong, never a 5xx (PostgreSQL refuses a NUL in
    // text) and never a page.
    for query in [
        "limit=0",
        "limit=501",
        "limit=-1",
        "limit=ten",
        "after=a%00b",
        "prefix=%00",
        "unknown=1",
    ] {
        for list in ["users", "clients"] {
            let resp = app
                .admin_get(&admin, &format!("/admin/{list}?{query}"))
                .await;
            assert_eq!(resp.status(), 400, "{list}?{query}");
            let body = json_of(resp).await;
            assert_eq!(body["error"], "invalid_request", "{list}?{query}: {body}");
        }
    }
}
