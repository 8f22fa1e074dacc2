//! Browser endpoints of single sign-on: `/authorize`, `/login`, `/consent`, `/logout`.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::body;
use super::client_addr::client_addr;
use super::error::with_retry_after;
use super::pages::{self, csrf_token, csrf_valid, ConsentPage, LoginPage, LogoutPage, PageError};
use crate::accounts;
use crate::db::repo;
use crate::passwords::Password;
use crate::sso::authorize::{self, AuthParams, AuthRequest, Prompt, Rejection};
use crate::sso::throttle::{self, GuardedLoginError};
use crate::sso::{code, session};
use crate::state::AppState;

fn secure(state: &AppState) -> bool {
    state.settings.issuer.starts_with("https://")
}

fn session_cookie(state: &AppState, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(session::COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(secure(state))
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::SeeOther();
    b.insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    b
}

fn parse_query(query: &str) -> Result<AuthParams, PageError> {
    serde_urlencoded::from_str(query)
        .map_err(|_| PageError::bad_request("The authorization request is malformed."))
}

/// The query of `/authorize` to come back to after login or consent, minus the prompt that
/// sent us away (so a fresh login is not asked for again).
fn return_to(params: &AuthParams) -> String {
    let mut p = params.clone();
    p.prompt = None;
    format!(
        "/authorize?{}",
        serde_urlencoded::to_string(&p).unwrap_or_default()
    )
}

fn reject(state: &AppState, r: Rejection) -> HttpResponse {
    match r {
        Rejection::Page(msg) => pages::message(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            &msg,
        ),
        Rejection::Redirect {
            redirect_uri,
            error,
            description,
            state: st,
        } => {
            let mut params = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(s) = st.as_deref() {
                params.push(("state", s));
            }
            params.push(("iss", state.settings.issuer.as_str()));
            found(&authorize::redirect_with(&redirect_uri, &params))
        }
    }
}

async fn validated(
    state: &AppState,
    params: &AuthParams,
) -> Result<Result<AuthRequest, Rejection>, PageError> {
    let id = match authorize::client_id(params) {
        Ok(id) => id.to_string(),
        Err(r) => return Ok(Err(r)),
    };
    let client = state
        .db
        .run(move |conn| repo::clients::find(conn, &id))
        .await?;
    Ok(authorize::validate(params, client))
}

/// `GET /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2).
pub async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let params = parse_query(req.query_string())?;
    let auth = match validated(&state, &params).await? {
        Ok(a) => a,
        Err(r) => return Ok(reject(&state, r)),
    };
    let now = state.clock.now();
    let cookie = req.cookie(session::COOKIE).map(|c| c.value().to_string());
    let live = match cookie {
        Some(c) => session::find(&state.db, &c, now).await?,
        None => None,
    };
    let too_old = |auth_time: i64| auth.max_age.is_some_and(|m| now - auth_time > m);
    let redirect_error = |error: &'static str, description: &str| Rejection::Redirect {
        redirect_uri: auth.redirect_uri.clone(),
        error,
        description: description.into(),
        state: auth.state.clone(),
    };
    let (sess, user) = match live {
        Some((s, u)) if auth.prompt != Prompt::Login && !too_old(s.auth_time) => (s, u),
        _ if auth.prompt == Prompt::None => {
            return Ok(reject(
                &state,
                redirect_error("login_required", "the user is not signed in"),
            ))
        }
        _ => {
            let target = format!(
                "/login?{}",
                serde_urlencoded::to_string([("return_to", return_to(&params))])
                    .unwrap_or_default()
            );
            return Ok(found(&target));
        }
    };
    if auth.client.consent {
        let (uid, cid) = (user.id.clone(), auth.client.client_id.clone());
        let granted = state
            .db
            .run(move |conn| repo::sessions::find_consent(conn, &uid, &cid))
            .await?;
        let granted: Vec<String> = granted
            .map(|g| crate::domain::split_scope(&g))
            .unwrap_or_default();
        let covered = auth.scopes.iter().all(|s| granted.contains(s));
        if !covered || auth.prompt == Prompt::Consent {
            if auth.prompt == Prompt::None {
                return Ok(reject(
                    &state,
                    redirect_error("consent_required", "the user has not consented"),
                ));
            }
            let (csrf, set) = csrf_token(&req, secure(&state));
            let back = return_to(&params);
            let page = ConsentPage {
                csrf: &csrf,
                return_to: &back,
                client_id: &auth.client.client_id,
                username: &user.username,
                scopes: &auth.scopes,
            };
            let mut resp = pages::render(StatusCode::OK, &page);
            if let Some(c) = set {
                let _ = resp.add_cookie(&c);
            }
            return Ok(resp);
        }
    }
    let ttl = state.settings.code_ttl.as_secs() as i64;
    let code = code::issue(
        &state.db,
        &auth,
        &user.id,
        &sess.sid,
        sess.auth_time,
        ttl,
        now,
    )
    .await?;
    let mut out = vec![("code", code.as_str())];
    if let Some(s) = auth.state.as_deref() {
        out.push(("state", s));
    }
    out.push(("iss", state.settings.issuer.as_str()));
    Ok(found(&authorize::redirect_with(&auth.redirect_uri, &out)))
}

