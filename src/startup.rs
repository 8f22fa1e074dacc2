//! Building the application: database and migrations, master key, signing keys, the
//! background key upkeep and housekeeping, and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpResponse, HttpServer};

use crate::accounts::login_guard::LoginGuard;
use crate::accounts::{clients_file, Accounts};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::alg::AlgSet;
use crate::db::{migrate, repo, Db};
use crate::housekeeping::Housekeeping;
use crate::keys::encryption::{self, MasterKey, MasterKeys};
use crate::keys::manager::Keys;
use crate::keys::rotation::{self, KeyGenerator};
use crate::keys::store::KeyStore;
use crate::outbox::Outbox;
use crate::passwords::Hasher;
use crate::policies;
use crate::sso::backchannel::deliver::BackchannelDeliverer;
use crate::sso::Sso;
use crate::state::AppState;
use crate::tokens::Tokens;

/// The outbox's deliverer of mail, when `SMTP_URL` is set.
fn mail_deliverer(
    settings: &Settings,
    accounts: &Accounts,
) -> anyhow::Result<Option<crate::accounts::mail_delivery::MailDeliverer>> {
    let Some(smtp) = &settings.smtp else {
        return Ok(None);
    };
    let issuer_host = crate::mail::messages::issuer_name(&settings.issuer);
    let hello = issuer_host.split(':').next().unwrap_or("localhost");
    let mailer = crate::mail::Mailer::new(smtp, hello)
        .map_err(|e| anyhow::anyhow!("setting smtp_url: {e}"))?;
    Ok(Some(crate::accounts::mail_delivery::MailDeliverer {
        accounts: accounts.clone(),
        mailer,
        issuer: settings.issuer.clone(),
        reset_limits: settings.reset_throttle,
    }))
}

/// Opens the pool and applies pending migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::new(
        &settings.database_url,
        settings.db_pool_size,
        settings.db_timeout,
    )?;
    let applied = db
        .run(migrate::run_pending)
        .await
        .map_err(|e| anyhow::anyhow!("cannot migrate {:?}: {e}", settings.database_url))?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(db)
}

/// Loads the master key (environment, then file; created only while the database holds no
/// sealed keys) and checks it against the id and check value stored in the database.
pub async fn load_master_keys(settings: &Settings, db: &Db) -> anyhow::Result<MasterKeys> {
    let sealed_keys = db.run(repo::keys::count).await?;
    let (current, previous) = configured_master_keys(settings, sealed_keys == 0)?;
    let (current, previous) = adopt_staged_key(settings, db, current, previous).await?;
    let keys = MasterKeys { current, previous };
    let probe = keys.clone();
    db.write(move |conn| {
        // Serialises instances starting together on PostgreSQL (SQLite's BEGIN IMMEDIATE
        // already does): the first stores the check value, the others verify against it
        // instead of racing to insert it.
        repo::meta::lock_key_rotation(conn)?;
        let stored_id = repo::meta::get(conn, "master_key_id")?;
        let stored_check = repo::meta::get(conn, "master_key_check")?;
        match (stored_id, stored_check) {
            (Some(id), Some(check)) => {
                if !probe.opens_check_value(&id, &check) {
                    anyhow::bail!(
                        "the master key (id {}) is not the one this database was sealed with (id {id}); \
                         refusing to start. Set GATEHOUSE_MASTER_KEY or GATEHOUSE_MASTER_KEY_FILE to the right key",
                        probe.current.id()
                    );
                }
                Ok(())
            }
            _ => {
                use base64::Engine;
                let check = probe.current.seal(encryption::CHECK_PLAINTEXT, b"check");
                repo::meta::set(conn, "master_key_id", probe.current.id())?;
                repo::meta::set(conn, "master_key_check", &base64::engine::general_purpose::STANDARD.encode(check))?;
                Ok(())
            }
        }
    })
    .await?;
    Ok(keys)
}

/// The master key the settings name (`GATEHOUSE_MASTER_KEY`, else the key file, created
/// only when `may_create`) and the previous one (`GATEHOUSE_MASTER_KEY_PREVIOUS`).
pub fn configured_master_keys(
    settings: &Settings,
    may_create: bool,
) -> anyhow::Result<(MasterKey, Option<MasterKey>)> {
    let current = match &settings.master_key {
        Some(b64) => MasterKey::from_base64(b64.expose())
            .map_err(|_| anyhow::anyhow!("GATEHOUSE_MASTER_KEY is not 32 bytes of base64"))?,
        None => encryption::read_or_create_file(&settings.master_key_file, may_create)?,
    };
    let previous = match &settings.master_key_previous {
        Some(b64) => Some(MasterKey::from_base64(b64.expose()).map_err(|_| {
            anyhow::anyhow!("GATEHOUSE_MASTER_KEY_PREVIOUS is not 32 bytes of base64")
        })?),
        None => None,
    };
    Ok((current, previous))
}

