//! The JSON admin API under /admin: who may call it, keys, users, clients, hostile bodies.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{password_grant, spawn_app, spawn_app_with, Backend, TestApp, ADMIN_PASSWORD};

both_backends!(
    admin_api_without_a_valid_token_is_401_with_a_bearer_challenge,
    admin_api_refuses_tokens_without_an_admin_user_and_scope_admin,
    admin_lists_keys_without_key_material,
    admin_rotation_answers_current_next_retired_and_warns_on_a_young_next_key,
    admin_rotation_does_not_warn_when_the_next_key_is_old_enough,
    admin_creates_lists_disables_enables_and_deletes_users,
    admin_manages_clients_and_rotates_their_secrets,
    admin_api_rejects_hostile_bodies_without_writing,
    admin_concurrent_creates_of_one_name_give_one_201_and_409s,
    admin_lists_are_paged_after_a_cursor_and_searched_by_prefix,
);

impl TestApp {
    async fn admin_get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    async fn admin_post(&self, token: &str, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    async fn admin_post_raw(
        &self,
        token: &str,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    async fn admin_delete(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    async fn client_credentials(&self, client_id: &str, secret: &str) -> reqwest::Response {
        self.http
            .post(self.url("/token"))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("request")
    }
}

async fn json_of(resp: reqwest::Response) -> Value {
    resp.json().await.expect("a JSON body")
}

/// An admin API error: `status`, a JSON body with exactly `error` and a description.
async fn assert_error(resp: reqwest::Response, status: u16, error: &str, what: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "{what}");
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(ctype.starts_with("application/json"), "{what}: {ctype}");
    let body = json_of(resp).await;
    assert_eq!(body["error"], error, "{what}: {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
    body
}

async fn admin_api_without_a_valid_token_is_401_with_a_bearer_challenge(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let resp = app.http.get(app.url("/admin/keys")).send().await.unwrap();
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    // RFC 6750 §3.1: no token sent, so the challenge names no error.
    assert_eq!(challenge, "Bearer realm=\"gatehouse\"");
    assert_error(resp, 401, "invalid_token", "no token").await;

    let unsigned = {
        use base64::Engine;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(json!({ "alg": "none", "typ": "at+jwt" })),
            b64(json!({ "sub": "root", "scope": "admin", "exp": 4_000_000_000u64 }))
        )
    };
    for garbage in ["garbage", "a.b.c", unsigned.as_str()] {
        let resp = app.admin_get(garbage, "/admin/users").await;
        assert!(resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\""));
        let body = assert_error(resp, 401, "invalid_token", garbage).await;
        if garbage.len() > 10 {
            assert!(!body.to_string().contains(garbage), "the token is echoed");
        }
    }
    // Another scheme is no bearer token.
    let resp = app
        .http
        .post(app.url("/admin/keys/rotate"))
        .basic_auth("root", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "invalid_token", "basic auth").await;

    // A refresh token is never an access token.
    app.add_user("root", ADMIN_PASSWORD, true).await;
    let (_, refresh) = app.tokens("root", ADMIN_PASSWORD).await;
    assert_error(
        app.admin_get(&refresh, "/admin/keys").await,
        401,
        "invalid_token",
        "refresh token",
    )
    .await;
}

async fn admin_api_refuses_tokens_without_an_admin_user_and_scope_admin(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    assert_eq!(app.admin_get(&admin, "/admin/keys").await.status(), 200);
    app.add_user("bob", "bob's password", false).await;
    let secret = app
        .add_client(&["adm2", "--grant", "password", "--scope", "admin", "openid"])
        .await
        .unwrap();

    // simplejwt tokens never carry scope admin, not even an admin user's.
    let (bob_simplejwt, _) = app.tokens("bob", "bob's password").await;
    let (root_simplejwt, _) = app.tokens("root", ADMIN_PASSWORD).await;
    // Password grant without scope admin, for an admin and a non-admin user.
    let token_for = |user: &'static str, pw: &'static str, scope: &'static str| {
        let (app, secret) = (&app, secret.clone());
        async move {
            let resp =
                password_grant(&app.http, &app.address, "adm2", &secret, user, pw, scope).await;
            assert_eq!(resp.status(), 200, "{user} {scope}");
            json_of(resp).await["access_token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let root_openid = token_for("root", ADMIN_PASSWORD, "openid").await;
    let bob_openid = token_for("bob", "bob's password", "openid").await;
    // Without `scope`, the admin scope is not granted by default.
    let root_default = token_for("root", ADMIN_PASSWORD, "").await;

    for (what, token) in [
        ("non-admin simplejwt token", &bob_simplejwt),
        ("admin's simplejwt token", &root_simplejwt),
        ("admin's token with scope openid", &root_openid),
        ("admin's token with the default scope", &root_default),
        ("non-admin's token with scope openid", &bob_openid),
    ] {
        for path in ["/admin/keys", "/admin/users", "/admin/clients"] {
            let resp = app.admin_get(token, path).await;
            assert!(resp.headers().contains_key("www-authenticate"), "{what}");
            assert_error(resp, 403, "insufficient_scope", what).await;
        }
        let resp = app
            .admin_post(token, "/admin/keys/rotate", Some(json!({})))
            .await;
        assert_error(resp, 403, "insufficient_scope", what).await;
    }

    // A non-admin user cannot even obtain scope admin.
    let resp = password_grant(
        &app.http,
        &app.address,
        "adm2",
        &secret,
        "bob",
        "bob's password",
        "admin",
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(json_of(resp).await["error"], "invalid_scope");

    // Nor does a client_credentials token carry it.
    let svc = app
        .add_client(&[
            "svc",
            "--grant",
            "client_credentials",
            "--scope",
            "admin",
            "read",
        ])
        .await
        .unwrap();
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("svc", Some(&svc))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let cc = json_of(app.client_credentials("svc", &svc).await).await;
    let cc = cc["access_token"].as_str().unwrap();
    assert_error(
        app.admin_get(cc, "/admin/keys").await,
        403,
        "insufficient_scope",
        "client token",
    )
    .await;

    // Nothing was rotated by the refused calls.
    let keys = json_of(app.admin_get(&admin, "/admin/keys").await).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 3);
}

async fn admin_lists_keys_without_key_material(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let resp = app.admin_get(&admin, "/admin/keys").await;
    assert_eq!(resp.status(), 200);
    let body = json_of(resp).await;
    let keys = body["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 3);
    let mut states: Vec<&str> = keys.iter().map(|k| k["state"].as_str().unwrap()).collect();
    states.sort();
    assert_eq!(states, ["current", "next", "standby"]);
    let jwks = app.jwks().await;
    for key in keys {
        let kid = key["kid"].as_str().expect("kid");
        assert!(jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid));
        assert!(key["created_at"].as_i64().is_some(), "{key}");
        assert_eq!(key["bits"], 2048);
        // Public facts only: any other member (d, p, q, dp, dq, qi, a sealed blob) fails.
        let members: BTreeSet<&str> = key
            .as_object()
            .expect("a key is an object")
            .keys()
            .map(String::as_str)
            .collect();
        let public = BTreeSet::from([
            "kid",
            "state",
            "bits",
            "created_at",
            "activated_at",
            "retired_at",
            "remove_after",
            "revoked_at",
        ]);
        assert_eq!(members, public, "{key}");
        if key["state"] == "current" {
            assert!(key["activated_at"].as_i64().is_some(), "{key}");
            assert_eq!(json!(kid), crate::helpers::peek(&admin).0["kid"]);
        }
    }
}

async fn admin_rotation_answers_current_next_retired_and_warns_on_a_young_next_key(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let keys = json_of(app.admin_get(&admin, "/admin/keys").await).await;
    let kid_in = |state: &str| {
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["state"] == state)
            .unwrap()["kid"]
            .clone()
    };
    let (current, next, standby) = (kid_in("current"), kid_in("next"), kid_in("standby"));

    // No body at all is a manual rotation.
    let resp = app.admin_post(&admin, "/admin/keys/rotate", None).await;
    assert_eq!(resp.status(), 200);
    let outcome = json_of(resp).await;
    assert_eq!(outcome["rotated"], true);
    assert_eq!(outcome["current"], next);
    assert_eq!(outcome["retired"], current);
    assert!(outcome["revoked"].is_null());
    let new_next = outcome["next"].clone();
    assert_eq!(new_next, standby, "the standby key moves up");
    let new_standby = outcome["standby"].clone();
    assert!(new_standby.is_string() && ![&current, &next, &standby].contains(&&new_standby));
    let warning = outcome["warning"].as_str().expect("a warning");
    assert!(warning.contains("max-age"), "{warning}");

    // The rotating instance serves the new key set at once.
    let jwks = app.jwks().await;
    let kids: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["kid"])
        .collect();
    assert_eq!(kids.len(), 4);
    for kid in [&current, &next, &new_next, &new_standby] {
        assert!(kids.contains(&kid), "{kid} in {jwks}");
    }
    app.add_user("alice", "correct horse battery", false).await;
    let (access, _) = app.tokens("alice", "correct horse battery").await;
    assert_eq!(crate::helpers::peek(&access).0["kid"], next);

    // An explicit {"emergency": false} is a manual rotation too; the admin token (signed by
    // a key now retired) still works.
    let resp = app
        .admin_post(
            &admin,
            "/admin/keys/rotate",
            Some(json!({ "emergency": false })),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let second = json_of(resp).await;
    assert_eq!(second["current"], new_next);
    assert_eq!(second["retired"], next);
    let listed = json_of(app.admin_get(&admin, "/admin/keys").await).await;
    let count = |state: &str| {
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["state"] == state)
            .count()
    };
    assert_eq!(
        (
            count("current"),
            count("next"),
            count("standby"),
            count("retired")
        ),
        (1, 1, 1, 2)
    );
    let retired_at = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == current)
        .unwrap()
        .clone();
    assert!(retired_at["retired_at"].as_i64().is_some(), "{retired_at}");
    assert!(
        retired_at["remove_after"].as_i64().unwrap() > retired_at["retired_at"].as_i64().unwrap()
    );
}

