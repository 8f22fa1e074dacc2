//! Request accounting: one log line per request (formatted by `telemetry::request_line`,
//! in `tracing`'s format, off `tracing`'s event path), and every line logged while serving a
//! request carries its request id and the client's address (the request's
//! `request_scope::RequestScope`); the request metrics. Nothing here sees bodies or
//! credentials, so no secret can reach a log line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::client_addr;
use crate::audit::{self, RequestContext};
use crate::request_scope::{self, RequestScope};
use crate::state::AppState;
use crate::telemetry;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A proxy's request id is kept when the proxy is trusted and the id looks like one, so a
/// request can be followed from nginx's log into ours; otherwise we make one.
fn request_id(req: &ServiceRequest, state: Option<&AppState>) -> String {
    let from_proxy = state
        .filter(|s| {
            req.peer_addr()
                .is_some_and(|p| s.settings.trusted_proxies.trusts(p.ip()))
        })
        .and_then(|_| req.headers().get(&REQUEST_ID))
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    match from_proxy {
        Some(id) => id.to_string(),
        None => new_request_id(),
    }
}

/// 32 hex digits (like a UUID's simple form): 64 random bits drawn once per process, so ids
/// from several instances do not collide, and a per-process counter scrambled by a bijection
/// (unique, but not a visible count of our traffic). A random UUID per request cost a
/// system call (getrandom) on every request.
fn new_request_id() -> String {
    static PROCESS: OnceLock<(u64, u64)> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (prefix, key) = *PROCESS.get_or_init(|| {
        let id = uuid::Uuid::new_v4().as_u64_pair();
        (id.0, id.1)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // xor and multiplication by an odd constant are both bijections on u64.
    let scrambled = (n ^ key).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    format!("{prefix:016x}{scrambled:016x}")
}

pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let request_id = request_id(&req, state.as_ref().map(|d| d.get_ref()));
    let client = match (req.peer_addr(), state.as_ref()) {
        (Some(peer), Some(s)) => {
            client_addr::resolve(peer.ip(), req.headers(), &s.settings.trusted_proxies).to_string()
        }
        _ => "unknown".into(),
    };
    let context = RequestContext {
        actor: None,
        client_addr: Some(client.clone()),
        request_id: Some(request_id.clone()),
    };
    let scope = Arc::new(RequestScope {
        id: request_id,
        client,
        method: req.method().as_str().to_string(),
        path: req.path().to_string(),
    });
    let started = Instant::now();
    let result = request_scope::within(scope.clone(), audit::within(context, next.call(req))).await;
    let elapsed = started.elapsed().as_secs_f64();
    match result {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let ms = elapsed * 1000.0;
            // The same line either way; the first formats it without `tracing`'s machinery.
            if tracing::enabled!(tracing::Level::INFO)
                && !telemetry::request_line(&scope, status, ms)
            {
                let _in = request_scope::enter(Some(scope.clone()));
                tracing::info!(status, ms, "served");
            }
            if let Some(state) = &state {
                let route = resp.request().match_pattern();
                let route = route.as_deref().unwrap_or("unmatched");
                state.metrics.request(route, &scope.method, status, elapsed);
            }
            if let Ok(v) = HeaderValue::from_str(&scope.id) {
                resp.headers_mut().insert(REQUEST_ID, v);
            }
            Ok(resp)
        }
        Err(e) => {
            let _in = request_scope::enter(Some(scope));
            tracing::warn!(error = %e, "request failed before a response");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::new_request_id;

    #[test]
    fn request_ids_are_32_hex_digits_and_never_repeat() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids
            .iter()
            .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }
}
