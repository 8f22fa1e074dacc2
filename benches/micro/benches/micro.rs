//! The building blocks of the hot endpoints, one at a time: signing and verifying an access
//! token, building the JWKS document and serving it through the full middleware stack,
//! hashing a password in a reused memory block, and parsing a token request.
//!
//! A server with a fresh SQLite database in a temporary directory provides real keys.

use std::net::TcpListener;

use actix_web::http::header::ContentType;
use actix_web::{middleware, test, web, App};
use criterion::{criterion_group, criterion_main, Criterion};

use gatehouse::clock::Clock;
use gatehouse::config::{Settings, SettingsArgs};
use gatehouse::startup::Application;
use gatehouse::state::AppState;
use gatehouse::tokens::claims::Subject;
use gatehouse::tokens::verify::Verifier;

struct Fixture {
    _dir: tempfile::TempDir,
    settings: Settings,
    state: AppState,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let args = SettingsArgs {
        bind: Some(format!("127.0.0.1:{port}")),
        issuer: Some(format!("http://127.0.0.1:{port}")),
        database_url: Some(format!("sqlite://{}/bench.db", dir.path().display())),
        master_key_file: Some(format!("{}/master.key", dir.path().display())),
        workers: Some("1".into()),
        hash_workers: Some("1".into()),
        log_format: Some("text".into()),
        ..Default::default()
    };
    let settings = Settings::from_args(&args).expect("settings");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let app = runtime
        .block_on(Application::build_on(
            settings.clone(),
            listener,
            Clock::system(),
            gatehouse::keys::rotation::generator(),
        ))
        .expect("application");
    let state = app.state().clone();
    Fixture {
        _dir: dir,
        settings,
        state,
        runtime,
    }
}

fn subject() -> Subject {
    Subject {
        sub: "0b7c9b4e-3f0e-4d0a-9f57-6c1f4f3e2a11".into(),
        user_id: Some("42".into()),
        client_id: "simplejwt".into(),
        scope: "openid profile email".into(),
        audience: "http://127.0.0.1:8080".into(),
    }
}

fn tokens(c: &mut Criterion, f: &Fixture) {
    let keys = f.state.keys.store.snapshot();
    let signer = keys.signer(gatehouse::keys::Alg::Rs256).expect("a signing key");
    let issuer = f.settings.issuer.as_str();
    let now = f.state.clock.now();
    c.bench_function("sign an access token", |b| {
        b.iter(|| {
            gatehouse::tokens::issue::access_token(signer, issuer, &subject(), now, 300)
                .expect("signed")
        })
    });
    let (token, _) = gatehouse::tokens::issue::access_token(signer, issuer, &subject(), now, 300)
        .expect("signed");
    c.bench_function("verify an access token", |b| {
        b.iter(|| {
            let verifier = Verifier {
                keys: &f.state.keys.store.snapshot(),
                issuer,
                leeway_secs: 30,
                now,
            };
            verifier.access(&token).expect("valid")
        })
    });
}

fn jwks(c: &mut Criterion, f: &Fixture) {
    let keys = f.state.keys.store.snapshot();
    let published: Vec<_> = keys.records.iter().collect();
    c.bench_function("build the JWKS document", |b| {
        b.iter(|| gatehouse::keys::jwks::build_body(&published))
    });
    // The same App as `startup.rs`: middleware, routes and the data they read.
    let service = f.runtime.block_on(test::init_service(
        App::new()
            .app_data(web::Data::new(f.state.clone()))
            .app_data(web::Data::new(gatehouse::http::cors::CorsPolicy::new(
                &f.settings.cors_origins,
            )))
            .app_data(web::Data::new(
                gatehouse::http::health::JwksCacheControl::new(f.settings.jwks_max_age),
            ))
            .wrap(middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
            .wrap(middleware::from_fn(
                gatehouse::http::middleware::log_request,
            ))
            .configure(gatehouse::http::routes),
    ));
    c.bench_function("serve the JWKS (middleware + handler)", |b| {
        b.iter(|| {
            f.runtime.block_on(async {
                let req = test::TestRequest::get()
                    .uri("/.well-known/jwks.json")
                    .to_request();
                let resp = test::call_service(&service, req).await;
                assert!(resp.status().is_success());
                test::read_body(resp).await
            })
        })
    });
}

fn passwords(c: &mut Criterion) {
    let mut memory = gatehouse::passwords::new_memory();
    let mut group = c.benchmark_group("passwords");
    group.sample_size(10);
    group.bench_function("hash a password (argon2id, reused memory)", |b| {
        b.iter(|| gatehouse::passwords::hash_in("correct horse battery", &mut memory))
    });
    group.finish();
}

fn token_request(c: &mut Criterion) {
    let req = test::TestRequest::post()
        .uri("/token")
        .insert_header(ContentType::form_url_encoded())
        .to_http_request();
    let body = b"grant_type=refresh_token&refresh_token=eyJhbGciOiJSUzI1NiIsInR5cCI6InJ0K2p3dCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl&client_id=web&scope=openid%20profile";
    c.bench_function("parse a token request (form)", |b| {
        b.iter(|| {
            gatehouse::http::body::parse::<gatehouse::http::oauth::TokenForm>(&req, body, true)
                .expect("parsed")
        })
    });
}

fn all(c: &mut Criterion) {
    let f = fixture();
    tokens(c, &f);
    jwks(c, &f);
    passwords(c);
    token_request(c);
}

criterion_group!(benches, all);
criterion_main!(benches);
