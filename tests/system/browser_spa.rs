//! A single-page app on another origin, in a real headless Chromium: it signs in with a
//! username and password through `/api/token/`, calls a resource server with the access
//! token, refreshes the pair when the API says the token expired (the test moves the clock
//! past `ACCESS_TTL`), and signs out through `/api/token/blacklist/`. The same page served
//! from an origin that `CORS_ORIGINS` does not list is refused by the browser itself: its
//! preflight gets no CORS headers, so the sign-in request is never sent.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use fantoccini::{Client, Locator};
use gatehouse::clock::Clock;

use crate::both_backends;
use crate::helpers::chromium::{self, fill, screenshot, WAIT};
use crate::helpers::{eventually, spawn_app_with, Backend, TestApp};

both_backends!(a_single_page_app_on_a_listed_origin_signs_in_refreshes_and_signs_out);

const PASSWORD: &str = "alice-password-1";

/// The API the app calls: it verifies Gatehouse's access tokens against the JWKS, with
/// `exp` checked on the test's clock (so moving the clock expires them).
struct Api {
    keys: HashMap<String, jsonwebtoken::DecodingKey>,
    issuer: String,
    clock: Clock,
}

fn cors(req: &HttpRequest, resp: &mut actix_web::HttpResponseBuilder) {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        resp.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
            .insert_header((header::VARY, "Origin"));
    }
}

async fn api_preflight(req: HttpRequest) -> HttpResponse {
    let mut resp = HttpResponse::NoContent();
    cors(&req, &mut resp);
    resp.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Authorization"))
        .finish()
}

