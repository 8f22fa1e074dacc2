//! A resource server that trusts Gatehouse's access tokens without asking Gatehouse about
//! each request: it verifies them against the JWKS, as any downstream service would.
//!
//!     cargo run --example resource_server -- --issuer https://id.example.com \
//!         [--audience https://id.example.com] [--bind 127.0.0.1:8000] [--min-refetch-secs 5]
//!
//! `GET /whoami` with `Authorization: Bearer <access token>` answers `200 {"sub", "user_id",
//! "client_id", "scope"}`, or `401 {"error", "error_description"}` with a `WWW-Authenticate`
//! challenge (RFC 6750). What it checks:
//! - the signature, with the published key named by `kid` and that key's algorithm
//!   (RS256, ES256 or EdDSA, from the JWK's `alg`): the key decides, never the token's
//!   header (RFC 8725 §3.1);
//! - `typ` is `at+jwt` (RFC 9068), so a refresh token or an id_token is no access token;
//! - `iss` is the issuer, `aud` the audience (default: the issuer), `exp` not passed
//!   (30 s leeway for clock skew).
//!
//! The JWKS is cached for as long as its `Cache-Control: max-age` says, then revalidated
//! with `If-None-Match`. A token with a `kid` not in the cache makes it refetch at once
//! (Gatehouse publishes a key before it signs, so this is rare), but at most once every
//! `--min-refetch-secs` seconds, so tokens with made-up key ids cannot make it hammer
//! Gatehouse. After an emergency key revocation, tokens of the revoked key stop verifying
//! here once the cached JWKS expires (`JWKS_MAX_AGE`, 300 s by default).
//!
//! It prints `listening on http://ADDRESS` on stdout once it accepts connections.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;

const LEEWAY_SECS: u64 = 30;
/// Used when the JWKS answer has no `max-age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

struct Options {
    issuer: String,
    audience: String,
    bind: String,
    min_refetch: Duration,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let (mut issuer, mut audience, mut bind, mut min_refetch) =
        (None, None, "127.0.0.1:8000".to_string(), 5);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--issuer" => issuer = Some(value()?.trim_end_matches('/').to_string()),
            "--audience" => audience = Some(value()?),
            "--bind" => bind = value()?,
            "--min-refetch-secs" => {
                min_refetch = value()?.parse().map_err(|_| "not a number of seconds")?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let issuer = issuer.ok_or("--issuer is required")?;
    Ok(Options {
        audience: audience.unwrap_or_else(|| issuer.clone()),
        issuer,
        bind,
        min_refetch: Duration::from_secs(min_refetch),
    })
}

/// The published keys, as last fetched.
struct Cache {
    /// Each published key with the algorithm its JWK names.
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    etag: Option<String>,
    fresh_until: Instant,
    /// When a token's unknown `kid` last made us refetch.
    last_unknown_kid_fetch: Option<Instant>,
}

struct Verifier {
    http: reqwest::Client,
    jwks_url: String,
    validation: Validation,
    min_refetch: Duration,
    cache: Mutex<Cache>,
}

/// The claims this service uses; the signature and `iss`, `aud`, `exp` are checked by
/// `jsonwebtoken` before these are read.
#[derive(Deserialize, serde::Serialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    user_id: Option<serde_json::Value>,
    client_id: String,
    #[serde(default)]
    scope: String,
}

