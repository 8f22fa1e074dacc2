//! Liveness, readiness and the JWKS.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use super::schemas::{Health, Jwks, Readiness};
use crate::state::AppState;

#[utoipa::path(get, path = "/healthz", tag = "discovery", responses((status = 200, description = "The process is alive", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// A load balancer's probe must get an answer well inside its own timeout.
const READYZ_DB_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Ready when the database answers and a signing key is loaded.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "discovery",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "The database is unreachable or no signing key is current", body = Readiness),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let wait = state.settings.db_timeout.min(READYZ_DB_WAIT);
    let db_ok = state.db.answers_within(wait).await;
    let keys = state.keys.store.snapshot();
    let key_ok = state
        .keys
        .policy
        .algs
        .iter()
        .all(|alg| keys.signer(alg).is_some());
    let body = Readiness {
        database: if db_ok { "ok" } else { "unreachable" },
        signing_key: if key_ok { "ok" } else { "missing" },
    };
    if db_ok && key_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// The JWKS's `Cache-Control`, built once at start (`JWKS_MAX_AGE` does not change).
pub struct JwksCacheControl(HeaderValue);

impl JwksCacheControl {
    pub fn new(max_age: std::time::Duration) -> JwksCacheControl {
        let value = format!("public, max-age={}", max_age.as_secs());
        JwksCacheControl(
            HeaderValue::from_str(&value)
                .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300")),
        )
    }
}

/// The pre-built JWKS bytes and headers: no serialisation, hashing or formatting per
/// request, nor compression (the body is a few hundred bytes; nothing here negotiates it).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    responses(
        (status = 200, description = "The public signing keys (RFC 7517)", body = Jwks),
        (status = 304, description = "Not modified (If-None-Match)"),
    )
)]
pub async fn jwks(
    state: web::Data<AppState>,
    cache_control: web::Data<JwksCacheControl>,
    req: HttpRequest,
) -> HttpResponse {
    let keys = state.keys.store.snapshot();
    let etag = &keys.jwks_etag[..];
    let matches = req.headers().get(header::IF_NONE_MATCH).is_some_and(|v| {
        // RFC 9110 §13.1.2: If-None-Match compares weakly, so `W/"x"` matches `"x"`
        // (nginx's gzip weakens strong tags on the way out).
        v.as_bytes()
            .split(|b| *b == b',')
            .map(<[u8]>::trim_ascii)
            .any(|t| t == b"*" || t.strip_prefix(b"W/").unwrap_or(t) == etag)
    });
    let mut resp = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header((header::CACHE_CONTROL, cache_control.0.clone()))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ));
    if let Ok(etag) = HeaderValue::from_maybe_shared(keys.jwks_etag.clone()) {
        resp.insert_header((header::ETAG, etag));
    }
    if matches {
        resp.finish()
    } else {
        resp.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .body(keys.jwks_body.clone())
    }
}

/// Prometheus text exposition. Not for the public: the shipped nginx config refuses it, and
/// Prometheus scrapes each instance directly.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let keys = state.keys.store.snapshot();
    let pool = state.db.state();
    let now = state.clock.now();
    let body = state.metrics.render(crate::metrics::Gauges {
        key_rotations: state.keys.store.rotations_seen(),
        // The oldest current key of any algorithm: each line rotates on its own schedule.
        current_key_age_secs: crate::keys::Alg::ALL
            .iter()
            .filter_map(|&alg| keys.current(alg)?.activated_at)
            .map(|at| now - at)
            .max()
            .unwrap_or(0),
        pool_max: state.db.max_size(),
        pool_open: pool.connections,
        pool_idle: pool.idle_connections,
        log_lines_dropped: crate::telemetry::dropped_lines(),
    });
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}