async fn api_notes(api: web::Data<Api>, req: HttpRequest) -> HttpResponse {
    let verdict = (|| {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        let head = jsonwebtoken::decode_header(token).ok()?;
        if head.typ.as_deref() != Some("at+jwt") {
            return None;
        }
        let key = api.keys.get(head.kid.as_deref()?)?;
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_issuer(&[&api.issuer]);
        v.set_audience(&[&api.issuer]);
        v.validate_exp = false;
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, key, &v)
            .ok()?
            .claims;
        (claims["exp"].as_i64()? > api.clock.now()).then_some(claims)
    })();
    let mut resp = match verdict {
        Some(_) => HttpResponse::Ok(),
        None => HttpResponse::Unauthorized(),
    };
    cors(&req, &mut resp);
    match verdict {
        Some(claims) => resp.json(serde_json::json!({
            "message": format!("3 notes of user {}", &claims["sub"].as_str().unwrap_or_default()[..8])
        })),
        None => resp
            .insert_header((header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#))
            .json(serde_json::json!({"error": "invalid_token"})),
    }
}

async fn start_api(app: &TestApp) -> String {
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(app.jwks().await).unwrap();
    let keys = jwks
        .keys
        .iter()
        .map(|k| {
            let kid = k.common.key_id.clone().unwrap();
            (kid, jsonwebtoken::DecodingKey::from_jwk(k).unwrap())
        })
        .collect();
    let api = web::Data::new(Api {
        keys,
        issuer: app.settings.issuer.clone(),
        clock: app.clock.clone(),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(api.clone())
            .route("/notes", web::get().to(api_notes))
            .route(
                "/notes",
                web::method(actix_web::http::Method::OPTIONS).to(api_preflight),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    base
}

/// The app: plain fetch() calls, tokens kept in memory, every step shown on the page.
fn page(gatehouse: &str, api: &str) -> String {
    include_str!("spa.html")
        .replace("GATEHOUSE_URL", gatehouse)
        .replace("API_URL", api)
}

async fn a_single_page_app_on_a_listed_origin_signs_in_refreshes_and_signs_out(backend: Backend) {
    if !chromium::available() {
        return;
    }
    // The page's origin is known before Gatehouse starts: its listener comes first.
    let listed = page_listener("127.0.0.2");
    let listed_origin = format!("http://127.0.0.2:{}", listed.local_addr().unwrap().port());
    // Another port is another origin (the browser's host rules allow 127.0.0.1 and .2).
    let unlisted = page_listener("127.0.0.2");
    let unlisted_origin = format!("http://127.0.0.2:{}", unlisted.local_addr().unwrap().port());
    let origin = listed_origin.clone();
    let Some(app) = spawn_app_with(backend, move |s| s.cors_origins = Some(origin)).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let api = start_api(&app).await;
    let html = page(&app.address, &api);
    serve_page(listed, html.clone());
    serve_page(unlisted, html);

    let log = app.storage.dir.path().join("chromedriver-spa.log");
    chromium::in_chromium(&log, async |browser| {
        scenario(&app, browser, &listed_origin, &unlisted_origin).await
    })
    .await;
}

fn page_listener(ip: &str) -> std::net::TcpListener {
    std::net::TcpListener::bind((ip, 0)).expect("bind a page server")
}

/// Serves `html` at `/` on `listener`.
fn serve_page(listener: std::net::TcpListener, html: String) {
    let server = HttpServer::new(move || {
        let html = html.clone();
        App::new().route(
            "/",
            web::get().to(move || {
                let html = html.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("text/html; charset=utf-8")
                        .body(html)
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
}

async fn status(browser: &Client) -> String {
    browser
        .find(Locator::Id("status"))
        .await
        .map(|e| async move { e.text().await.unwrap_or_default() })
        .expect("status element")
        .await
}

/// Waits until the page's status starts with `prefix`; the last status on failure.
async fn wait_for_status(browser: &Client, prefix: &str) -> Result<String, String> {
    let last = std::sync::Mutex::new(String::new());
    let ok = eventually(WAIT.as_secs(), || async {
        let now = status(browser).await;
        let done = now.starts_with(prefix);
        *last.lock().unwrap() = now;
        done
    })
    .await;
    let last = last.into_inner().unwrap();
    if ok {
        Ok(last)
    } else {
        Err(format!(
            "expected a status starting {prefix:?}, the page says {last:?}"
        ))
    }
}

async fn click(browser: &Client, id: &str) -> Result<(), String> {
    browser
        .find(Locator::Id(id))
        .await
        .map_err(|e| format!("no #{id}: {e}"))?
        .click()
        .await
        .map_err(|e| e.to_string())
}

async fn sign_in(browser: &Client, origin: &str) -> Result<(), String> {
    browser
        .goto(&format!("{origin}/"))
        .await
        .map_err(|e| e.to_string())?;
    fill(browser, "username", "alice").await?;
    fill(browser, "password", PASSWORD).await?;
    click(browser, "signin").await
}

/// POST /api/token/ requests Gatehouse has served.
async fn token_posts(app: &TestApp) -> u64 {
    app.metrics()
        .await
        .lines()
        .filter(|l| l.contains("route=\"/api/token/\"") && l.contains("method=\"POST\""))
        .filter(|l| l.starts_with("gatehouse_http_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn scenario(
    app: &TestApp,
    browser: &Client,
    listed: &str,
    unlisted: &str,
) -> Result<(), String> {
    sign_in(browser, listed).await?;
    wait_for_status(browser, "Signed in as alice").await?;
    screenshot(browser, "spa-signed-in.png").await;

    click(browser, "call").await?;
    wait_for_status(browser, "API: 3 notes of user").await?;
    screenshot(browser, "spa-api-called.png").await;

    // The access token expires; the app's next call gets 401, refreshes, and retries.
    let ttl = app.settings.access_ttl.as_secs() + app.settings.leeway.as_secs();
    app.advance(ttl + 1);
    click(browser, "call").await?;
    let after = wait_for_status(browser, "API: 3 notes of user").await?;
    if !after.ends_with("(after a refresh)") {
        return Err(format!("no refresh happened: {after}"));
    }
    screenshot(browser, "spa-refreshed.png").await;

    click(browser, "logout").await?;
    wait_for_status(browser, "Signed out: the refresh token is revoked").await?;
    screenshot(browser, "spa-signed-out.png").await;

    // Another origin, not listed: the browser refuses; the sign-in POST never leaves it.
    let posts = token_posts(app).await;
    sign_in(browser, unlisted).await?;
    let refused = wait_for_status(browser, "Sign-in failed").await?;
    if !refused.contains("Failed to fetch") {
        return Err(format!("unexpected refusal: {refused}"));
    }
    screenshot(browser, "spa-unlisted-origin-refused.png").await;
    if token_posts(app).await != posts {
        return Err("the browser sent the sign-in request from an unlisted origin".into());
    }
    Ok(())
}
