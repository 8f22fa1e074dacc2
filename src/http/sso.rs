//! Browser endpoints of single sign-on: `/authorize`, `/login`, `/consent`, `/logout`. Each
//! parses the request, calls one [`crate::sso::Sso`] use case, and turns its outcome into a
//! redirect or a page.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::body;
use super::client_addr::client_addr;
use super::error::{with_retry_after, PageError};
use super::pages::{self, csrf_token, csrf_valid, ConsentPage, LoginPage, LogoutPage};
use crate::accounts;
use crate::passwords::Password;
use crate::sso::authorize::{self, AuthParams, Rejection};
use crate::sso::flow::{Authorization, ConsentOutcome};
use crate::sso::logout::{Logout, LogoutRequest};
use crate::sso::session;
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

fn clear_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = session_cookie(state, String::new(), 0);
    c.make_removal();
    c
}

fn session_of(req: &HttpRequest) -> Option<String> {
    req.cookie(session::COOKIE).map(|c| c.value().to_string())
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

/// The login page, to come back to `return_to` afterwards.
fn to_login(return_to: &str) -> HttpResponse {
    let query = serde_urlencoded::to_string([("return_to", return_to)]).unwrap_or_default();
    found(&format!("/login?{query}"))
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
        } => found(&authorize::error_redirect(
            &redirect_uri,
            error,
            &description,
            st.as_deref(),
            &state.settings.issuer,
        )),
    }
}

/// A page with the CSRF cookie set when the browser had none.
fn page_with_csrf(
    req: &HttpRequest,
    state: &AppState,
    render: impl FnOnce(&str) -> HttpResponse,
) -> HttpResponse {
    let (csrf, set) = csrf_token(req, secure(state));
    let mut resp = render(&csrf);
    if let Some(c) = set {
        let _ = resp.add_cookie(&c);
    }
    resp
}

/// `GET /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2).
pub async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let params: AuthParams = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| PageError::bad_request("The authorization request is malformed."))?;
    let cookie = session_of(&req);
    Ok(
        match state.sso.authorize(&params, cookie.as_deref()).await? {
            Authorization::Rejected(r) => reject(&state, r),
            Authorization::SignIn { return_to } => to_login(&return_to),
            Authorization::Issued { redirect } => found(&redirect),
            Authorization::Consent {
                return_to,
                client_id,
                username,
                scopes,
            } => page_with_csrf(&req, &state, |csrf| {
                let page = ConsentPage {
                    csrf,
                    return_to: &return_to,
                    client_id: &client_id,
                    username: &username,
                    scopes: &scopes,
                };
                pages::render(StatusCode::OK, &page)
            }),
        },
    )
}

/// A posted form of the pages, at most 64 KiB; `what` names it in the error page.
async fn read_form<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    what: &str,
) -> Result<T, PageError> {
    let bytes = body::read(req, payload).await?;
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
    let back = authorize::safe_return_to(q.return_to.as_deref()).to_string();
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
    let client = authorize::params_of_return_to(back)
        .and_then(|p| p.client_id)
        .filter(|c| c.len() <= 100);
    page_with_csrf(req, state, |csrf| {
        let page = LoginPage {
            csrf,
            return_to: back,
            client_id: client.as_deref(),
            error,
            username,
        };
        pages::render(status, &page)
    })
}

#[derive(Deserialize)]
struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
    return_to: Option<String>,
}

