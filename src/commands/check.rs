//! `gatehouse check`: the settings, the clients file, the database, the master key and the signing keys, as
//! the server would meet them at start, said in plain words. It changes nothing: no file,
//! database or key is created. Exit status 0 when nothing is wrong (warnings allowed), 1
//! when something would stop the server or break tokens.

use std::path::Path;

use crate::config::{Settings, SettingsArgs};
use crate::db::{migrate, repo, DatabaseUrl, Db};
use crate::domain::utc_datetime;
use crate::keys::encryption::{MasterKey, MasterKeys};
use crate::keys::lifecycle::{KeyRecord, KeyState};
use crate::keys::Alg;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warning,
    Problem,
}

#[derive(Default)]
struct Report {
    problems: usize,
    warnings: usize,
}

impl Report {
    fn say(&mut self, level: Level, topic: &str, text: &str) {
        let tag = match level {
            Level::Ok => "ok     ",
            Level::Warning => {
                self.warnings += 1;
                "warning"
            }
            Level::Problem => {
                self.problems += 1;
                "PROBLEM"
            }
        };
        println!("{tag}  {topic}: {text}");
    }
}

pub async fn run(args: &SettingsArgs) -> anyhow::Result<()> {
    let mut report = Report::default();
    match Settings::from_args(args) {
        Ok(settings) => check(&settings, &mut report).await,
        Err(e) => report.say(Level::Problem, "settings", &format!("{e:#}")),
    }
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    if report.problems > 0 {
        anyhow::bail!(
            "{} and {} found",
            plural(report.problems, "problem"),
            plural(report.warnings, "warning")
        );
    }
    println!(
        "gatehouse check: ready to serve ({})",
        plural(report.warnings, "warning")
    );
    Ok(())
}

