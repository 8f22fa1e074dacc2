//! Browser endpoints of single sign-on: `/authorize`, `/login`, `/consent`, `/logout`. Each
//! parses the request, calls one [`crate::sso::Sso`] use case, and turns its outcome into a
//! redirect or a page.

pub mod login_mfa;

use actix_web::cookie::Cookie;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::client_addr::client_addr;
use super::error::{with_retry_after, PageError};
use super::pages::{
    self, csrf_token, csrf_valid, read_form, ConsentPage, Cookies, LoginPage, LogoutPage,
};
use crate::accounts;
use crate::accounts::login_guard::PasswordSurface;
use crate::assurance::Level;
use crate::domain::csp_origin;
use crate::mfa::challenge::PasswordStep;
use crate::passwords::Password;
use crate::sso::authorize::{self, AuthParams, Rejection};
use crate::sso::flow::{Authorization, ConsentOutcome, PageClient, SignedIn};
use crate::sso::logout::{Logout, LogoutRequest};
use crate::state::AppState;

pub(crate) fn cookies(state: &AppState) -> Cookies {
    Cookies {
        secure: state.settings.issuer.starts_with("https://"),
    }
}

pub(super) fn session_cookie(
    state: &AppState,
    value: String,
    max_age_secs: i64,
) -> Cookie<'static> {
    let c = cookies(state);
    let mut cookie = c.build(c.session(), value);
    cookie.set_max_age(actix_web::cookie::time::Duration::seconds(max_age_secs));
    cookie
}

fn clear_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = session_cookie(state, String::new(), 0);
    c.make_removal();
    c
}

pub(super) fn session_of(state: &AppState, req: &HttpRequest) -> Option<String> {
    req.cookie(cookies(state).session())
        .map(|c| c.value().to_string())
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
pub(super) fn page_with_csrf(
    req: &HttpRequest,
    state: &AppState,
    render: impl FnOnce(&str) -> HttpResponse,
) -> HttpResponse {
    let (csrf, set) = csrf_token(req, cookies(state));
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
    let cookie = session_of(&state, &req);
    Ok(
        match state.sso.authorize(&params, cookie.as_deref()).await? {
            Authorization::Rejected(r) => reject(&state, r),
            Authorization::SignIn { return_to } => to_login(&return_to),
            Authorization::Issued { redirect } => found(&redirect),
            Authorization::StepUp { return_to, user } => {
                step_up(&state, &req, &user, return_to).await?
            }
            Authorization::Enrol { return_to } => to_enrolment(&return_to),
            Authorization::Consent {
                return_to,
                client_id,
                redirect_origins,
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
                pages::render_form(StatusCode::OK, &page, &redirect_origins)
            }),
        },
    )
}

/// The second step of the login page for a signed-in user asked for more (`acr_values`, a
/// policy, the admin console under `MFA_FOR_ADMINS`): a code, then on to `return_to`.
pub(super) async fn step_up(
    state: &AppState,
    req: &HttpRequest,
    user: &crate::accounts::User,
    return_to: String,
) -> Result<HttpResponse, PageError> {
    let token = state.mfa.step_up_challenge(user).await?;
    let page = LoginForm::for_return_to(state, return_to).await?;
    Ok(login_mfa::second_step(
        state,
        req,
        &page,
        &token,
        StatusCode::OK,
        None,
    ))
}