async fn admin_rotation_does_not_warn_when_the_next_key_is_old_enough(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.jwks_max_age = Some("60s".into());
        args.key_poll_interval = Some("1s".into());
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    // The next key has been published for JWKS_MAX_AGE and the time instances take to serve
    // it (KEY_POLL_INTERVAL and a second): every honest cache holds it.
    let cached = app.state.keys.policy.rotation.cached_everywhere_after();
    assert_eq!(cached, 62, "within the admin token's life");
    app.advance(cached as u64);
    let resp = app
        .admin_post(&admin, "/admin/keys/rotate", Some(json!({})))
        .await;
    assert_eq!(resp.status(), 200);
    let outcome = json_of(resp).await;
    assert_eq!(outcome["rotated"], true);
    assert!(outcome["warning"].is_null(), "{outcome}");
}

async fn admin_creates_lists_disables_enables_and_deletes_users(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let resp = app
        .admin_post(
            &admin,
            "/admin/users",
            Some(json!({ "username": "carol", "password": "carol's password", "email": "carol@example.com" })),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let carol = json_of(resp).await;
    assert_eq!(carol["username"], "carol");
    assert_eq!(carol["email"], "carol@example.com");
    assert_eq!(carol["is_admin"], false);
    assert_eq!(carol["disabled"], false);
    assert!(carol["sub"]
        .as_str()
        .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()));
    let text = carol.to_string();
    assert!(
        !text.contains("carol's password") && !text.contains("argon2"),
        "{text}"
    );

    let list = json_of(app.admin_get(&admin, "/admin/users").await).await;
    let names: Vec<&str> = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"carol") && names.contains(&"root"),
        "{list}"
    );
    assert!(!list.to_string().contains("argon2"));
    let got = json_of(app.admin_get(&admin, "/admin/users/carol").await).await;
    assert_eq!(got["sub"], carol["sub"]);

    let (_, refresh) = app.tokens("carol", "carol's password").await;
    let resp = app
        .admin_post(&admin, "/admin/users/carol/disable", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["disabled"], true);
    assert_eq!(
        app.simplejwt_login("carol", "carol's password")
            .await
            .status(),
        401
    );
    let refreshed = app
        .post_json("/api/token/refresh/", json!({ "refresh": refresh }))
        .await;
    assert_eq!(refreshed.status(), 401, "a disabled user's refresh token");

    let resp = app
        .admin_post(&admin, "/admin/users/carol/enable", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["disabled"], false);
    let (access, _) = app.tokens("carol", "carol's password").await;
    let refreshed = app
        .post_json("/api/token/refresh/", json!({ "refresh": refresh }))
        .await;
    assert_eq!(
        refreshed.status(),
        401,
        "enabling does not revive old families"
    );

    let resp = app.admin_delete(&admin, "/admin/users/carol").await;
    assert_eq!(resp.status(), 204);
    assert_error(
        app.admin_get(&admin, "/admin/users/carol").await,
        404,
        "not_found",
        "deleted",
    )
    .await;
    assert_error(
        app.admin_delete(&admin, "/admin/users/carol").await,
        404,
        "not_found",
        "again",
    )
    .await;
    assert_eq!(
        app.simplejwt_login("carol", "carol's password")
            .await
            .status(),
        401
    );
    let me = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        401,
        "a deleted user's access token at /userinfo"
    );
    for verb in ["disable", "enable"] {
        let resp = app
            .admin_post(&admin, &format!("/admin/users/nobody/{verb}"), None)
            .await;
        assert_error(resp, 404, "not_found", verb).await;
    }

    // An admin created through the API can administer; once disabled, their token stops.
    let resp = app
        .admin_post(
            &admin,
            "/admin/users",
            Some(json!({ "username": "dave", "password": "dave's password", "is_admin": true })),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(json_of(resp).await["is_admin"], true);
    let secret = app
        .add_client(&["adm-dave", "--grant", "password", "--scope", "admin"])
        .await
        .unwrap();
    let resp = password_grant(
        &app.http,
        &app.address,
        "adm-dave",
        &secret,
        "dave",
        "dave's password",
        "admin",
    )
    .await;
    assert_eq!(resp.status(), 200);
    let dave = json_of(resp).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.admin_get(&dave, "/admin/users").await.status(), 200);
    let resp = app
        .admin_post(&admin, "/admin/users/dave/disable", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_error(
        app.admin_get(&dave, "/admin/users").await,
        401,
        "invalid_token",
        "disabled admin",
    )
    .await;
}

