//! Single logout in a real headless Chromium: two relying-party applications on two origins
//! (`http://localhost:A` and `http://127.0.0.2:B`), each with a session of its own and a
//! back-channel logout endpoint that validates the logout token. The browser signs in to
//! both through one Gatehouse session, signs out at App A, and App B's page then says it is
//! signed out: only its back-channel handler, run by Gatehouse's outbox, could have told it.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use fantoccini::{Client, Locator};
use sha2::Digest;

use crate::both_backends;
use crate::helpers::chromium::{self, screenshot, start_browser, start_driver, WAIT};
use crate::helpers::{b64url, eventually, spawn_app, verify_with_jwks, Backend};

both_backends!(signing_out_at_one_application_signs_the_other_out_through_its_back_channel);

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A relying party with sessions: `/login` → Gatehouse, `/cb` redeems the code and starts
/// its session (cookie `rp`), `/` says whether it is signed in, `/logout` → Gatehouse's
/// logout with the id_token as hint, `/bc` ends the sessions of a logout token's `sid`.
struct Rp {
    name: &'static str,
    client_id: &'static str,
    base: String,
    issuer: String,
    http: reqwest::Client,
    /// state → (code_verifier, nonce) of authorization requests in flight.
    pending: Mutex<HashMap<String, (String, String)>>,
    /// cookie → (username, sid, id_token).
    sessions: Mutex<HashMap<String, (String, String, String)>>,
    /// sids a valid logout token ended.
    ended: Mutex<HashSet<String>>,
    /// Why each refused logout token was refused.
    refused: Mutex<Vec<String>>,
}

fn page(message: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(format!(
            "<!doctype html><html><head><title>RP</title></head>\
             <body><h1 id=\"status\">{message}</h1></body></html>"
        ))
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("location", location))
        .finish()
}

fn session_of(rp: &Rp, req: &HttpRequest) -> Option<(String, String, String)> {
    let cookie = req.cookie("rp")?;
    rp.sessions.lock().unwrap().get(cookie.value()).cloned()
}

async fn home(rp: web::Data<Rp>, req: HttpRequest) -> HttpResponse {
    match session_of(&rp, &req) {
        Some((user, sid, _)) if !rp.ended.lock().unwrap().contains(&sid) => {
            page(&format!("Signed in to {} as {user}", rp.name))
        }
        _ => page(&format!("Signed out of {}", rp.name)),
    }
}