async fn check(settings: &Settings, report: &mut Report) {
    report.say(
        Level::Ok,
        "settings",
        &format!(
            "issuer {}, listening on {}, {}-bit RSA keys, signing with {}",
            settings.issuer,
            settings.bind,
            settings.key_size,
            settings
                .signing_algs
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    if settings.issuer.starts_with("http://") && !loopback_issuer(&settings.issuer) {
        report.say(
            Level::Warning,
            "settings",
            "the issuer is http:// on a public name: tokens and cookies would cross the network unencrypted; use https:// behind a proxy",
        );
    }
    clients_file(settings, report);
    let Some(db) = database(settings, report).await else {
        return;
    };
    let master = master_key(settings, &db, report).await;
    keys(settings, &db, master.as_ref(), report).await;
    client_algorithms(settings, &db, report).await;
    admins(settings, &db, report).await;
}

/// Every client's chosen algorithms are in `SIGNING_ALGS`: a setting that drops one leaves
/// the client's tokens with no key to sign them (its token requests fail until it changes).
async fn client_algorithms(settings: &Settings, db: &Db, report: &mut Report) {
    let clients = match db.run(repo::clients::list).await {
        Ok(clients) => clients,
        Err(e) => {
            report.say(Level::Problem, "clients", &format!("cannot be read: {e}"));
            return;
        }
    };
    let kept = |alg: &Alg| settings.signing_algs.contains(alg);
    let mut stranded = Vec::new();
    for c in &clients {
        if let Some(alg) = c.access_token_alg.filter(|a| !kept(a)) {
            stranded.push(format!("{} (access_token_alg {alg})", c.client_id));
        }
        if !kept(&c.id_token_alg) {
            stranded.push(format!("{} (id_token_alg {})", c.client_id, c.id_token_alg));
        }
    }
    if stranded.is_empty() {
        report.say(
            Level::Ok,
            "clients",
            "every client's signing algorithms are in SIGNING_ALGS",
        );
    } else {
        report.say(
            Level::Problem,
            "clients",
            &format!(
                "these clients use an algorithm SIGNING_ALGS no longer lists, so their tokens cannot be signed: {}; add it back or change the clients",
                stranded.join(", ")
            ),
        );
    }
}

/// Somebody can administer the server; if not, the command that makes the first admin.
async fn admins(settings: &Settings, db: &Db, report: &mut Report) {
    match db.run(repo::users::any_enabled_admin).await {
        Ok(true) => report.say(Level::Ok, "users", "an enabled admin exists"),
        Ok(false) => report.say(
            Level::Warning,
            "users",
            &format!(
                "{}; the login page is {}/login, the console {}/console",
                crate::startup::FIRST_STEPS,
                settings.issuer,
                settings.issuer
            ),
        ),
        Err(e) => report.say(Level::Problem, "users", &format!("cannot be read: {e}")),
    }
}

/// `CLIENTS_FILE` read and checked as a start would (its environment variables too).
fn clients_file(settings: &Settings, report: &mut Report) {
    let Some(path) = &settings.clients_file else {
        return;
    };
    let env = |name: &str| std::env::var(name).ok();
    match crate::accounts::clients_file::read(
        path,
        &env,
        0,
        crate::db::alg::AlgSet::of(&settings.signing_algs),
        &settings.issuer,
    ) {
        Ok(clients) => report.say(
            Level::Ok,
            "clients file",
            &format!("{} declares {} clients", path.display(), clients.len()),
        ),
        Err(e) => report.say(Level::Problem, "clients file", &e.to_string()),
    }
}

fn loopback_issuer(issuer: &str) -> bool {
    let host = issuer
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    host == "localhost" || host.starts_with("127.") || issuer.starts_with("http://[::1]")
}

/// The database answers and its schema is known; `None` when there is nothing further to
/// check there (unreachable, or not created yet).
async fn database(settings: &Settings, report: &mut Report) -> Option<Db> {
    let shown = settings.database_url.redacted();
    if let DatabaseUrl::Sqlite(path) = &settings.database_url {
        if !Path::new(path).exists() {
            report.say(
                Level::Warning,
                "database",
                &format!("{shown} does not exist yet; the first start (or `gatehouse migrate`) creates it"),
            );
            return None;
        }
    }
    let db = match Db::new(&settings.database_url, 1, settings.db_timeout) {
        Ok(db) => db,
        Err(e) => {
            report.say(Level::Problem, "database", &format!("{shown}: {e}"));
            return None;
        }
    };
    match db.run(migrate::pending).await {
        Ok(0) => report.say(Level::Ok, "database", &format!("{shown} answers; the schema is up to date")),
        Ok(n) => report.say(
            Level::Warning,
            "database",
            &format!("{shown} answers; {n} migrations are pending, which the next start (or `gatehouse migrate`) applies"),
        ),
        Err(e) => {
            report.say(
                Level::Problem,
                "database",
                &format!("{shown} cannot be used: {e}"),
            );
            return None;
        }
    }
    Some(db)
}

/// The master key can be read, is private, and is the one the database was sealed with.
async fn master_key(settings: &Settings, db: &Db, report: &mut Report) -> Option<MasterKeys> {
    let sealed_keys = db.run(repo::keys::count).await.unwrap_or(0);
    let current = match &settings.master_key {
        Some(b64) => match MasterKey::from_base64(b64.expose()) {
            Ok(k) => k,
            Err(_) => {
                report.say(
                    Level::Problem,
                    "master key",
                    "GATEHOUSE_MASTER_KEY is not 32 bytes of base64",
                );
                return None;
            }
        },
        None => {
            let path = &settings.master_key_file;
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    match MasterKey::from_base64(&text) {
                        Ok(k) => {
                            if let Some(mode) = loose_mode(path) {
                                report.say(
                                Level::Problem,
                                "master key",
                                &format!("{} can be read by others (mode {mode:o}); run `chmod 600 {}`", path.display(), path.display()),
                            );
                            }
                            k
                        }
                        Err(_) => {
                            report.say(
                                Level::Problem,
                                "master key",
                                &format!("{} does not hold 32 bytes of base64", path.display()),
                            );
                            return None;
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && sealed_keys == 0 => {
                    report.say(
                        Level::Warning,
                        "master key",
                        &format!(
                            "{} does not exist yet; the first start creates it",
                            path.display()
                        ),
                    );
                    return None;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    report.say(
                        Level::Problem,
                        "master key",
                        &format!(
                            "{} is missing, but the database holds {sealed_keys} keys sealed under a master key; restore the file or set GATEHOUSE_MASTER_KEY",
                            path.display()
                        ),
                    );
                    return None;
                }
                Err(e) => {
                    report.say(
                        Level::Problem,
                        "master key",
                        &format!("cannot read {}: {e}", path.display()),
                    );
                    return None;
                }
            }
        }
    };
    let previous = settings
        .master_key_previous
        .as_ref()
        .and_then(|b64| MasterKey::from_base64(b64.expose()).ok());
    let keys = MasterKeys { current, previous };
    let stored = db
        .run(|conn| {
            Ok::<_, crate::db::DbError>((
                repo::meta::get(conn, "master_key_id")?,
                repo::meta::get(conn, "master_key_check")?,
            ))
        })
        .await;
    match stored {
        Ok((Some(id), Some(check))) => {
            if keys.opens_check_value(&id, &check) {
                report.say(
                    Level::Ok,
                    "master key",
                    &format!(
                        "id {}, the one this database was sealed with",
                        keys.current.id()
                    ),
                );
            } else if let Some(staged) = staged_key(settings, &id, &check) {
                // What start-up adopts: see startup::adopt_staged_key.
                report.say(
                    Level::Warning,
                    "master key",
                    &format!(
                        "a master-key rotation stopped after re-sealing the database; the server uses the new key (id {id}) from {}; run `gatehouse master-key rotate` to finish",
                        crate::keys::encryption::next_path(&settings.master_key_file).display()
                    ),
                );
                return Some(MasterKeys {
                    current: staged,
                    previous: Some(keys.current),
                });
            } else {
                report.say(
                    Level::Problem,
                    "master key",
                    &format!(
                        "the master key (id {}) is not the one this database was sealed with (id {id}); the server would refuse to start",
                        keys.current.id()
                    ),
                );
                return None;
            }
        }
        Ok(_) => report.say(
            Level::Ok,
            "master key",
            &format!(
                "id {}; the first start records it in the database",
                keys.current.id()
            ),
        ),
        Err(e) => report.say(
            Level::Problem,
            "master key",
            &format!("cannot read its check value: {e}"),
        ),
    }
    Some(keys)
}

/// The key a `master-key rotate` staged in `MASTER_KEY_FILE.next`, when the database is
/// sealed under it (the rotation stopped after its commit); only with a key file.
fn staged_key(settings: &Settings, stored_id: &str, check: &str) -> Option<MasterKey> {
    if settings.master_key.is_some() {
        return None;
    }
    let path = crate::keys::encryption::next_path(&settings.master_key_file);
    crate::keys::encryption::read_key_file(&path)
        .filter(|k| k.id() == stored_id && crate::keys::encryption::opens_check_value(k, check))
}

/// Group or other permission bits on the master key file.
fn loose_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// One current key, a next and a standby key, every sealed key opening under the master key.
async fn keys(settings: &Settings, db: &Db, master: Option<&MasterKeys>, report: &mut Report) {
    let records = match db.run(repo::keys::list).await {
        Ok(r) => r,
        Err(e) => {
            report.say(
                Level::Problem,
                "signing keys",
                &format!("cannot be read: {e}"),
            );
            return;
        }
    };
    if records.is_empty() {
        report.say(
            Level::Warning,
            "signing keys",
            "none yet; the first start generates them",
        );
        return;
    }
    // Each algorithm of SIGNING_ALGS has its own line.
    for alg in &settings.signing_algs {
        let topic = format!("{alg} signing keys");
        let find = |state: KeyState| {
            records
                .iter()
                .filter(|k| k.alg == *alg && k.state == state)
                .collect::<Vec<&KeyRecord>>()
        };
        match find(KeyState::Current).as_slice() {
            [current] => {
                report.say(
                    Level::Ok,
                    &topic,
                    &format!(
                        "current {} ({} bits, signing since {})",
                        current.kid,
                        current.bits,
                        current
                            .activated_at
                            .map(crate::domain::utc_datetime)
                            .unwrap_or_else(|| "-".into())
                    ),
                );
                if *alg == Alg::Rs256 && current.bits as usize != settings.key_size {
                    report.say(
                        Level::Warning,
                        &topic,
                        &format!(
                            "the current key has {} bits and KEY_SIZE is {}: keys generated from now on have {}",
                            current.bits, settings.key_size, settings.key_size
                        ),
                    );
                }
            }
            [] => report.say(
                Level::Problem,
                &topic,
                "no current key: nothing can sign; the next start generates one",
            ),
            many => report.say(
                Level::Problem,
                &topic,
                &format!("{} keys are current; exactly one may be", many.len()),
            ),
        }
        for waiting in [KeyState::Next, KeyState::Standby] {
            let name = waiting.as_str();
            match find(waiting).first() {
                Some(key) => report.say(
                    Level::Ok,
                    &topic,
                    &format!(
                        "{name} {} published since {}",
                        key.kid,
                        utc_datetime(key.created_at)
                    ),
                ),
                None => report.say(
                    Level::Warning,
                    &topic,
                    &format!("no {name} key is published; the next start generates one"),
                ),
            }
        }
    }
    let Some(master) = master else {
        return;
    };
    match db.run(repo::keys::all_sealed).await {
        Ok(sealed) => {
            let closed: Vec<String> = sealed
                .iter()
                .filter(|(kid, sealed, id)| master.open(id, sealed, kid.as_bytes()).is_err())
                .map(|(kid, _, id)| format!("{kid} (sealed under master key {id})"))
                .collect();
            if closed.is_empty() {
                report.say(
                    Level::Ok,
                    "signing keys",
                    &format!("all {} private keys open with the master key", sealed.len()),
                );
            } else {
                report.say(
                    Level::Problem,
                    "signing keys",
                    &format!(
                        "these private keys do not open with the master key: {}; set GATEHOUSE_MASTER_KEY_PREVIOUS to the key they were sealed with",
                        closed.join(", ")
                    ),
                );
            }
        }
        Err(e) => report.say(
            Level::Problem,
            "signing keys",
            &format!("cannot be read: {e}"),
        ),
    }
}