/// A `master-key rotate` that stopped after its transaction committed but before the new
/// key file replaced the old one leaves the new key in `MASTER_KEY_FILE.next`, and the
/// database sealed under it. Start-up then uses that key (the old file's key stays readable
/// as the previous one), so a crash at any point of a rotation leaves a server that starts;
/// running `gatehouse master-key rotate` again finishes the job. A staged key that the
/// database does not name (the crash came before the commit) is ignored here.
async fn adopt_staged_key(
    settings: &Settings,
    db: &Db,
    current: MasterKey,
    previous: Option<MasterKey>,
) -> anyhow::Result<(MasterKey, Option<MasterKey>)> {
    if settings.master_key.is_some() {
        return Ok((current, previous));
    }
    let Some(stored) = db
        .run(|conn| repo::meta::get(conn, "master_key_id"))
        .await?
    else {
        return Ok((current, previous));
    };
    if current.id() == stored || previous.as_ref().is_some_and(|p| p.id() == stored) {
        return Ok((current, previous));
    }
    let staged_path = encryption::next_path(&settings.master_key_file);
    let staged = encryption::read_key_file(&staged_path).filter(|staged| staged.id() == stored);
    match staged {
        Some(staged) => {
            tracing::warn!(
                path = %staged_path.display(),
                key_id = staged.id(),
                "a master-key rotation was interrupted after the database was re-sealed; \
                 using the staged new key. Run `gatehouse master-key rotate` to finish it"
            );
            Ok((staged, previous.or(Some(current))))
        }
        None => Ok((current, previous)),
    }
}

/// Everything a key command needs: the database, the master key and the loaded key set.
pub async fn prepare(
    settings: &Settings,
    clock: Clock,
    generator: KeyGenerator,
) -> anyhow::Result<Keys> {
    let db = open_database(settings).await?;
    let master = load_master_keys(settings, &db).await?;
    let keys = Keys {
        db,
        store: Arc::new(KeyStore::new(master)),
        policy: policies::key_policy(settings),
        clock,
        generator,
    };
    keys.ensure_keys().await?;
    keys.reload().await?;
    Ok(keys)
}

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    outbox_task: tokio::task::JoinHandle<()>,
}

