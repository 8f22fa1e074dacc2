//! Prometheus metrics for `/metrics`: counters kept by the request path, gauges read from
//! the pool and the key set when scraped. Each application has its own registry, so two
//! servers in one process (the tests) count separately. The per-request series, which every
//! request updates, are kept with atomics in `requests.rs`.

mod requests;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    requests: requests::RequestMetrics,
    tokens_issued: IntCounterVec,
    login_failures: IntCounterVec,
    login_throttled: IntCounterVec,
    refresh_reuse: IntCounterVec,
    key_rotations: IntCounter,
    key_age: IntGauge,
    pool: IntGaugeVec,
    log_lines_dropped: IntCounter,
    outbox: OutboxMetrics,
}

/// The outbox's series, labelled by message kind (`crate::outbox`).
struct OutboxMetrics {
    pending: IntGaugeVec,
    delivered: IntCounterVec,
    failed: IntCounterVec,
    latency: HistogramVec,
}

impl OutboxMetrics {
    fn new(registry: &Registry) -> Result<OutboxMetrics, prometheus::Error> {
        let pending = IntGaugeVec::new(
            Opts::new(
                "gatehouse_outbox_pending",
                "Outbox messages waiting for delivery (all instances), by kind",
            ),
            &["kind"],
        )?;
        let delivered = IntCounterVec::new(
            Opts::new(
                "gatehouse_outbox_delivered_total",
                "Outbox messages delivered by this instance, by kind",
            ),
            &["kind"],
        )?;
        let failed = IntCounterVec::new(
            Opts::new(
                "gatehouse_outbox_failed_total",
                "Outbox messages given up by this instance, by kind",
            ),
            &["kind"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "gatehouse_outbox_delivery_latency_seconds",
                "Seconds from writing an outbox message to its delivery, by kind",
            )
            .buckets(vec![
                1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0,
            ]),
            &["kind"],
        )?;
        registry.register(Box::new(pending.clone()))?;
        registry.register(Box::new(delivered.clone()))?;
        registry.register(Box::new(failed.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(OutboxMetrics {
            pending,
            delivered,
            failed,
            latency,
        })
    }
}

/// Kinds of tokens counted by `gatehouse_tokens_issued_total`.
#[derive(Debug, Clone, Copy)]
pub enum TokenKind {
    Access,
    Refresh,
    IdToken,
}

impl TokenKind {
    fn label(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
            TokenKind::IdToken => "id_token",
        }
    }
}

/// What the scrape reads from elsewhere at the moment it is taken.
pub struct Gauges {
    /// Changes of the current signing key this instance has seen.
    pub key_rotations: u64,
    /// Seconds since the current key became current (0 when there is none).
    pub current_key_age_secs: i64,
    pub pool_max: u32,
    pub pool_open: u32,
    pub pool_idle: u32,
    /// Log lines dropped because stderr could not keep up (`telemetry::dropped_lines`).
    pub log_lines_dropped: u64,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let tokens_issued = IntCounterVec::new(
            Opts::new("gatehouse_tokens_issued_total", "Tokens signed, by kind"),
            &["kind"],
        )?;
        let login_failures = IntCounterVec::new(
            Opts::new(
                "gatehouse_login_failures_total",
                "Failed password checks, by endpoint",
            ),
            &["endpoint"],
        )?;
        let login_throttled = IntCounterVec::new(
            Opts::new(
                "gatehouse_login_throttled_total",
                "Sign-in attempts refused by the failed-login throttle, by endpoint",
            ),
            &["endpoint"],
        )?;
        let refresh_reuse = IntCounterVec::new(
            Opts::new(
                "gatehouse_refresh_reuse_detected_total",
                "Spent refresh tokens presented again, by outcome (family revoked, or the grace answer)",
            ),
            &["outcome"],
        )?;
        let key_rotations = IntCounter::new(
            "gatehouse_key_rotations_total",
            "Changes of the current signing key seen by this instance since it started",
        )?;
        let key_age = IntGauge::new(
            "gatehouse_signing_key_age_seconds",
            "Seconds since the current signing key became current",
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "gatehouse_db_pool_connections",
                "Database pool connections: max, open and idle",
            ),
            &["state"],
        )?;
        let log_lines_dropped = IntCounter::new(
            "gatehouse_log_lines_dropped_total",
            "Log lines dropped because stderr could not keep up (a request never waits for it)",
        )?;
        registry.register(Box::new(tokens_issued.clone()))?;
        registry.register(Box::new(login_failures.clone()))?;
        registry.register(Box::new(login_throttled.clone()))?;
        registry.register(Box::new(refresh_reuse.clone()))?;
        registry.register(Box::new(key_rotations.clone()))?;
        registry.register(Box::new(key_age.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(log_lines_dropped.clone()))?;
        let outbox = OutboxMetrics::new(&registry)?;
        // Zero series exist from the start, so a dashboard sees 0 rather than nothing.
        for kind in [TokenKind::Access, TokenKind::Refresh, TokenKind::IdToken] {
            tokens_issued.with_label_values(&[kind.label()]);
        }
        for endpoint in ["login_page", "simplejwt", "password_grant", "account_page"] {
            login_failures.with_label_values(&[endpoint]);
            login_throttled.with_label_values(&[endpoint]);
        }
        for outcome in ["family_revoked", "grace_replay"] {
            refresh_reuse.with_label_values(&[outcome]);
        }
        Ok(Metrics {
            registry,
            requests: requests::RequestMetrics::default(),
            tokens_issued,
            login_failures,
            login_throttled,
            refresh_reuse,
            key_rotations,
            key_age,
            pool,
            log_lines_dropped,
            outbox,
        })
    }