impl Verifier {
    fn new(options: &Options) -> Verifier {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&options.issuer]);
        validation.set_audience(&[&options.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        // reqwest's TLS is rustls without a built-in provider (Gatehouse's own build picks
        // aws-lc-rs, as its signing does): install it before the first client.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Verifier {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            jwks_url: format!("{}/.well-known/jwks.json", options.issuer),
            validation,
            min_refetch: options.min_refetch,
            cache: Mutex::new(Cache {
                keys: HashMap::new(),
                etag: None,
                fresh_until: Instant::now(),
                last_unknown_kid_fetch: None,
            }),
        }
    }

    async fn verify(&self, token: &str) -> Result<Claims, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        // RFC 9068 §4: `at+jwt` (or `application/at+jwt`), whatever the case.
        let typ = header
            .typ
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if typ != "at+jwt" && typ != "application/at+jwt" {
            return Err("not an access token (typ is not at+jwt)".into());
        }
        let kid = header.kid.ok_or("the token names no key (kid)")?;
        let (alg, key) = self.key(&kid).await?;
        let mut validation = self.validation.clone();
        validation.algorithms = vec![alg];
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }

    /// The key named `kid`, from the cache while it is fresh.
    async fn key(&self, kid: &str) -> Result<(Algorithm, DecodingKey), String> {
        // One fetch at a time: requests arriving during a fetch wait for its result.
        let mut cache = self.cache.lock().await;
        if Instant::now() >= cache.fresh_until {
            if let Err(e) = self.fetch(&mut cache).await {
                // A stale key set beats none while Gatehouse is unreachable.
                eprintln!("JWKS refresh failed, keeping the cached keys: {e}");
            }
        }
        if let Some(key) = cache.keys.get(kid) {
            return Ok(key.clone());
        }
        let may_refetch = cache
            .last_unknown_kid_fetch
            .is_none_or(|at| at.elapsed() >= self.min_refetch);
        if may_refetch {
            cache.last_unknown_kid_fetch = Some(Instant::now());
            self.fetch(&mut cache).await?;
            if let Some(key) = cache.keys.get(kid) {
                return Ok(key.clone());
            }
        }
        Err(format!("no published key {kid}"))
    }

    async fn fetch(&self, cache: &mut Cache) -> Result<(), String> {
        let mut request = self.http.get(&self.jwks_url);
        if let Some(etag) = &cache.etag {
            request = request.header(header::IF_NONE_MATCH.as_str(), etag.as_str());
        }
        let resp = request.send().await.map_err(|e| e.to_string())?;
        let max_age = max_age(resp.headers().get(header::CACHE_CONTROL.as_str()));
        cache.fresh_until = Instant::now() + max_age;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(());
        }
        if !resp.status().is_success() {
            return Err(format!("the JWKS answered {}", resp.status()));
        }
        cache.etag = resp
            .headers()
            .get(header::ETAG.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let set: JwkSet = resp.json().await.map_err(|e| e.to_string())?;
        cache.keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                // Only the algorithms Gatehouse signs with; a key naming none is skipped.
                let alg = match jwk.common.key_algorithm? {
                    KeyAlgorithm::RS256 => Algorithm::RS256,
                    KeyAlgorithm::ES256 => Algorithm::ES256,
                    KeyAlgorithm::EdDSA => Algorithm::EdDSA,
                    _ => return None,
                };
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, (alg, key)))
            })
            .collect();
        Ok(())
    }
}

/// `max-age` of a `Cache-Control` value; nothing cached for `no-store` or `no-cache`.
fn max_age(value: Option<&reqwest::header::HeaderValue>) -> Duration {
    let Some(text) = value.and_then(|v| v.to_str().ok()) else {
        return DEFAULT_MAX_AGE;
    };
    let mut age = DEFAULT_MAX_AGE;
    for directive in text.split(',').map(str::trim) {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return Duration::ZERO;
        }
        if let Some(secs) = directive.strip_prefix("max-age=") {
            age = secs
                .parse()
                .map(Duration::from_secs)
                .unwrap_or(Duration::ZERO);
        }
    }
    age
}

async fn whoami(verifier: web::Data<Verifier>, req: HttpRequest) -> HttpResponse {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .json(serde_json::json!({"error": "invalid_request", "error_description": "a bearer token is required"}));
    };
    match verifier.verify(token).await {
        Ok(claims) => HttpResponse::Ok().json(claims),
        Err(why) => HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#))
            .json(serde_json::json!({"error": "invalid_token", "error_description": why})),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let options = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let verifier = web::Data::new(Verifier::new(&options));
    let listener = std::net::TcpListener::bind(&options.bind)?;
    let address = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .route("/whoami", web::get().to(whoami))
    })
    .workers(1)
    .listen(listener)?
    .run();
    println!("listening on http://{address}");
    std::io::stdout().flush()?;
    server.await
}
