//! Server-rendered pages (askama): their security headers and the CSRF cookie.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;
use subtle::ConstantTimeEq;

use crate::sso::session::random_token;

pub const CSRF_COOKIE: &str = "gh_csrf";

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub csrf: &'a str,
    pub return_to: &'a str,
    pub client_id: Option<&'a str>,
    pub error: Option<&'a str>,
    pub username: &'a str,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub csrf: &'a str,
    pub return_to: &'a str,
    pub client_id: &'a str,
    pub username: &'a str,
    pub scopes: &'a [String],
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub csrf: &'a str,
    pub client_id: &'a str,
    pub post_logout_redirect_uri: &'a str,
    pub state: &'a str,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

/// Headers every page carries: not frameable, no sniffing, no referrer, never cached.
pub fn page_builder(status: StatusCode) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.insert_header((
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    ))
    .insert_header((header::X_FRAME_OPTIONS, "DENY"))
    .insert_header((header::REFERRER_POLICY, "no-referrer"))
    .insert_header((header::CACHE_CONTROL, "no-store"))
    .content_type("text/html; charset=utf-8");
    b
}

pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => page_builder(status).body(html),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            page_builder(StatusCode::INTERNAL_SERVER_ERROR).body("internal server error")
        }
    }
}

pub fn message(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    render(status, &MessagePage { title, message })
}

/// The browser's CSRF token (double-submit: an HttpOnly cookie the form must echo), and the
/// cookie to set when the browser had none.
pub fn csrf_token(req: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    match req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 43)
    {
        Some(token) => (token, None),
        None => {
            let token = random_token();
            let cookie = Cookie::build(CSRF_COOKIE, token.clone())
                .path("/")
                .http_only(true)
                .secure(secure)
                .same_site(SameSite::Lax)
                .finish();
            (token, Some(cookie))
        }
    }
}

/// The submitted token equals the browser's cookie (constant time).
pub fn csrf_valid(req: &HttpRequest, submitted: Option<&str>) -> bool {
    match (req.cookie(CSRF_COOKIE), submitted) {
        (Some(cookie), Some(form)) if cookie.value().len() == 43 => {
            cookie.value().as_bytes().ct_eq(form.as_bytes()).into()
        }
        _ => false,
    }
}
