//! Server-rendered pages (askama): their security headers and the CSRF cookie.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;
use subtle::ConstantTimeEq;

use super::body;
use crate::digest::random_token;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub csrf: &'a str,
    pub return_to: &'a str,
    pub client_id: Option<&'a str>,
    pub error: Option<&'a str>,
    pub username: &'a str,
    /// Mail is configured: the page links to "Forgot password?".
    pub forgot: bool,
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

/// The browser's cookies. With an `https` issuer they carry the `__Host-` prefix, so the
/// browser accepts them only Secure, for the whole host and from the host itself: no
/// sibling subdomain can plant a session or CSRF cookie.
#[derive(Debug, Clone, Copy)]
pub struct Cookies {
    pub secure: bool,
}

impl Cookies {
    pub fn session(self) -> &'static str {
        if self.secure {
            "__Host-gh_session"
        } else {
            "gh_session"
        }
    }
    pub fn csrf(self) -> &'static str {
        if self.secure {
            "__Host-gh_csrf"
        } else {
            "gh_csrf"
        }
    }
    /// HttpOnly, SameSite=Lax, Path=/, no Domain; Secure with https.
    pub fn build(self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .finish()
    }
}

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Headers every page carries: not frameable, no sniffing, no referrer, never cached, and
/// forms that post only here (`form_targets` adds the origins a form's answer redirects to:
/// browsers apply `form-action` to those redirects too).
fn page_builder(status: StatusCode, form_targets: &[String]) -> HttpResponseBuilder {
    let csp = if form_targets.is_empty() {
        CSP.to_string()
    } else {
        format!("{CSP} {}", form_targets.join(" "))
    };
    let mut b = HttpResponse::build(status);
    b.insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8");
    b
}

pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    render_form(status, page, &[])
}

/// A page whose form's answer redirects to one of `form_targets` (CSP sources).
pub fn render_form(
    status: StatusCode,
    page: &impl Template,
    form_targets: &[String],
) -> HttpResponse {
    match page.render() {
        Ok(html) => page_builder(status, form_targets).body(html),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            page_builder(StatusCode::INTERNAL_SERVER_ERROR, &[]).body("internal server error")
        }
    }
}

/// A page that loads `frames` (CSP sources) in iframes: the logout page's front-channel
/// logout URIs.
pub fn render_with_frames(
    status: StatusCode,
    page: &impl Template,
    frames: &[String],
) -> HttpResponse {
    let mut resp = render(status, page);
    if !frames.is_empty() {
        let csp = format!("{CSP}; frame-src {}", frames.join(" "));
        if let Ok(value) = header::HeaderValue::from_str(&csp) {
            resp.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    resp
}

/// A rendered page's HTML with the pages' headers.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    page_builder(status, &[]).body(body)
}

pub fn message(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    render(status, &MessagePage { title, message })
}

/// The browser's CSRF token (double-submit: an HttpOnly cookie the form must echo), and the
/// cookie to set when the browser had none.
pub fn csrf_token(req: &HttpRequest, cookies: Cookies) -> (String, Option<Cookie<'static>>) {
    match req
        .cookie(cookies.csrf())
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 43)
    {
        Some(token) => (token, None),
        None => {
            let token = random_token();
            let cookie = cookies.build(cookies.csrf(), token.clone());
            (token, Some(cookie))
        }
    }
}

/// The submitted token equals the browser's cookie (constant time).
pub fn csrf_valid(req: &HttpRequest, cookies: Cookies, submitted: Option<&str>) -> bool {
    match (req.cookie(cookies.csrf()), submitted) {
        (Some(cookie), Some(form)) if cookie.value().len() == 43 => {
            cookie.value().as_bytes().ct_eq(form.as_bytes()).into()
        }
        _ => false,
    }
}

/// Why a posted form was not read: its body, or a form that does not parse (`what` names
/// it). `http/error/page.rs` makes each an error page.
#[derive(Debug)]
pub enum FormError {
    Body(body::BodyError),
    Malformed(String),
}

/// A posted form of the pages, at most 64 KiB; `what` names it in the error page.
pub async fn read_form<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    what: &str,
) -> Result<T, FormError> {
    let bytes = body::read(req, payload).await.map_err(FormError::Body)?;
    serde_urlencoded::from_bytes(&bytes).map_err(|_| FormError::Malformed(what.to_string()))
}
