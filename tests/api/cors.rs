//! Browser apps on other origins (`CORS_ORIGINS`): preflights and actual requests from
//! listed and unlisted origins, the `;credentials` marker, `Vary: Origin`, and discovery
//! and the JWKS, which answer any origin.

use reqwest::header::HeaderMap;
use reqwest::Method;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp};

both_backends!(
    a_listed_origin_passes_the_preflight_of_every_token_endpoint,
    a_listed_origin_reads_the_answers_of_the_token_endpoints,
    an_unlisted_origin_gets_no_cors_header,
    only_an_origin_marked_for_credentials_gets_credentials_mode,
    discovery_and_jwks_answer_any_origin_without_cors_origins,
    other_endpoints_stay_same_origin_for_a_listed_origin,
);

const SPA: &str = "https://spa.example.com";
const ADMIN: &str = "http://127.0.0.1:5173";
const OTHER: &str = "https://evil.example.net";

/// The endpoints a browser app calls across origins, with the methods each allows.
const TOKEN_ENDPOINTS: [(&str, &str); 7] = [
    ("/api/token/", "POST"),
    ("/api/token/refresh/", "POST"),
    ("/api/token/verify/", "POST"),
    ("/api/token/blacklist/", "POST"),
    ("/token", "POST"),
    ("/revoke", "POST"),
    ("/userinfo", "GET, POST"),
];

async fn app_with_origins(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |s| {
        s.cors_origins = Some(format!("{SPA}, {ADMIN};credentials"));
    })
    .await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn vary_has_origin(headers: &HeaderMap) -> bool {
    headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("origin"))
}

fn no_cors_headers(headers: &HeaderMap, what: &str) {
    for (name, _) in headers {
        assert!(
            !name.as_str().starts_with("access-control-"),
            "{what}: {name} was sent: {headers:?}"
        );
    }
}

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("request")
}

async fn a_listed_origin_passes_the_preflight_of_every_token_endpoint(backend: Backend) {
    let Some(app) = app_with_origins(backend).await else {
        return;
    };
    for (path, methods) in TOKEN_ENDPOINTS {
        let resp = preflight(&app, path, SPA, "POST").await;
        assert_eq!(resp.status(), 204, "{path}");
        let h = resp.headers();
        assert_eq!(
            header(h, "access-control-allow-origin"),
            Some(SPA),
            "{path}"
        );
        assert_eq!(
            header(h, "access-control-allow-methods"),
            Some(methods),
            "{path}"
        );
        assert_eq!(
            header(h, "access-control-allow-headers"),
            Some("Authorization, Content-Type"),
            "{path}"
        );
        assert_eq!(header(h, "access-control-max-age"), Some("600"), "{path}");
        assert!(vary_has_origin(h), "{path}: {h:?}");
        assert_eq!(
            header(h, "access-control-allow-credentials"),
            None,
            "{path}: no credentials mode for an unmarked origin"
        );
    }
}

