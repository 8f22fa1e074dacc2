//! The per-request metrics (`gatehouse_http_requests_total` and
//! `gatehouse_http_request_duration_seconds`), recorded with atomics only: every request
//! pays for them, and a label lookup in the Prometheus crate's vectors takes a lock and
//! hashes three strings. Routes are few and fixed (the route table), so each gets a slot the
//! first time it is seen, in an insert-only table; after that a request finds its counters
//! with atomic loads. Rendered in the Prometheus text format beside the registry's metrics.

use std::fmt::Write;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;

/// Upper bounds of the latency buckets, in seconds (as before, with the Prometheus crate).
const BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Route slots: the route table has about 30 patterns, plus "unmatched".
const ROUTES: usize = 64;
/// (method, status) pairs per route: a route answers with a handful of statuses.
const SERIES: usize = 24;
const METHODS: [&str; 8] = [
    "GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "OTHER",
];

pub struct RequestMetrics {
    routes: Box<[OnceLock<Route>]>,
    /// Requests that found no free slot (more routes or statuses than foreseen): counted
    /// here rather than lost.
    overflow: AtomicU64,
}

struct Route {
    name: String,
    /// Key `method index << 16 | status`, 0 while free; claimed once with a CAS.
    keys: [AtomicU32; SERIES],
    counts: [AtomicU64; SERIES],
    /// Per bucket (not cumulative), the last one being +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Route {
    fn new(name: &str) -> Route {
        Route {
            name: name.to_string(),
            keys: std::array::from_fn(|_| AtomicU32::new(0)),
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

impl Default for RequestMetrics {
    fn default() -> Self {
        RequestMetrics {
            routes: (0..ROUTES).map(|_| OnceLock::new()).collect(),
            overflow: AtomicU64::new(0),
        }
    }
}

fn slot_of(route: &str) -> usize {
    // FNV-1a: enough to spread a few dozen short patterns.
    let mut h: u32 = 0x811c_9dc5;
    for b in route.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as usize % ROUTES
}

impl RequestMetrics {
    fn route(&self, route: &str) -> Option<&Route> {
        let start = slot_of(route);
        for i in 0..ROUTES {
            let slot = &self.routes[(start + i) % ROUTES];
            // Only the first sight of a route initialises a slot (OnceLock serialises that);
            // every later request reads it with one atomic load.
            let found = slot.get_or_init(|| Route::new(route));
            if found.name == route {
                return Some(found);
            }
        }
        None
    }

    pub fn record(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let Some(r) = self.route(route) else {
            self.overflow.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let m = METHODS
            .iter()
            .position(|x| *x == method)
            .unwrap_or(METHODS.len() - 1) as u32;
        let key = (m << 16) | u32::from(status);
        let mut counted = false;
        for (k, count) in r.keys.iter().zip(&r.counts) {
            let current = k.load(Ordering::Acquire);
            let mine = current == key
                || (current == 0
                    && match k.compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire) {
                        Ok(_) => true,
                        Err(other) => other == key,
                    });
            if mine {
                count.fetch_add(1, Ordering::Relaxed);
                counted = true;
                break;
            }
        }
        if !counted {
            self.overflow.fetch_add(1, Ordering::Relaxed);
        }
        let bucket = BUCKETS
            .iter()
            .position(|le| seconds <= *le)
            .unwrap_or(BUCKETS.len());
        r.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        r.sum_nanos
            .fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
    }

    /// Appends both metric families in the Prometheus text format (labels in name order).
    pub fn render(&self, out: &mut String) {
        let mut routes: Vec<&Route> = self.routes.iter().filter_map(OnceLock::get).collect();
        routes.sort_by(|a, b| a.name.cmp(&b.name));
        out.push_str("# HELP gatehouse_http_requests_total HTTP requests by route pattern, method and status\n");
        out.push_str("# TYPE gatehouse_http_requests_total counter\n");
        for r in &routes {
            let route = escape(&r.name);
            let mut series: Vec<(u32, u64)> = r
                .keys
                .iter()
                .zip(&r.counts)
                .map(|(k, c)| (k.load(Ordering::Acquire), c.load(Ordering::Relaxed)))
                .filter(|(k, _)| *k != 0)
                .collect();
            series.sort_unstable();
            for (key, count) in series {
                let method = METHODS[((key >> 16) as usize).min(METHODS.len() - 1)];
                let status = key & 0xffff;
                let _ = writeln!(
                    out,
                    "gatehouse_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP gatehouse_http_request_duration_seconds Time from request to response, by route pattern\n");
        out.push_str("# TYPE gatehouse_http_request_duration_seconds histogram\n");
        for r in &routes {
            let route = escape(&r.name);
            let mut cumulative = 0;
            for (i, n) in r.buckets.iter().enumerate() {
                cumulative += n.load(Ordering::Relaxed);
                let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "gatehouse_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let sum = r.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}"
            );
        }
        out.push_str("# HELP gatehouse_http_requests_unrecorded_total Requests beyond the foreseen routes and statuses, counted without labels\n");
        out.push_str("# TYPE gatehouse_http_requests_unrecorded_total counter\n");
        let _ = writeln!(
            out,
            "gatehouse_http_requests_unrecorded_total {}",
            self.overflow.load(Ordering::Relaxed)
        );
    }
}

/// A label value in the text format: backslash, quote and newline escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_route_method_and_status_and_timed() {
        let m = RequestMetrics::default();
        m.record("/api/token/", "POST", 200, 0.002);
        m.record("/api/token/", "POST", 200, 0.2);
        m.record("/api/token/", "POST", 401, 7.0);
        m.record("/.well-known/jwks.json", "GET", 200, 0.0001);
        let mut text = String::new();
        m.render(&mut text);
        for line in [
            r#"gatehouse_http_requests_total{method="POST",route="/api/token/",status="200"} 2"#,
            r#"gatehouse_http_requests_total{method="POST",route="/api/token/",status="401"} 1"#,
            r#"gatehouse_http_requests_total{method="GET",route="/.well-known/jwks.json",status="200"} 1"#,
            r#"gatehouse_http_request_duration_seconds_bucket{route="/api/token/",le="0.0025"} 1"#,
            r#"gatehouse_http_request_duration_seconds_bucket{route="/api/token/",le="0.25"} 2"#,
            r#"gatehouse_http_request_duration_seconds_bucket{route="/api/token/",le="5"} 2"#,
            r#"gatehouse_http_request_duration_seconds_bucket{route="/api/token/",le="+Inf"} 3"#,
            r#"gatehouse_http_request_duration_seconds_count{route="/api/token/"} 3"#,
            "gatehouse_http_requests_unrecorded_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }

    #[test]
    fn more_routes_than_slots_are_counted_without_labels() {
        let m = RequestMetrics::default();
        for i in 0..ROUTES + 3 {
            m.record(&format!("/r{i}"), "GET", 200, 0.0);
        }
        let mut text = String::new();
        m.render(&mut text);
        assert!(text.contains("gatehouse_http_requests_unrecorded_total 3"));
    }
}