/// The account page, to set up a second factor a policy requires before going on.
pub(super) fn to_enrolment(return_to: &str) -> HttpResponse {
    let query = serde_urlencoded::to_string([("return_to", return_to)]).unwrap_or_default();
    found(&format!("{}?{query}", authorize::ACCOUNT_PAGE))
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /login`: the form.
pub async fn login_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let q: LoginQuery =
        serde_urlencoded::from_str(req.query_string()).unwrap_or(LoginQuery { return_to: None });
    let back = authorize::safe_return_to(q.return_to.as_deref()).to_string();
    let form = LoginForm::for_return_to(&state, back).await?;
    Ok(form.render(&state, &req, StatusCode::OK, None, ""))
}

/// The sign-in form: where it returns to, and the registered, enabled client it names.
pub(super) struct LoginForm {
    pub back: String,
    pub client: Option<PageClient>,
}

impl LoginForm {
    pub(super) async fn for_return_to(
        state: &AppState,
        back: String,
    ) -> Result<LoginForm, PageError> {
        let client = state.sso.page_client(&back).await?;
        Ok(LoginForm { back, client })
    }

    pub(super) fn render(
        &self,
        state: &AppState,
        req: &HttpRequest,
        status: StatusCode,
        error: Option<&str>,
        username: &str,
    ) -> HttpResponse {
        page_with_csrf(req, state, |csrf| {
            let page = LoginPage {
                csrf,
                return_to: &self.back,
                client_id: self.client.as_ref().map(|c| c.client_id.as_str()),
                error,
                username,
                forgot: state.settings.smtp.is_some(),
            };
            let targets = self
                .client
                .as_ref()
                .map_or(&[][..], |c| &c.redirect_origins[..]);
            pages::render_form(status, &page, targets)
        })
    }
}

#[derive(Deserialize)]
struct SignInForm {
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
    let form: SignInForm = read_form(&req, payload, "sign-in").await?;
    let back = authorize::safe_return_to(form.return_to.as_deref()).to_string();
    let page = LoginForm::for_return_to(&state, back).await?;
    if !csrf_valid(&req, cookies(&state), form.csrf.as_deref()) {
        let expired = Some("This form has expired. Please sign in again.");
        return Ok(page.render(&state, &req, StatusCode::FORBIDDEN, expired, ""));
    }
    let username = form.username.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let shown_name: String = username.chars().take(150).collect();
    if username.is_empty() || password.is_empty() || password.len() > accounts::MAX_PASSWORD_BYTES {
        let bad = Some(super::error::BAD_SIGN_IN);
        return Ok(page.render(&state, &req, StatusCode::BAD_REQUEST, bad, &shown_name));
    }
    let addr = client_addr(&req, &state.settings.trusted_proxies);
    let step = state
        .mfa
        .password_step(
            &username,
            Password::new(password),
            &addr,
            PasswordSurface::LoginPage,
        )
        .await
        .map_err(PageError::from);
    let user = match step {
        Ok(PasswordStep::Done(user)) => user,
        // The second step: a code, on a page of its own.
        Ok(PasswordStep::SecondFactor { token, .. }) => {
            return Ok(login_mfa::second_step(
                &state,
                &req,
                &page,
                &token,
                StatusCode::OK,
                None,
            ));
        }
        // The form again, with the refusal, the name typed and (when throttled) Retry-After.
        Err(PageError::SignInRefused {
            status,
            message,
            retry_after,
        }) => {
            let form = page.render(&state, &req, status, Some(message), &shown_name);
            return Ok(match retry_after {
                Some(wait) => with_retry_after(form, wait),
                None => form,
            });
        }
        Err(other) => return Err(other),
    };
    let old = session_of(&state, &req);
    // A policy requires a second factor and the user has none: enrol before going on.
    let must_enrol = state.sso.policy_requires_mfa(&user, false);
    let signed_in = state
        .sso
        .start_session(
            user,
            old.as_deref(),
            Level::Password,
            &origin_of(&state, &req),
        )
        .await?;
    if must_enrol {
        let mut resp = to_enrolment(&page.back);
        let cookie = session_cookie(&state, signed_in.cookie, state.sso.session_ttl);
        let _ = resp.add_cookie(&cookie);
        return Ok(resp);
    }
    Ok(signed_in_answer(&state, &page, signed_in, None))
}

/// Where a sign-in comes from, for the sessions lists: the client address and the
/// `User-Agent` (described, never stored as sent).
pub(crate) fn origin_of(state: &AppState, req: &HttpRequest) -> crate::sso::session::Origin {
    crate::sso::session::Origin {
        address: client_addr(req, &state.settings.trusted_proxies),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    }
}

/// The browser is signed in: its session cookie, and on to where the sign-in was asked
/// (or a page saying so); `note` tells the user something on the way (recovery codes left).
pub(super) fn signed_in_answer(
    state: &AppState,
    page: &LoginForm,
    signed_in: SignedIn,
    note: Option<&str>,
) -> HttpResponse {
    let cookie = session_cookie(state, signed_in.cookie, state.sso.session_ttl);
    if page.back.is_empty() || note.is_some() {
        let done = format!("You are signed in as {}.", signed_in.user.username);
        let mut resp = match note {
            Some(note) => login_mfa::signed_in_with_note(&done, note, &page.back),
            None => pages::message(StatusCode::OK, "Signed in", &done),
        };
        let _ = resp.add_cookie(&cookie);
        return resp;
    }
    see_other(&page.back).cookie(cookie).finish()
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
    if !csrf_valid(&req, cookies(&state), form.csrf.as_deref()) {
        return Err(PageError::Client(
            StatusCode::FORBIDDEN,
            "This form has expired. Please start again from the application.".into(),
        ));
    }
    let back = authorize::safe_return_to(form.return_to.as_deref());
    let allowed = form.decision.as_deref() == Some("allow");
    let cookie = session_of(&state, &req);
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

/// The "signed out" page that loads the applications' front-channel logout URIs in hidden
/// iframes, then goes on to the registered URI, if any.
#[derive(askama::Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage<'a> {
    frames: &'a [String],
    redirect: Option<&'a str>,
}

/// The browser is signed out: on to the registered URI, or a "signed out" page; through a
/// page of front-channel iframes first when the session's applications asked for them.
fn signed_out(
    state: &AppState,
    redirect: Option<String>,
    frontchannel: Vec<String>,
) -> HttpResponse {
    let mut resp = match redirect {
        Some(uri) if frontchannel.is_empty() => found(&uri),
        None if frontchannel.is_empty() => pages::message(
            StatusCode::OK,
            "Signed out",
            "You are signed out of Gatehouse.",
        ),
        redirect => {
            let origins: Vec<String> = frontchannel
                .iter()
                .filter_map(|u| crate::domain::csp_origin(u))
                .collect();
            let page = SignedOutPage {
                frames: &frontchannel,
                redirect: redirect.as_deref(),
            };
            pages::render_with_frames(StatusCode::OK, &page, &origins)
        }
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
    let cookie = session_of(&state, &req);
    match state
        .sso
        .logout(&state.tokens, &p.request(), cookie.as_deref())
        .await?
    {
        Logout::Ended {
            redirect,
            frontchannel,
        } => Ok(signed_out(&state, redirect, frontchannel)),
        Logout::Confirm {
            client_id,
            redirect,
        } => Ok(page_with_csrf(&req, &state, |csrf| {
            let page = LogoutPage {
                csrf,
                client_id: client_id.as_deref().unwrap_or(""),
                post_logout_redirect_uri: p.post_logout_redirect_uri.as_deref().unwrap_or(""),
                state: p.state.as_deref().unwrap_or(""),
            };
            let targets: Vec<String> = redirect
                .as_deref()
                .and_then(csp_origin)
                .into_iter()
                .collect();
            pages::render_form(StatusCode::OK, &page, &targets)
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
    if !csrf_valid(&req, cookies(&state), p.csrf.as_deref()) {
        return Err(PageError::Client(
            StatusCode::FORBIDDEN,
            "This form has expired. Please try signing out again.".into(),
        ));
    }
    let cookie = session_of(&state, &req);
    let (redirect, frontchannel) = state
        .sso
        .logout_confirmed(&p.request(), cookie.as_deref())
        .await?;
    Ok(signed_out(&state, redirect, frontchannel))
}

/// The stylesheet of the pages, served from the binary (no external assets).
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../../assets/gatehouse.css"))
}