    /// Creates the zero series of an outbox kind, so a dashboard sees 0 rather than nothing.
    pub fn outbox_kind(&self, kind: &str) {
        self.outbox.pending.with_label_values(&[kind]);
        self.outbox.delivered.with_label_values(&[kind]);
        self.outbox.failed.with_label_values(&[kind]);
        self.outbox.latency.with_label_values(&[kind]);
    }

    pub fn outbox_pending(&self, kind: &str, pending: i64) {
        self.outbox.pending.with_label_values(&[kind]).set(pending);
    }

    pub fn outbox_delivered(&self, kind: &str, latency_secs: f64) {
        self.outbox.delivered.with_label_values(&[kind]).inc();
        self.outbox
            .latency
            .with_label_values(&[kind])
            .observe(latency_secs);
    }

    pub fn outbox_failed(&self, kind: &str) {
        self.outbox.failed.with_label_values(&[kind]).inc();
    }

    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests.record(route, method, status, seconds);
    }

    pub fn token_issued(&self, kind: TokenKind) {
        self.tokens_issued.with_label_values(&[kind.label()]).inc();
    }

    pub fn login_failed(&self, endpoint: &'static str) {
        self.login_failures.with_label_values(&[endpoint]).inc();
    }

    pub fn login_throttled(&self, endpoint: &'static str) {
        self.login_throttled.with_label_values(&[endpoint]).inc();
    }

    /// A spent refresh token came back: `revoked` when its family was revoked, else it was
    /// the immediate predecessor inside the grace window.
    pub fn refresh_reuse(&self, revoked: bool) {
        let outcome = if revoked {
            "family_revoked"
        } else {
            "grace_replay"
        };
        self.refresh_reuse.with_label_values(&[outcome]).inc();
    }

    /// The Prometheus text exposition, with the gauges set from `gauges`.
    pub fn render(&self, gauges: Gauges) -> Vec<u8> {
        // The key store and the log writer count; the counters catch up with them (all
        // only ever grow).
        catch_up(&self.key_rotations, gauges.key_rotations);
        catch_up(&self.log_lines_dropped, gauges.log_lines_dropped);
        self.key_age.set(gauges.current_key_age_secs.max(0));
        self.pool
            .with_label_values(&["max"])
            .set(i64::from(gauges.pool_max));
        self.pool
            .with_label_values(&["open"])
            .set(i64::from(gauges.pool_open));
        self.pool
            .with_label_values(&["idle"])
            .set(i64::from(gauges.pool_idle));
        let mut out = Vec::with_capacity(8 * 1024);
        // Encoding into a Vec cannot fail for the text format; an empty answer is the worst case.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        let mut text = String::with_capacity(8 * 1024);
        self.requests.render(&mut text);
        out.extend_from_slice(text.as_bytes());
        out
    }
}

fn catch_up(counter: &IntCounter, total: u64) {
    let counted = counter.get();
    if total > counted {
        counter.inc_by(total - counted);
    }
}