/// `POST /login`: check the CSRF token, then sign in through the guard.
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form: LoginForm = read_form(&req, payload, "sign-in").await?;
    let back = authorize::safe_return_to(form.return_to.as_deref()).to_string();
    if !csrf_valid(&req, form.csrf.as_deref()) {
        let expired = Some("This form has expired. Please sign in again.");
        return Ok(login_form(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            &back,
            expired,
            "",
        ));
    }
    let username = form.username.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let shown_name: String = username.chars().take(150).collect();
    if username.is_empty() || password.is_empty() || password.len() > accounts::MAX_PASSWORD_BYTES {
        let bad = Some(super::error::BAD_SIGN_IN);
        return Ok(login_form(
            &state,
            &req,
            StatusCode::BAD_REQUEST,
            &back,
            bad,
            &shown_name,
        ));
    }
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let old = session_of(&req);
    let signed_in = state
        .sso
        .sign_in(
            &state.guard,
            &username,
            Password::new(password),
            &addr,
            old.as_deref(),
        )
        .await
        .map_err(PageError::from);
    let signed_in = match signed_in {
        Ok(s) => s,
        // The form again, with the refusal, the name typed and (when throttled) Retry-After.
        Err(PageError::SignInRefused {
            status,
            message,
            retry_after,
        }) => {
            let page = login_form(&state, &req, status, &back, Some(message), &shown_name);
            return Ok(match retry_after {
                Some(wait) => with_retry_after(page, wait),
                None => page,
            });
        }
        Err(other) => return Err(other),
    };
    let cookie = session_cookie(&state, signed_in.cookie, state.sso.session_ttl);
    if back.is_empty() {
        let mut resp = pages::message(
            StatusCode::OK,
            "Signed in",
            &format!("You are signed in as {}.", signed_in.user.username),
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
    let back = authorize::safe_return_to(form.return_to.as_deref());
    let allowed = form.decision.as_deref() == Some("allow");
    let cookie = session_of(&req);
    Ok(
        match state.sso.consent(back, cookie.as_deref(), allowed).await? {
            ConsentOutcome::Rejected(r) => reject(&state, r),
            ConsentOutcome::SignIn { return_to } => to_login(&return_to),
            ConsentOutcome::Continue { return_to } => see_other(&return_to).finish(),
        },
    )
}

#[derive(Deserialize, Default)]
struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    csrf: Option<String>,
}

impl LogoutParams {
    fn request(&self) -> LogoutRequest {
        LogoutRequest {
            id_token_hint: self.id_token_hint.clone(),
            client_id: self.client_id.clone(),
            post_logout_redirect_uri: self.post_logout_redirect_uri.clone(),
            state: self.state.clone(),
        }
    }
}

/// The browser is signed out: on to the registered URI, or a "signed out" page.
fn signed_out(state: &AppState, redirect: Option<String>) -> HttpResponse {
    let mut resp = match redirect {
        Some(uri) => found(&uri),
        None => pages::message(
            StatusCode::OK,
            "Signed out",
            "You are signed out of Gatehouse.",
        ),
    };
    let _ = resp.add_cookie(&clear_session_cookie(state));
    resp
}

/// `GET /logout` (OIDC RP-Initiated Logout): with a valid `id_token_hint` the session ends
/// at once; without one the user confirms, so `<img src=/logout>` logs nobody out.
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let p: LogoutParams = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| PageError::bad_request("The logout request is malformed."))?;
    let cookie = session_of(&req);
    match state
        .sso
        .logout(&state.tokens, &p.request(), cookie.as_deref())
        .await?
    {
        Logout::Ended { redirect } => Ok(signed_out(&state, redirect)),
        Logout::Confirm => Ok(page_with_csrf(&req, &state, |csrf| {
            let page = LogoutPage {
                csrf,
                client_id: p.client_id.as_deref().unwrap_or(""),
                post_logout_redirect_uri: p.post_logout_redirect_uri.as_deref().unwrap_or(""),
                state: p.state.as_deref().unwrap_or(""),
            };
            pages::render(StatusCode::OK, &page)
        })),
    }
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
    let cookie = session_of(&req);
    let redirect = state
        .sso
        .logout_confirmed(&p.request(), cookie.as_deref())
        .await?;
    Ok(signed_out(&state, redirect))
}

/// The stylesheet of the pages, served from the binary (no external assets).
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../assets/gatehouse.css"))
}
