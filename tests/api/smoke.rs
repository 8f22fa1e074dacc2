use crate::both_backends;
use crate::helpers::{spawn_app, verify_with_jwks, Backend};

both_backends!(login_returns_a_pair_that_verifies_against_the_jwks);

async fn login_returns_a_pair_that_verifies_against_the_jwks(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "correct horse battery", false).await;
    let (access, _refresh) = app.tokens("alice", "correct horse battery").await;
    let jwks = app.jwks().await;
    let claims = verify_with_jwks(&access, &jwks, &app.settings.issuer).expect("verifies");
    assert_eq!(claims["token_type"], "access");
    let me: serde_json::Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["preferred_username"], "alice");
}

both_backends!(a_known_path_with_the_wrong_method_is_405_with_allow);

async fn a_known_path_with_the_wrong_method_is_405_with_allow(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    for (method, path, allow) in [
        (reqwest::Method::GET, "/api/token/", "POST"),
        (reqwest::Method::DELETE, "/token", "POST"),
        (reqwest::Method::PUT, "/login", "GET, POST"),
        (reqwest::Method::POST, "/.well-known/jwks.json", "GET, HEAD"),
        (reqwest::Method::PATCH, "/admin/users/alice", "GET, DELETE"),
    ] {
        let resp = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method} {path}");
        assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "method_not_allowed");
    }
    let resp = app
        .http
        .get(app.url("/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // HEAD of the JWKS: the headers of a GET, no body.
    let resp = app
        .http
        .head(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("etag"));
}