async fn a_listed_origin_reads_the_answers_of_the_token_endpoints(backend: Backend) {
    let Some(app) = app_with_origins(backend).await else {
        return;
    };
    app.add_user("alice", "alice-password-1", false).await;

    // Success: the pair, readable by the app.
    let resp = app
        .http
        .post(app.url("/api/token/"))
        .header("Origin", SPA)
        .json(&serde_json::json!({"username": "alice", "password": "alice-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(header(&h, "access-control-allow-origin"), Some(SPA));
    assert!(vary_has_origin(&h), "{h:?}");
    let exposed = header(&h, "access-control-expose-headers").unwrap_or_default();
    for name in ["WWW-Authenticate", "Retry-After", "X-Request-Id"] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
    let pair: serde_json::Value = resp.json().await.unwrap();
    let access = pair["access"].as_str().unwrap().to_string();

    // Errors too: a 401 from /userinfo with its challenge, readable by the app.
    let resp = app
        .http
        .get(app.url("/userinfo"))
        .header("Origin", SPA)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        header(resp.headers(), "access-control-allow-origin"),
        Some(SPA)
    );
    assert!(resp.headers().contains_key("www-authenticate"));

    let resp = app
        .http
        .get(app.url("/userinfo"))
        .header("Origin", SPA)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(resp.headers(), "access-control-allow-origin"),
        Some(SPA)
    );

    // A request without Origin (a server, curl) gets no CORS header, but still Vary: a
    // cache must not hand this answer to a browser app.
    let resp = app.simplejwt_login("alice", "alice-password-1").await;
    assert_eq!(resp.status(), 200);
    no_cors_headers(resp.headers(), "no Origin");
    assert!(vary_has_origin(resp.headers()), "{:?}", resp.headers());
}

async fn an_unlisted_origin_gets_no_cors_header(backend: Backend) {
    let Some(app) = app_with_origins(backend).await else {
        return;
    };
    app.add_user("alice", "alice-password-1", false).await;
    // Near misses of a listed origin are other origins: scheme, port, subdomain, a path.
    for origin in [
        OTHER,
        "http://spa.example.com",
        "https://spa.example.com:8443",
        "https://www.spa.example.com",
        "https://spa.example.com.evil.net",
        "null",
    ] {
        for (path, _) in TOKEN_ENDPOINTS {
            let resp = preflight(&app, path, origin, "POST").await;
            assert_eq!(resp.status(), 405, "{origin} {path}: as without CORS");
            no_cors_headers(resp.headers(), &format!("preflight {origin} {path}"));
            assert!(vary_has_origin(resp.headers()), "{origin} {path}");
        }
        // The actual request is served (CORS protects the browser's reader, not the
        // endpoint), without any header that would let a page read it.
        let resp = app
            .http
            .post(app.url("/api/token/"))
            .header("Origin", origin)
            .form(&[("username", "alice"), ("password", "alice-password-1")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{origin}");
        no_cors_headers(resp.headers(), origin);
    }

    // Without CORS_ORIGINS, nobody is listed.
    let Some(plain) = spawn_app(backend).await else {
        return;
    };
    for (path, _) in TOKEN_ENDPOINTS {
        let resp = preflight(&plain, path, SPA, "POST").await;
        assert_eq!(resp.status(), 405, "{path}");
        no_cors_headers(resp.headers(), path);
    }
}

/// `POST /api/token/verify/` of a bogus token, sent from `origin`.
async fn verify_from(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/token/verify/"))
        .header("Origin", origin)
        .json(&serde_json::json!({"token": "x"}))
        .send()
        .await
        .unwrap()
}

async fn only_an_origin_marked_for_credentials_gets_credentials_mode(backend: Backend) {
    let Some(app) = app_with_origins(backend).await else {
        return;
    };
    let resp = preflight(&app, "/api/token/refresh/", ADMIN, "POST").await;
    assert_eq!(resp.status(), 204);
    let h = resp.headers();
    assert_eq!(header(h, "access-control-allow-origin"), Some(ADMIN));
    assert_eq!(header(h, "access-control-allow-credentials"), Some("true"));
    let resp = verify_from(&app, ADMIN).await;
    assert_eq!(resp.status(), 401);
    let h = resp.headers();
    assert_eq!(header(h, "access-control-allow-origin"), Some(ADMIN));
    assert_eq!(header(h, "access-control-allow-credentials"), Some("true"));

    let resp = verify_from(&app, SPA).await;
    assert_eq!(
        header(resp.headers(), "access-control-allow-origin"),
        Some(SPA)
    );
    assert_eq!(
        header(resp.headers(), "access-control-allow-credentials"),
        None
    );
}

async fn discovery_and_jwks_answer_any_origin_without_cors_origins(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
    ] {
        let resp = app
            .http
            .get(app.url(path))
            .header("Origin", OTHER)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(
            header(resp.headers(), "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        // A conditional fetch from a page sends If-None-Match, which needs a preflight.
        let resp = app
            .http
            .request(Method::OPTIONS, app.url(path))
            .header("Origin", OTHER)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "if-none-match")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "{path}");
        let h = resp.headers();
        assert_eq!(
            header(h, "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert_eq!(
            header(h, "access-control-allow-methods"),
            Some("GET, HEAD"),
            "{path}"
        );
        assert_eq!(
            header(h, "access-control-allow-headers"),
            Some("If-None-Match"),
            "{path}"
        );
        assert_eq!(
            header(h, "access-control-allow-credentials"),
            None,
            "{path}"
        );
    }
}

async fn other_endpoints_stay_same_origin_for_a_listed_origin(backend: Backend) {
    let Some(app) = app_with_origins(backend).await else {
        return;
    };
    // Pages, the admin API, introspection and health answer no origin, listed or not.
    for path in [
        "/login",
        "/introspect",
        "/admin/keys",
        "/healthz",
        "/logout",
    ] {
        let resp = preflight(&app, path, SPA, "POST").await;
        assert_ne!(resp.status(), 204, "{path}");
        no_cors_headers(resp.headers(), path);
    }
    let resp = app
        .http
        .get(app.url("/healthz"))
        .header("Origin", SPA)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    no_cors_headers(resp.headers(), "/healthz");
}
