//! Cross-origin requests (the Fetch standard's CORS protocol) for browser apps on other
//! origins: the token endpoints answer only the origins in `CORS_ORIGINS`, discovery and
//! the JWKS answer any origin.
//!
//! The header values are built once at start ([`CorsPolicy`]); the middleware wraps only the
//! resources a browser app calls, so every other route pays nothing, and with no origin
//! configured the wrapped ones pay one lookup. An unlisted origin gets no CORS header at
//! all: its preflight is answered as if CORS did not exist (405), so the browser refuses.

use std::future::{ready, Ready};
use std::rc::Rc;

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::{Either, LocalBoxFuture};

use crate::domain::CorsOrigins;

/// Request headers a browser app may send: its bearer token and a JSON or form body.
const ALLOW_HEADERS: &str = "Authorization, Content-Type";
/// Response headers a browser app may read beyond the safelisted ones: the bearer
/// challenge of a 401, the wait of a 429 or 503, and the id to quote in a support request.
const EXPOSE_HEADERS: &str = "WWW-Authenticate, Retry-After, X-Request-Id";
/// How long a browser may reuse a preflight answer (Chromium caps it at 2 hours).
const MAX_AGE: &str = "600";

fn value(s: &'static str) -> HeaderValue {
    HeaderValue::from_static(s)
}

/// `CORS_ORIGINS` as ready-made header values.
pub struct CorsPolicy {
    origins: Vec<AllowedOrigin>,
}

#[derive(Clone)]
struct AllowedOrigin {
    origin: HeaderValue,
    credentials: bool,
}

impl CorsPolicy {
    pub fn new(origins: &CorsOrigins) -> CorsPolicy {
        CorsPolicy {
            origins: origins
                .iter()
                // Parsed origins are plain ASCII: each one is a valid header value.
                .filter_map(|o| {
                    HeaderValue::from_str(&o.origin)
                        .ok()
                        .map(|origin| AllowedOrigin {
                            origin,
                            credentials: o.credentials,
                        })
                })
                .collect(),
        }
    }

    /// The listed origin a request comes from: an exact, byte-for-byte match.
    fn allowed(&self, req: &ServiceRequest) -> Option<AllowedOrigin> {
        let origin = req.headers().get(header::ORIGIN)?;
        self.origins.iter().find(|o| o.origin == origin).cloned()
    }
}

fn is_preflight(req: &ServiceRequest) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Wraps a resource that browser apps on the listed origins may call; `methods` is its
/// `Access-Control-Allow-Methods`.
#[derive(Clone, Copy)]
pub struct Cors {
    methods: &'static str,
}

impl Cors {
    pub fn allow(methods: &'static str) -> Cors {
        Cors { methods }
    }
}

impl<S> Transform<S, ServiceRequest> for Cors
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse;
    type Error = actix_web::Error;
    type Transform = CorsService<S>;
    type InitError = ();
    type Future = Ready<Result<CorsService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CorsService {
            service: Rc::new(service),
            methods: HeaderValue::from_static(self.methods),
        }))
    }
}

pub struct CorsService<S> {
    service: Rc<S>,
    methods: HeaderValue,
}

impl<S> Service<ServiceRequest> for CorsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse;
    type Error = actix_web::Error;
    type Future =
        Either<S::Future, LocalBoxFuture<'static, Result<ServiceResponse, actix_web::Error>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let policy = match req.app_data::<web::Data<CorsPolicy>>() {
            Some(p) if !p.origins.is_empty() => p.clone(),
            _ => return Either::Left(self.service.call(req)),
        };
        let allowed = policy.allowed(&req);
        if let (true, Some(origin)) = (is_preflight(&req), &allowed) {
            let mut resp = HttpResponse::NoContent();
            resp.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, self.methods.clone()))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, value(ALLOW_HEADERS)))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, value(MAX_AGE)))
                .insert_header((header::VARY, value("Origin")));
            let mut resp = req.into_response(resp.finish());
            allow(resp.headers_mut(), origin);
            return Either::Right(Box::pin(ready(Ok(resp))));
        }
        let fut = self.service.call(req);
        Either::Right(Box::pin(async move {
            let mut resp = fut.await?;
            let headers = resp.headers_mut();
            // The answer depends on Origin for every request to this resource, listed or
            // not, so a cache must key it by Origin.
            headers.append(header::VARY, value("Origin"));
            if let Some(origin) = &allowed {
                allow(headers, origin);
                headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, value(EXPOSE_HEADERS));
            }
            Ok(resp)
        }))
    }
}

fn allow(headers: &mut header::HeaderMap, origin: &AllowedOrigin) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.origin.clone());
    if origin.credentials {
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, value("true"));
    }
}

/// The preflight of discovery and the JWKS: public documents, so any origin may read them
/// (their GET answers carry `Access-Control-Allow-Origin: *`), also conditionally.
pub async fn public_preflight(req: HttpRequest) -> HttpResponse {
    let mut resp = HttpResponse::NoContent();
    resp.insert_header((header::ALLOW, "GET, HEAD, OPTIONS"));
    let headers = req.headers();
    if headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        resp.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, value("*")))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, value("GET, HEAD")))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, value("If-None-Match")))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, value(MAX_AGE)));
    }
    resp.finish()
}