async fn login(rp: web::Data<Rp>) -> HttpResponse {
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
        .unwrap()
        .insert(state.clone(), (verifier, nonce.clone()));
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", rp.client_id),
        ("redirect_uri", &format!("{}/cb", rp.base)),
        ("scope", "openid profile"),
        ("state", &state),
        ("nonce", &nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    found(&format!("{}/authorize?{query}", rp.issuer))
}

async fn callback(rp: web::Data<Rp>, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    match redeem(&rp, &query).await {
        Ok((user, sid, id_token)) => {
            let cookie = uuid::Uuid::new_v4().simple().to_string();
            rp.sessions
                .lock()
                .unwrap()
                .insert(cookie.clone(), (user, sid, id_token));
            HttpResponse::Found()
                .insert_header(("location", "/"))
                .insert_header(("set-cookie", format!("rp={cookie}; Path=/; HttpOnly")))
                .finish()
        }
        Err(e) => page(&format!("{} could not sign you in: {e}", rp.name)),
    }
}

async fn jwks(rp: &Rp) -> Result<serde_json::Value, String> {
    rp.http
        .get(format!("{}/.well-known/jwks.json", rp.issuer))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}

async fn redeem(
    rp: &Rp,
    query: &HashMap<String, String>,
) -> Result<(String, String, String), String> {
    let state = query.get("state").ok_or("no state")?;
    let code = query.get("code").ok_or("no code")?;
    let (verifier, nonce) = rp
        .pending
        .lock()
        .unwrap()
        .remove(state)
        .ok_or("unknown state")?;
    let body: serde_json::Value = rp
        .http
        .post(format!("{}/token", rp.issuer))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", rp.client_id),
            ("code", code.as_str()),
            ("redirect_uri", &format!("{}/cb", rp.base)),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let id_token = body["id_token"]
        .as_str()
        .ok_or(format!("no id_token: {body}"))?;
    let claims = verify_with_jwks(id_token, &jwks(rp).await?, &rp.issuer)?;
    if claims["nonce"] != nonce.as_str() || claims["aud"] != rp.client_id {
        return Err(format!("wrong nonce or audience: {claims}"));
    }
    let user = claims["preferred_username"].as_str().ok_or("no username")?;
    let sid = claims["sid"].as_str().ok_or("no sid")?;
    Ok((user.into(), sid.into(), id_token.into()))
}

async fn logout(rp: web::Data<Rp>, req: HttpRequest) -> HttpResponse {
    let Some((_, _, id_token)) = session_of(&rp, &req) else {
        return page(&format!("Signed out of {}", rp.name));
    };
    // Its own session ends here; Gatehouse's ends the others'.
    if let Some(c) = req.cookie("rp") {
        rp.sessions.lock().unwrap().remove(c.value());
    }
    let query = serde_urlencoded::to_string([
        ("id_token_hint", id_token.as_str()),
        ("post_logout_redirect_uri", &format!("{}/", rp.base)),
    ])
    .unwrap();
    found(&format!("{}/logout?{query}", rp.issuer))
}

/// Back-Channel Logout 1.0 §2.6: validate, then end the sessions of the token's `sid`.
async fn backchannel(rp: web::Data<Rp>, form: web::Form<HashMap<String, String>>) -> HttpResponse {
    let checked = async {
        let token = form.get("logout_token").ok_or("no logout_token")?;
        let (header, _) = crate::helpers::peek(token);
        if header["typ"] != "logout+jwt" {
            return Err(format!("typ {}", header["typ"]));
        }
        let claims = verify_with_jwks(token, &jwks(&rp).await?, &rp.issuer)?;
        if claims["aud"] != rp.client_id || claims["events"].get(EVENT).is_none() {
            return Err(format!("not a logout token for {}: {claims}", rp.client_id));
        }
        claims["sid"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "no sid".to_string())
    };
    match checked.await {
        Ok(sid) => {
            rp.ended.lock().unwrap().insert(sid);
            HttpResponse::Ok().finish()
        }
        Err(why) => {
            rp.refused.lock().unwrap().push(why);
            HttpResponse::BadRequest().finish()
        }
    }
}

/// Starts a relying party on `bind_ip`, addressed as `http://{host}:{port}`.
fn start_rp(
    name: &'static str,
    client_id: &'static str,
    bind_ip: &str,
    host: &str,
    issuer: &str,
) -> web::Data<Rp> {
    let listener = std::net::TcpListener::bind((bind_ip, 0)).expect("bind relying party");
    let port = listener.local_addr().expect("addr").port();
    let rp = web::Data::new(Rp {
        name,
        client_id,
        base: format!("http://{host}:{port}"),
        issuer: issuer.to_string(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        pending: Mutex::new(HashMap::new()),
        sessions: Mutex::new(HashMap::new()),
        ended: Mutex::new(HashSet::new()),
        refused: Mutex::new(vec![]),
    });
    let data = rp.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/", web::get().to(home))
            .route("/login", web::get().to(login))
            .route("/cb", web::get().to(callback))
            .route("/logout", web::get().to(logout))
            .route("/bc", web::post().to(backchannel))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    rp
}

async fn signing_out_at_one_application_signs_the_other_out_through_its_back_channel(
    backend: Backend,
) {
    if !chromium::available() {
        return;
    }
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "alice-password-1", false).await;
    let a = start_rp("App A", "app-a", "127.0.0.1", "localhost", &app.address);
    let b = start_rp("App B", "app-b", "127.0.0.2", "127.0.0.2", &app.address);
    for rp in [&a, &b] {
        app.add_client(&[
            rp.client_id,
            "--public",
            "--redirect-uri",
            &format!("{}/cb", rp.base),
            "--post-logout-redirect-uri",
            &format!("{}/", rp.base),
            "--scope",
            "openid",
            "profile",
        ])
        .await;
        // The use case of `client update --backchannel-logout-uri` and the admin API.
        app.state
            .sso
            .set_logout_endpoints(gatehouse::sso::backchannel::endpoints::LogoutEndpoints {
                client_id: rp.client_id.into(),
                backchannel_logout_uri: Some(format!("{}/bc", rp.base)),
                backchannel_logout_session_required: true,
                ..Default::default()
            })
            .await
            .expect("registered");
    }

    let driver = start_driver(&app.storage.dir.path().join("chromedriver-logout.log")).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = start_browser(&driver, profile.path()).await;
    let outcome = scenario(&a, &b, &browser).await;
    let _ = browser.close().await;
    drop(driver);
    outcome.unwrap_or_else(|e| panic!("{e}"));
    assert!(a.refused.lock().unwrap().is_empty(), "{:?}", a.refused);
    assert!(b.refused.lock().unwrap().is_empty(), "{:?}", b.refused);
    assert_eq!(b.ended.lock().unwrap().len(), 1, "App B's handler ran once");
}

async fn status(browser: &Client, url: &str) -> Result<String, String> {
    browser.goto(url).await.map_err(|e| e.to_string())?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("status"))
        .await
        .map_err(|e| format!("no relying-party page at {url}: {e}"))?
        .text()
        .await
        .map_err(|e| e.to_string())
}