impl Application {
    /// The server on the system clock, listening on `BIND`.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        Application::build_on(settings, listener, Clock::system(), rotation::generator()).await
    }

    /// The server on a listener bound by the caller (so a test can bind port 0 and know the
    /// port before it sets the issuer), on `clock` and with new keys from `generator` (tests
    /// pass a manual clock and keys generated beforehand).
    pub async fn build_on(
        settings: Settings,
        listener: TcpListener,
        clock: Clock,
        generator: KeyGenerator,
    ) -> anyhow::Result<Application> {
        let settings = Arc::new(settings);
        // Checked whole before the database is touched: an invalid file changes nothing.
        let env = |name: &str| std::env::var(name).ok();
        let declared = match &settings.clients_file {
            Some(path) => Some((
                path,
                clients_file::read(
                    path,
                    &env,
                    clock.now(),
                    AlgSet::of(&settings.signing_algs),
                    &settings.issuer,
                )?,
            )),
            None => None,
        };
        let keys = prepare(&settings, clock.clone(), generator).await?;
        let db = keys.db.clone();
        let hasher = Hasher::new(settings.hash_workers);
        let metrics = Arc::new(crate::metrics::Metrics::new()?);
        let outbox = Outbox::new(
            db.clone(),
            clock.clone(),
            policies::outbox_policy(&settings),
            metrics.clone(),
        );
        let accounts = Accounts::new(
            db.clone(),
            hasher,
            clock.clone(),
            settings.password_policy,
            AlgSet::of(&settings.signing_algs),
        )
        .with_mail(settings.smtp.is_some())
        .with_outbox(outbox.waker());
        // Each kind of outgoing message registers its deliverer here, before the start:
        // `.register(kind, Arc::new(deliverer))`.
        let outbox = outbox.register(
            crate::sso::backchannel::KIND,
            Arc::new(BackchannelDeliverer::new(
                keys.store.clone(),
                db.clone(),
                clock.clone(),
                settings.issuer.clone(),
            )?),
        );
        let outbox = match mail_deliverer(&settings, &accounts)? {
            Some(mail) => outbox.register(crate::mail::KIND, Arc::new(mail)),
            None => outbox,
        };
        let mut sso = Sso::new(db.clone(), clock.clone(), policies::sso_policy(&settings));
        sso.outbox = outbox.waker();
        if let Some((path, declared)) = declared {
            apply_clients_file(&accounts, path, declared).await?;
        }
        tokio::spawn(keys.clone().run_maintenance());
        tokio::spawn(
            Housekeeping {
                db: db.clone(),
                clock: clock.clone(),
                retention: policies::retention(&settings),
            }
            .run(),
        );

        let listener_addr = listener.local_addr()?;
        let port = listener_addr.port();
        let outbox_task = outbox.start();
        let guard = LoginGuard::new(accounts.clone(), settings.login_throttle, metrics.clone());
        let state = AppState {
            discovery: crate::http::discovery::document(&settings.issuer, &settings.signing_algs),
            openapi: crate::http::openapi::document(&settings.issuer),
            mfa: crate::mfa::Mfa::new(
                db.clone(),
                keys.store.clone(),
                guard.clone(),
                clock.clone(),
                &settings.issuer,
            ),
            guard,
            accounts,
            tokens: Tokens::new(
                db.clone(),
                keys.store.clone(),
                policies::token_policy(&settings),
                clock.clone(),
                metrics.clone(),
            ),
            sso,
            outbox,
            settings: settings.clone(),
            db,
            keys,
            metrics,
            clock,
        };
        let app_state = web::Data::new(state.clone());
        let cors = web::Data::new(crate::http::cors::CorsPolicy::new(&settings.cors_origins));
        let jwks_cache = web::Data::new(crate::http::health::JwksCacheControl::new(
            settings.jwks_max_age,
        ));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(cors.clone())
                .app_data(jwks_cache.clone())
                .wrap(middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .wrap(middleware::from_fn(crate::http::middleware::log_request))
                .configure(crate::http::routes)
                .default_service(web::to(not_found))
        })
        .workers(settings.workers)
        // Each HTTP worker's blocking pool runs database work only (hashing has its own
        // threads): more threads than connections would only wait for one, and actix's
        // default (512 / cores per worker) lets a burst start hundreds of them.
        .worker_max_blocking_threads(blocking_threads(&settings))
        .listen(listener)?
        .run();
        let signers = state.keys.store.snapshot();
        let kid: Vec<String> = signers.signers().map(|s| s.kid.clone()).collect();
        let algs: Vec<&str> = signers.signers().map(|s| s.alg.as_str()).collect();
        tracing::info!(
            port,
            listen = %listener_addr,
            issuer = %settings.issuer,
            database = %settings.database_url.redacted(),
            kid = %kid.join(","),
            algs = %algs.join(","),
            "gatehouse is serving"
        );
        if !state.db.run(repo::users::any_enabled_admin).await? {
            tracing::warn!(
                login = %format!("{}/login", settings.issuer),
                console = %format!("{}/console", settings.issuer),
                "{}",
                FIRST_STEPS
            );
        }
        Ok(Application {
            port,
            server,
            state,
            outbox_task,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The services the server runs on, for in-process callers (the tests seed users and
    /// clients through them, and move their clock).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the server stops (a signal), then lets the outbox deliveries in
    /// flight finish: a message being sent is recorded, not left to its lease.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.state.outbox.shutdown();
        let _ = self.outbox_task.await;
        served
    }
}

/// Applies the clients `CLIENTS_FILE` declares, before the server listens.
async fn apply_clients_file(
    accounts: &Accounts,
    path: &std::path::Path,
    declared: Vec<clients_file::Declared>,
) -> anyhow::Result<()> {
    let plan = accounts.apply_clients_file(declared, false).await?;
    for change in &plan.changes {
        tracing::info!(file = %path.display(), "clients file: {change}");
    }
    tracing::info!(
        file = %path.display(),
        changed = plan.changes.len(),
        unchanged = plan.unchanged.len(),
        "clients file applied"
    );
    Ok(())
}

/// What a start without an admin says (and `gatehouse check`): the next step.
pub const FIRST_STEPS: &str =
    "no admin user yet: create the first with `gatehouse user add NAME --admin`, \
     then sign in to the console with it";

/// Blocking threads per runtime: one per pooled connection, plus a few for the readiness
/// probe and key work, which must not queue behind a busy pool.
pub fn blocking_threads(settings: &Settings) -> usize {
    settings.db_pool_size as usize + 4
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .json(serde_json::json!({ "error": "not_found", "error_description": "no such endpoint" }))
}