async fn admin_manages_clients_and_rotates_their_secrets(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let resp = app
        .admin_post(
            &admin,
            "/admin/clients",
            Some(json!({ "client_id": "svc", "grants": ["client_credentials"], "scopes": ["read", "write"] })),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let created = json_of(resp).await;
    assert_eq!(created["client_id"], "svc");
    assert_eq!(created["public"], false);
    assert_eq!(created["grants"], json!(["client_credentials"]));
    assert!(created.get("secret_hash").is_none());
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    assert!(secret.len() >= 43, "256 random bits");

    let resp = app.client_credentials("svc", &secret).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["scope"], "read write");

    let list = json_of(app.admin_get(&admin, "/admin/clients").await).await;
    let ids: Vec<&str> = list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    for id in ["svc", "adm", "simplejwt"] {
        assert!(ids.contains(&id), "{id} in {list}");
    }
    assert!(!list.to_string().contains(&secret));
    assert!(!list.to_string().contains("secret"), "{list}");
    let got = json_of(app.admin_get(&admin, "/admin/clients/svc").await).await;
    assert_eq!(got["scopes"], json!(["read", "write"]));
    assert!(got.get("client_secret").is_none() && got.get("secret_hash").is_none());

    let resp = app
        .admin_post(&admin, "/admin/clients/svc/rotate-secret", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let rotated = json_of(resp).await;
    assert_eq!(rotated["client_id"], "svc");
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    let old = app.client_credentials("svc", &secret).await;
    assert_eq!(old.status(), 401);
    assert_eq!(json_of(old).await["error"], "invalid_client");
    assert_eq!(
        app.client_credentials("svc", &new_secret).await.status(),
        200
    );

    let resp = app
        .admin_post(&admin, "/admin/clients/svc/disable", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["disabled"], true);
    assert_eq!(
        app.client_credentials("svc", &new_secret).await.status(),
        401
    );
    let resp = app
        .admin_post(&admin, "/admin/clients/svc/enable", None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.client_credentials("svc", &new_secret).await.status(),
        200
    );

    // A public client has no secret to show or rotate.
    let resp = app
        .admin_post(
            &admin,
            "/admin/clients",
            Some(json!({ "client_id": "spa", "public": true, "redirect_uris": ["https://spa.example/cb"] })),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let spa = json_of(resp).await;
    assert!(spa["client_secret"].is_null(), "{spa}");
    assert_eq!(spa["redirect_uris"], json!(["https://spa.example/cb"]));
    assert_eq!(
        spa["grants"],
        json!(["authorization_code", "refresh_token"])
    );
    let resp = app
        .admin_post(&admin, "/admin/clients/spa/rotate-secret", None)
        .await;
    assert_error(resp, 400, "invalid_request", "public rotate-secret").await;

    let resp = app
        .admin_post(
            &admin,
            "/admin/clients",
            Some(json!({ "client_id": "svc" , "grants": ["client_credentials"]})),
        )
        .await;
    assert_error(resp, 409, "conflict", "duplicate client").await;
    let resp = app.admin_delete(&admin, "/admin/clients/simplejwt").await;
    assert_error(resp, 400, "invalid_request", "built-in client").await;

    let resp = app.admin_delete(&admin, "/admin/clients/svc").await;
    assert_eq!(resp.status(), 204);
    assert_error(
        app.admin_get(&admin, "/admin/clients/svc").await,
        404,
        "not_found",
        "deleted",
    )
    .await;
    assert_eq!(
        app.client_credentials("svc", &new_secret).await.status(),
        401
    );
    for path in [
        "/admin/clients/ghost/rotate-secret",
        "/admin/clients/ghost/disable",
        "/admin/clients/ghost/enable",
    ] {
        assert_error(
            app.admin_post(&admin, path, None).await,
            404,
            "not_found",
            path,
        )
        .await;
    }
    assert_error(
        app.admin_delete(&admin, "/admin/clients/ghost").await,
        404,
        "not_found",
        "ghost",
    )
    .await;
}

async fn admin_api_rejects_hostile_bodies_without_writing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let users_before = json_of(app.admin_get(&admin, "/admin/users").await).await;
    let clients_before = json_of(app.admin_get(&admin, "/admin/clients").await).await;
    let keys_before = json_of(app.admin_get(&admin, "/admin/keys").await).await;
    let json_type = "application/json";

    let cases: Vec<(&str, &str, String, u16)> = vec![
        ("/admin/users", json_type, r#"{"username": "x", "password":"#.into(), 400),
        ("/admin/users", json_type, "[1, 2, 3]".into(), 400),
        ("/admin/users", json_type, "null".into(), 400),
        ("/admin/users", json_type, r#"{"username": "x"}"#.into(), 400),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x", "password": "a long enough password", "role": "god"}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "has space", "password": "a long enough password"}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            json!({ "username": "x".repeat(151), "password": "a long enough password" }).to_string(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x", "password": ""}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x", "password": "a long enough password", "email": "not-an-address"}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x", "password": "a long enough password", "is_admin": "yes"}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x", "password": "a long enough password", "email": "a\u0000@b.example"}"#
                .into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "x\u0000y", "password": "a long enough password"}"#.into(),
            400,
        ),
        (
            "/admin/users",
            json_type,
            r#"{"username": "root", "password": "another long password"}"#.into(),
            409,
        ),
        (
            "/admin/users",
            "text/plain",
            r#"{"username": "x", "password": "a long enough password"}"#.into(),
            415,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "redirect_uris": ["not a uri"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "redirect_uris": ["/relative/cb"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "redirect_uris": ["https://app.example/cb#frag"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "redirect_uris": ["https://ok.example/cb"], "post_logout_redirect_uris": ["javascript alert(1)"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "grants": ["authorization_code"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "grants": ["implicit"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "grants": ["client_credentials"], "public": true}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "we b", "grants": ["client_credentials"]}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "web", "grants": ["client_credentials"], "secret": "mine"}"#.into(),
            400,
        ),
        (
            "/admin/clients",
            json_type,
            r#"{"client_id": "adm", "grants": ["client_credentials"]}"#.into(),
            409,
        ),
        ("/admin/keys/rotate", json_type, r#"{"urgent": true}"#.into(), 400),
        ("/admin/keys/rotate", json_type, r#"{"emergency": "yes"}"#.into(), 400),
        ("/admin/keys/rotate", json_type, "{".into(), 400),
        (
            "/admin/users",
            json_type,
            format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)),
            400,
        ),
    ];
    for (path, ctype, body, status) in cases {
        let resp = app.admin_post_raw(&admin, path, ctype, body.clone()).await;
        // A name already taken is a conflict; everything else here is a malformed request.
        let error = if status == 409 {
            "conflict"
        } else {
            "invalid_request"
        };
        let err = assert_error(resp, status, error, &format!("{path} {body}")).await;
        if body.contains("long enough") || body.contains("another one") {
            assert!(
                !err.to_string().contains("long enough")
                    && !err.to_string().contains("another one"),
                "a password is echoed: {err}"
            );
        }
    }

    // Bytes that are not UTF-8.
    let resp = app
        .admin_post_raw(
            &admin,
            "/admin/users",
            json_type,
            b"{\"username\": \"\xff\xfe\", \"password\": \"long enough\"}".to_vec(),
        )
        .await;
    assert_error(resp, 400, "invalid_request", "invalid UTF-8").await;
    // Odd names in the path are unknown, not errors.
    for path in [
        format!("/admin/users/{}", "x".repeat(300)),
        "/admin/users/a%2Fb".to_string(),
        "/admin/users/%00".to_string(),
        "/admin/clients/%E2%80%AE".to_string(),
    ] {
        assert_error(app.admin_get(&admin, &path).await, 404, "not_found", &path).await;
    }

    // A 1 MB body is refused before it is read whole.
    let big = format!(
        r#"{{"username": "big", "password": "{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    let resp = app
        .admin_post_raw(&admin, "/admin/users", json_type, big)
        .await;
    assert_error(resp, 413, "invalid_request", "1 MB body").await;
    let big_rotate = format!(
        r#"{{"emergency": true, "pad": "{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    let resp = app
        .admin_post_raw(&admin, "/admin/keys/rotate", json_type, big_rotate)
        .await;
    assert_error(resp, 413, "invalid_request", "1 MB rotate body").await;

    // Nothing above wrote anything.
    assert_eq!(
        json_of(app.admin_get(&admin, "/admin/users").await).await,
        users_before
    );
    assert_eq!(
        json_of(app.admin_get(&admin, "/admin/clients").await).await,
        clients_before
    );
    assert_eq!(
        json_of(app.admin_get(&admin, "/admin/keys").await).await,
        keys_before
    );
    // And the server still answers normally.
    assert_eq!(app.admin_get(&admin, "/admin/keys").await.status(), 200);
}

async fn admin_concurrent_creates_of_one_name_give_one_201_and_409s(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    for (path, body) in [
        (
            "/admin/users",
            json!({ "username": "twin", "password": "twin's password" }),
        ),
        (
            "/admin/clients",
            json!({ "client_id": "twin", "grants": ["client_credentials"] }),
        ),
    ] {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let req = app.http.post(app.url(path)).bearer_auth(&admin).json(&body);
            tasks.spawn(async move { req.send().await.expect("request").status().as_u16() });
        }
        let mut statuses = Vec::new();
        while let Some(status) = tasks.join_next().await {
            statuses.push(status.unwrap());
        }
        statuses.sort();
        assert_eq!(statuses, [201, 409, 409, 409, 409, 409], "{path}");
    }
    let users = json_of(app.admin_get(&admin, "/admin/users").await).await;
    let twins = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["username"] == "twin")
        .count();
    assert_eq!(twins, 1);
    assert_eq!(
        app.simplejwt_login("twin", "twin's password")
            .await
            .status(),
        200
    );
}

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