async fn status_here(browser: &Client) -> Result<String, String> {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("status"))
        .await
        .map_err(|e| format!("no relying-party page: {e}"))?
        .text()
        .await
        .map_err(|e| e.to_string())
}

/// The browser part; errors are returned so the browser is closed before failing.
async fn scenario(a: &Rp, b: &Rp, browser: &Client) -> Result<(), String> {
    // App A: the Gatehouse login page, the password, back at App A signed in.
    browser
        .goto(&format!("{}/login", a.base))
        .await
        .map_err(|e| e.to_string())?;
    let username = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await
        .map_err(|e| format!("no login form: {e}"))?;
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
    let signed_in = eventually(30, || async {
        status(browser, &format!("{}/", a.base)).await.ok()
            == Some("Signed in to App A as alice".into())
    })
    .await;
    if !signed_in {
        return Err(format!(
            "App A says: {:?}",
            status(browser, &format!("{}/", a.base)).await
        ));
    }

    // App B, the other origin: signed in through the Gatehouse session, no password.
    browser
        .goto(&format!("{}/login", b.base))
        .await
        .map_err(|e| e.to_string())?;
    let text = status(browser, &format!("{}/", b.base)).await?;
    if text != "Signed in to App B as alice" {
        return Err(format!("App B says: {text}"));
    }
    screenshot(browser, "logout-app-b-signed-in.png").await;

    // Sign out at App A (RP-initiated logout with its id_token): back at App A, signed out.
    browser
        .goto(&format!("{}/logout", a.base))
        .await
        .map_err(|e| e.to_string())?;
    let back = eventually(30, || async {
        browser
            .current_url()
            .await
            .is_ok_and(|u| u.as_str() == format!("{}/", a.base))
    })
    .await;
    let text = status_here(browser).await?;
    if !back || text != "Signed out of App A" {
        let url = browser.current_url().await.map_err(|e| e.to_string())?;
        return Err(format!("after logout at {url}: {text}"));
    }

    // App B never talked to Gatehouse again: its page says signed out once its back-channel
    // handler has run.
    let out = eventually(30, || async {
        status(browser, &format!("{}/", b.base)).await.ok() == Some("Signed out of App B".into())
    })
    .await;
    screenshot(browser, "logout-app-b-signed-out.png").await;
    if !out {
        return Err(format!(
            "App B still says: {:?} (ended sids: {:?}, refused: {:?})",
            status(browser, &format!("{}/", b.base)).await,
            b.ended.lock().unwrap(),
            b.refused.lock().unwrap()
        ));
    }
    Ok(())
}
