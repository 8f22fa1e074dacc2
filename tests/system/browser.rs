//! Single sign-on in a real headless Chromium, driven over WebDriver (chromedriver started
//! by the test): two relying-party applications on different hosts, one password prompt,
//! and a logout that ends the single sign-on for both.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::{web, App, HttpResponse, HttpServer};
use fantoccini::{Client, Locator};
use sha2::Digest;

use crate::both_backends;
use crate::helpers::chromium::{self, screenshot, WAIT};
use crate::helpers::{b64url, eventually, peek, spawn_app, verify_with_jwks, Backend};

/// A relying party that keeps no session: /login sends the browser to Gatehouse, /cb
/// redeems the code server-to-server and says who signed in.
struct Rp {
    name: &'static str,
    client_id: &'static str,
    redirect_uri: String,
    issuer: String,
    http: reqwest::Client,
    /// state → (code_verifier, nonce) of authorization requests in flight.
    pending: Mutex<HashMap<String, (String, String)>>,
}

async fn rp_login(rp: web::Data<Rp>) -> HttpResponse {
    let state = uuid::Uuid::new_v4().simple().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = b64url(&sha2::Sha256::digest(verifier.as_bytes()));
    rp.pending
        .lock()
        .expect("lock")
        .insert(state.clone(), (verifier, nonce.clone()));
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", rp.client_id),
        ("redirect_uri", rp.redirect_uri.as_str()),
        ("scope", "openid profile"),
        ("state", state.as_str()),
        ("nonce", nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .expect("query");
    HttpResponse::Found()
        .insert_header(("location", format!("{}/authorize?{query}", rp.issuer)))
        .finish()
}

async fn rp_callback(
    rp: web::Data<Rp>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    match redeem(&rp, &query).await {
        Ok(user) => page(&format!("Signed in to {} as {user}", rp.name)),
        Err(e) => page(&format!("{} could not sign you in: {e}", rp.name)),
    }
}

async fn redeem(rp: &Rp, query: &HashMap<String, String>) -> Result<String, String> {
    if let Some(e) = query.get("error") {
        return Err(format!("error {e}"));
    }
    let state = query.get("state").ok_or("no state")?;
    let code = query.get("code").ok_or("no code")?;
    let (verifier, nonce) = rp
        .pending
        .lock()
        .map_err(|e| e.to_string())?
        .remove(state)
        .ok_or("unknown state")?;
    let resp = rp
        .http
        .post(format!("{}/token", rp.issuer))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", rp.client_id),
            ("code", code.as_str()),
            ("redirect_uri", rp.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("token endpoint said {status}: {body}"));
    }
    let id_token = body["id_token"].as_str().ok_or("no id_token")?;
    let jwks: serde_json::Value = rp
        .http
        .get(format!("{}/.well-known/jwks.json", rp.issuer))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let claims = verify_with_jwks(id_token, &jwks, &rp.issuer)?;
    if claims["nonce"] != nonce.as_str() || claims["aud"] != rp.client_id {
        return Err(format!("wrong nonce or audience: {}", peek(id_token).1));
    }
    claims["preferred_username"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "no preferred_username".into())
}

fn page(message: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><head><title>RP</title></head>\
             <body><h1 id=\"status\">{message}</h1></body></html>"
        ))
}