/// Only a relative `/authorize?…` may be returned to: never an open redirect.
fn safe_return_to(value: Option<&str>) -> &str {
    match value {
        Some(v) if v.starts_with("/authorize?") && !v.contains(['\\', '\r', '\n']) => v,
        _ => "",
    }
}

fn client_of(return_to: &str) -> Option<String> {
    let query = return_to.strip_prefix("/authorize?")?;
    parse_query(query)
        .ok()?
        .client_id
        .filter(|c| c.len() <= 100)
}

/// A posted form of the pages, at most 64 KiB; `what` names it in the error page.
async fn read_form<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    what: &str,
) -> Result<T, PageError> {
    let bytes = body::read(req, payload)
        .await
        .map_err(|e| PageError::Client(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))?;
    serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| PageError::bad_request(format!("The {what} form is malformed.")))
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /login`: the form.
pub async fn login_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let q: LoginQuery =
        serde_urlencoded::from_str(req.query_string()).unwrap_or(LoginQuery { return_to: None });
    let back = safe_return_to(q.return_to.as_deref()).to_string();
    login_form(&state, &req, StatusCode::OK, &back, None, "")
}

fn login_form(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    back: &str,
    error: Option<&str>,
    username: &str,
) -> HttpResponse {
    let (csrf, set) = csrf_token(req, secure(state));
    let client = client_of(back);
    let page = LoginPage {
        csrf: &csrf,
        return_to: back,
        client_id: client.as_deref(),
        error,
        username,
    };
    let mut resp = pages::render(status, &page);
    if let Some(c) = set {
        let _ = resp.add_cookie(&c);
    }
    resp
}

#[derive(Deserialize)]
struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
    return_to: Option<String>,
}

const BAD_LOGIN: &str = "The username or password is not right.";

/// `POST /login`: check the CSRF token, the throttle, then the password.
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form: LoginForm = read_form(&req, payload, "sign-in").await?;
    let back = safe_return_to(form.return_to.as_deref()).to_string();
    if !csrf_valid(&req, form.csrf.as_deref()) {
        return Ok(login_form(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            &back,
            Some("This form has expired. Please sign in again."),
            "",
        ));
    }
    let username = form.username.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let shown_name: String = username.chars().take(150).collect();
    if username.is_empty() || password.is_empty() || password.len() > accounts::MAX_PASSWORD_BYTES {
        return Ok(login_form(
            &state,
            &req,
            StatusCode::BAD_REQUEST,
            &back,
            Some(BAD_LOGIN),
            &shown_name,
        ));
    }
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let user = match throttle::check_password_guarded(
        &state,
        &username,
        Password::new(password),
        &addr,
        "login_page",
    )
    .await
    {
        Ok(u) => u,
        Err(GuardedLoginError::Throttled(wait)) => {
            let page = login_form(
                &state,
                &req,
                StatusCode::TOO_MANY_REQUESTS,
                &back,
                Some("Too many failed attempts. Please wait and try again."),
                &shown_name,
            );
            return Ok(with_retry_after(page, wait));
        }
        Err(GuardedLoginError::BadCredentials) => {
            return Ok(login_form(
                &state,
                &req,
                StatusCode::UNAUTHORIZED,
                &back,
                Some(BAD_LOGIN),
                &shown_name,
            ));
        }
        Err(GuardedLoginError::Db(e)) => return Err(e.into()),
        Err(GuardedLoginError::Hash(e)) => return Err(PageError::Internal(e.into())),
    };
    let now = state.clock.now();
    // A new session id at every login (no fixation); the old one ends.
    if let Some(old) = req.cookie(session::COOKIE) {
        session::end(&state.db, old.value(), now).await?;
    }
    let ttl = state.settings.session_ttl.as_secs() as i64;
    let (token, _) = session::create(&state.db, &user.id, ttl, now).await?;
    let cookie = session_cookie(&state, token, ttl);
    if back.is_empty() {
        let mut resp = pages::message(
            StatusCode::OK,
            "Signed in",
            &format!("You are signed in as {}.", user.username),
        );
        let _ = resp.add_cookie(&cookie);
        return Ok(resp);
    }
    Ok(see_other(&back).cookie(cookie).finish())
}

#[derive(Deserialize)]
struct ConsentForm {
    csrf: Option<String>,
    return_to: Option<String>,
    decision: Option<String>,
}

/// `POST /consent`: remembers the grant per user, client and scope set.
pub async fn consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form: ConsentForm = read_form(&req, payload, "consent").await?;
    if !csrf_valid(&req, form.csrf.as_deref()) {
        return Err(PageError::Client(
            StatusCode::FORBIDDEN,
            "This form has expired. Please start again from the application.".into(),
        ));
    }
    let back = safe_return_to(form.return_to.as_deref()).to_string();
    let params = parse_query(back.strip_prefix("/authorize?").unwrap_or_default())?;
    let auth = match validated(&state, &params).await? {
        Ok(a) => a,
        Err(r) => return Ok(reject(&state, r)),
    };
    let now = state.clock.now();
    let cookie = req
        .cookie(session::COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let Some((_, user)) = session::find(&state.db, &cookie, now).await? else {
        return Ok(found(&format!(
            "/login?{}",
            serde_urlencoded::to_string([("return_to", back.as_str())]).unwrap_or_default()
        )));
    };
    if form.decision.as_deref() != Some("allow") {
        let denied = Rejection::Redirect {
            redirect_uri: auth.redirect_uri,
            error: "access_denied",
            description: "the user denied access".into(),
            state: auth.state,
        };
        return Ok(reject(&state, denied));
    }
    let (uid, cid, scope) = (
        user.id.clone(),
        auth.client.client_id.clone(),
        auth.scopes.join(" "),
    );
    state
        .db
        .write(move |conn| repo::sessions::store_consent(conn, &uid, &cid, &scope, now))
        .await?;
    Ok(see_other(&back).finish())
}

#[derive(Deserialize, Default)]
struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    csrf: Option<String>,
}

fn clear_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = session_cookie(state, String::new(), 0);
    c.make_removal();
    c
}

/// Where to send the browser after logout: only a URI registered for the client.
async fn logout_target(
    state: &AppState,
    client_id: Option<&str>,
    uri: Option<&str>,
    st: Option<&str>,
) -> Result<Option<String>, PageError> {
    let (Some(cid), Some(uri)) = (client_id, uri.filter(|u| !u.is_empty())) else {
        return Ok(None);
    };
    let cid = cid.to_string();
    let client = state
        .db
        .run(move |conn| repo::clients::find(conn, &cid))
        .await?;
    match client {
        Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => {
            let params: Vec<(&str, &str)> = st
                .filter(|s| !s.is_empty())
                .map(|s| vec![("state", s)])
                .unwrap_or_default();
            Ok(Some(if params.is_empty() {
                uri.to_string()
            } else {
                authorize::redirect_with(uri, &params)
            }))
        }
        _ => Err(PageError::bad_request(
            "The post_logout_redirect_uri is not registered for this application.",
        )),
    }
}

async fn finish_logout(
    state: &AppState,
    req: &HttpRequest,
    sid: Option<&str>,
    target: Option<String>,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    if let Some(c) = req.cookie(session::COOKIE) {
        session::end(&state.db, c.value(), now).await?;
    }
    if let Some(sid) = sid.map(str::to_string) {
        state
            .db
            .write(move |conn| repo::sessions::end_session_by_sid(conn, &sid, now))
            .await?;
    }
    let mut resp = match target {
        Some(uri) => found(&uri),
        None => pages::message(
            StatusCode::OK,
            "Signed out",
            "You are signed out of Gatehouse.",
        ),
    };
    let _ = resp.add_cookie(&clear_session_cookie(state));
    Ok(resp)
}

/// `GET /logout` (OIDC RP-Initiated Logout): with a valid `id_token_hint` the session ends
/// at once; without one the user confirms, so `<img src=/logout>` logs nobody out.
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let p: LogoutParams = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| PageError::bad_request("The logout request is malformed."))?;
    let keys = state.keys.store.snapshot();
    let hint = p.id_token_hint.as_deref().and_then(|t| {
        state
            .verifier(&keys, state.clock.now())
            .id_token_hint(t)
            .ok()
    });
    if let Some(claims) = hint {
        if p.client_id.as_deref().is_some_and(|c| c != claims.aud) {
            return Err(PageError::bad_request(
                "client_id does not match the id_token_hint.",
            ));
        }
        let target = logout_target(
            &state,
            Some(&claims.aud),
            p.post_logout_redirect_uri.as_deref(),
            p.state.as_deref(),
        )
        .await?;
        return finish_logout(&state, &req, Some(&claims.sid), target).await;
    }
    // Validate the target now so the confirmation cannot be abused as a redirector.
    logout_target(
        &state,
        p.client_id.as_deref(),
        p.post_logout_redirect_uri.as_deref(),
        p.state.as_deref(),
    )
    .await?;
    let (csrf, set) = csrf_token(&req, secure(&state));
    let page = LogoutPage {
        csrf: &csrf,
        client_id: p.client_id.as_deref().unwrap_or(""),
        post_logout_redirect_uri: p.post_logout_redirect_uri.as_deref().unwrap_or(""),
        state: p.state.as_deref().unwrap_or(""),
    };
    let mut resp = pages::render(StatusCode::OK, &page);
    if let Some(c) = set {
        let _ = resp.add_cookie(&c);
    }
    Ok(resp)
}

/// `POST /logout`: the confirmation.
pub async fn logout_confirmed(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let p: LogoutParams = read_form(&req, payload, "logout").await?;
    if !csrf_valid(&req, p.csrf.as_deref()) {
        return Err(PageError::Client(
            StatusCode::FORBIDDEN,
            "This form has expired. Please try signing out again.".into(),
        ));
    }
    let client_id = p.client_id.as_deref().filter(|c| !c.is_empty());
    let target = logout_target(
        &state,
        client_id,
        p.post_logout_redirect_uri.as_deref(),
        p.state.as_deref(),
    )
    .await?;
    finish_logout(&state, &req, None, target).await
}

/// The stylesheet of the pages, served from the binary (no external assets).
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../assets/gatehouse.css"))
}