/// Starts a relying party listening on `bind_ip`, addressed as `http://{host}:{port}`;
/// returns its base URL.
fn start_rp(
    name: &'static str,
    client_id: &'static str,
    bind_ip: &str,
    host: &str,
    issuer: &str,
) -> String {
    let listener = std::net::TcpListener::bind((bind_ip, 0)).expect("bind relying party");
    let port = listener.local_addr().expect("addr").port();
    let base = format!("http://{host}:{port}");
    let rp = web::Data::new(Rp {
        name,
        client_id,
        redirect_uri: format!("{base}/cb"),
        issuer: issuer.to_string(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        pending: Mutex::new(HashMap::new()),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(rp.clone())
            .route("/login", web::get().to(rp_login))
            .route("/cb", web::get().to(rp_callback))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    base
}

async fn status_text(browser: &Client) -> String {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("status"))
        .await
        .expect("a relying-party page")
        .text()
        .await
        .expect("text")
}

async fn second_application_signs_in_without_a_password_in_chromium(backend: Backend) {
    if !chromium::available() {
        return;
    }
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "alice-password-1", false).await;
    let a = start_rp("App A", "app-a", "127.0.0.1", "localhost", &app.address);
    let b = start_rp("App B", "app-b", "127.0.0.2", "127.0.0.2", &app.address);
    for (id, base) in [("app-a", &a), ("app-b", &b)] {
        app.add_client(&[
            id,
            "--public",
            "--redirect-uri",
            &format!("{base}/cb"),
            "--scope",
            "openid",
            "profile",
        ])
        .await;
    }

    let log = app.storage.dir.path().join("chromedriver.log");
    chromium::in_chromium(&log, async |browser| {
        scenario(&app.address, &a, &b, browser).await
    })
    .await;
}

/// The browser part; errors are returned so the browser is closed before failing.
async fn scenario(gatehouse: &str, a: &str, b: &str, browser: &Client) -> Result<(), String> {
    // App A: the Gatehouse login page, with its stylesheet applied.
    browser
        .goto(&format!("{a}/login"))
        .await
        .map_err(|e| e.to_string())?;
    let username = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await
        .map_err(|e| format!("no login form: {e}"))?;
    let url = browser.current_url().await.map_err(|e| e.to_string())?;
    if !url.as_str().starts_with(&format!("{gatehouse}/login?")) {
        return Err(format!("expected the Gatehouse login page, at {url}"));
    }
    let css = reqwest::get(format!("{gatehouse}/assets/gatehouse.css"))
        .await
        .map_err(|e| e.to_string())?;
    if css.status() != 200 {
        return Err(format!("stylesheet answered {}", css.status()));
    }
    let applied = browser
        .execute(
            "const s = document.styleSheets[0];\
             return [s ? s.cssRules.length : 0,\
                     getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor];",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    if !(applied[0].as_u64().is_some_and(|n| n > 0) && applied[1] == "rgb(36, 87, 197)") {
        return Err(format!(
            "the stylesheet is not applied (blocked by CSP?): {applied}"
        ));
    }
    screenshot(browser, "login-page.png").await;
    username
        .send_keys("alice")
        .await
        .map_err(|e| e.to_string())?;
    browser
        .find(Locator::Id("password"))
        .await
        .map_err(|e| e.to_string())?
        .send_keys("alice-password-1")
        .await
        .map_err(|e| e.to_string())?;
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    let text = status_text(browser).await;
    if text != "Signed in to App A as alice" {
        return Err(format!("App A says: {text}"));
    }
    screenshot(browser, "app-a-signed-in.png").await;

    // App B, another host: signed in through the Gatehouse session, no password asked.
    browser
        .goto(&format!("{b}/login"))
        .await
        .map_err(|e| e.to_string())?;
    let text = status_text(browser).await;
    if text != "Signed in to App B as alice" {
        return Err(format!("App B says: {text}"));
    }
    let url = browser.current_url().await.map_err(|e| e.to_string())?;
    if !url.as_str().starts_with(&format!("{b}/cb?")) {
        return Err(format!("App B ended at {url}"));
    }
    let forms = browser
        .find_all(Locator::Css("input[type=password]"))
        .await
        .map_err(|e| e.to_string())?;
    if !forms.is_empty() {
        return Err("a password form appeared for App B".into());
    }
    screenshot(browser, "app-b-signed-in.png").await;

    // Logout at Gatehouse: a confirmation page, then "Sign out".
    browser
        .goto(&format!("{gatehouse}/logout"))
        .await
        .map_err(|e| e.to_string())?;
    let button = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//button[normalize-space()='Sign out']"))
        .await
        .map_err(|e| format!("no logout confirmation: {e}"))?;
    button.click().await.map_err(|e| e.to_string())?;
    let ok = eventually(30, || async {
        browser
            .find_all(Locator::XPath("//button[normalize-space()='Sign out']"))
            .await
            .is_ok_and(|v| v.is_empty())
    })
    .await;
    if !ok {
        return Err("the logout confirmation did not go away".into());
    }

    // App B again: the session is gone, Gatehouse asks for the password.
    browser
        .goto(&format!("{b}/login"))
        .await
        .map_err(|e| e.to_string())?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("password"))
        .await
        .map_err(|e| format!("no password form after logout: {e}"))?;
    let url = browser.current_url().await.map_err(|e| e.to_string())?;
    if !url.as_str().starts_with(&format!("{gatehouse}/login?")) {
        return Err(format!("expected the Gatehouse login page, at {url}"));
    }
    screenshot(browser, "after-logout.png").await;
    Ok(())
}

both_backends!(second_application_signs_in_without_a_password_in_chromium);
