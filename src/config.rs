//! Settings: defaults < TOML file (`--config`) < `GATEHOUSE_*` environment < flags.
//!
//! clap reads a flag or its environment variable into [`SettingsArgs`]; whatever neither
//! gives is taken from the TOML file, then from the default.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::accounts::password_policy::{PasswordPolicy, DEFAULT_MIN_LENGTH};
use crate::db::alg::{self, Alg};
use crate::db::DatabaseUrl;
use crate::domain::{parse_duration, CorsOrigins, LoginLimits, SecretString, TrustedProxies};
use crate::mail::transport::SMTP_TIMEOUT_RANGE;
use crate::mail::SmtpSettings;

macro_rules! settings_args {
    ($( $field:ident : $flag:literal, $env:literal, $default:expr, $help:literal; )*) => {
        /// Every setting, as a global flag with its `GATEHOUSE_*` variable.
        #[derive(clap::Args, Default, Clone)]
        pub struct SettingsArgs {
            /// TOML file with settings (keys are the setting names, lower or upper case).
            #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
            pub config: Option<PathBuf>,
            $(
                #[doc = $help]
                #[arg(long = $flag, global = true, env = $env, hide_env_values = true)]
                pub $field: Option<String>,
            )*
        }

        impl std::fmt::Debug for SettingsArgs {
            // The master keys and a database URL (which may carry a password) never print.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut d = f.debug_struct("SettingsArgs");
                d.field("config", &self.config);
                $(
                    let name = stringify!($field);
                    let secret = matches!(name, "master_key" | "master_key_previous" | "database_url" | "smtp_url");
                    match &self.$field {
                        Some(_) if secret => d.field(name, &"[REDACTED]"),
                        value => d.field(name, value),
                    };
                )*
                d.finish()
            }
        }

        impl SettingsArgs {
            /// The raw value of each setting after layering, by setting name.
            fn layered(&self, file: &BTreeMap<String, String>) -> BTreeMap<&'static str, Option<String>> {
                let mut out = BTreeMap::new();
                $(
                    let name = stringify!($field);
                    let value = self.$field.clone()
                        .or_else(|| file.get(name).cloned())
                        .or_else(|| { let d: Option<&str> = $default; d.map(str::to_string) });
                    out.insert(name, value);
                )*
                out
            }
        }
    };
}

settings_args! {
    bind: "bind", "GATEHOUSE_BIND", Some("127.0.0.1:8080"), "Listen address";
    issuer: "issuer", "GATEHOUSE_ISSUER", None, "The `iss` of every token and base of advertised URLs";
    database_url: "database-url", "GATEHOUSE_DATABASE_URL", Some("sqlite://data/gatehouse.db"), "sqlite://PATH or postgres://...";
    master_key_file: "master-key-file", "GATEHOUSE_MASTER_KEY_FILE", Some("keys/master.key"), "Key-encryption key file (created 0600 if missing)";
    master_key: "master-key", "GATEHOUSE_MASTER_KEY", None, "Master key, base64 (wins over the file)";
    master_key_previous: "master-key-previous", "GATEHOUSE_MASTER_KEY_PREVIOUS", None, "Previous master key, base64, read-only during a rollover";
    access_ttl: "access-ttl", "GATEHOUSE_ACCESS_TTL", Some("5m"), "Access token lifetime";
    refresh_ttl: "refresh-ttl", "GATEHOUSE_REFRESH_TTL", Some("24h"), "Refresh token lifetime";
    id_token_ttl: "id-token-ttl", "GATEHOUSE_ID_TOKEN_TTL", Some("1h"), "id_token lifetime";
    code_ttl: "code-ttl", "GATEHOUSE_CODE_TTL", Some("60s"), "Authorization code lifetime";
    session_ttl: "session-ttl", "GATEHOUSE_SESSION_TTL", Some("8h"), "Browser SSO session lifetime";
    refresh_grace: "refresh-grace", "GATEHOUSE_REFRESH_GRACE", Some("0s"), "Window in which the immediate predecessor refresh token returns the same successor";
    refresh_max_lifetime: "refresh-max-lifetime", "GATEHOUSE_REFRESH_MAX_LIFETIME", Some("30d"), "Absolute end of a refresh family";
    leeway: "leeway", "GATEHOUSE_LEEWAY", Some("30s"), "Clock skew allowed when checking exp";
    key_rotation_interval: "key-rotation-interval", "GATEHOUSE_KEY_ROTATION_INTERVAL", Some("30d"), "Automatic signing key rotation period";
    key_poll_interval: "key-poll-interval", "GATEHOUSE_KEY_POLL_INTERVAL", Some("2s"), "How often each instance re-reads the key set";
    jwks_max_age: "jwks-max-age", "GATEHOUSE_JWKS_MAX_AGE", Some("300s"), "Cache-Control max-age of the JWKS";
    key_size: "key-size", "GATEHOUSE_KEY_SIZE", Some("2048"), "RSA modulus bits: 2048, 3072 or 4096";
    signing_algs: "signing-algs", "GATEHOUSE_SIGNING_ALGS", Some("RS256"), "Signing algorithms to keep keys for, comma-separated: RS256, ES256, EdDSA";
    access_token_alg: "default-access-token-alg", "GATEHOUSE_ACCESS_TOKEN_ALG", Some("RS256"), "ACCESS_TOKEN_ALG: algorithm of access and refresh tokens for clients that choose none (one of SIGNING_ALGS); the flag is --default-… because `client add --access-token-alg` is a client's own";
    db_pool_size: "db-pool-size", "GATEHOUSE_DB_POOL_SIZE", Some("10"), "Database connections per instance";
    db_timeout: "db-timeout", "GATEHOUSE_DB_TIMEOUT", Some("5s"), "Longest wait for a database connection";
    hash_workers: "hash-workers", "GATEHOUSE_HASH_WORKERS", None, "Password hashing threads, each reusing one 19 MiB argon2 block: the most hashes at once (default: number of cores)";
    default_audience: "default-audience", "GATEHOUSE_DEFAULT_AUDIENCE", None, "`aud` of access tokens (default: the issuer)";
    trusted_proxies: "trusted-proxies", "GATEHOUSE_TRUSTED_PROXIES", Some(""), "Comma-separated proxy addresses or CIDR ranges whose forwarding headers are believed";
    log_format: "log-format", "GATEHOUSE_LOG_FORMAT", Some("text"), "text or json";
    workers: "workers", "GATEHOUSE_WORKERS", None, "HTTP worker threads (default: number of cores)";
    login_throttle: "login-throttle", "GATEHOUSE_LOGIN_THROTTLE", Some("5/15m,50/15m"), "Failed logins allowed per username and per client address, as N/window each";
    password_min_length: "password-min-length", "GATEHOUSE_PASSWORD_MIN_LENGTH", Some("12"), "Fewest characters of a new password (8 to 64; NIST SP 800-63B)";
    audit_retention: "audit-retention", "GATEHOUSE_AUDIT_RETENTION", Some("90d"), "How long audit records are kept";
    clients_file: "clients-file", "GATEHOUSE_CLIENTS_FILE", None, "TOML file declaring OAuth clients, applied at every start; the clients it declares can be changed only through it";
    smtp_url: "smtp-url", "GATEHOUSE_SMTP_URL", None, "SMTP server for mail (forgot-password and verification links): smtps://[user:password@]host[:465], smtp://…[:587] (STARTTLS required), or smtp://127.0.0.1:port?tls=none to a loopback relay; unset, no mail is sent and admins hand out reset links";
    smtp_from: "smtp-from", "GATEHOUSE_SMTP_FROM", None, "Sender of the mail, `Name <address>` or an address (required with smtp-url)";
    smtp_timeout: "smtp-timeout", "GATEHOUSE_SMTP_TIMEOUT", Some("15s"), "Longest a delivery to the SMTP server may take (1s to 25s), each step and all of it; a slower server's message is retried later";
    reset_throttle: "reset-throttle", "GATEHOUSE_RESET_THROTTLE", Some(crate::accounts::forgot::DEFAULT_RESET_THROTTLE), "Forgot-password links allowed per account and requests per client address, as N/window each";
    outbox_give_up_after: "outbox-give-up-after", "GATEHOUSE_OUTBOX_GIVE_UP_AFTER", Some("1d"), "How long an outgoing message (back-channel logout, mail) is retried before it is kept as failed";
    mfa_for_admins: "mfa-for-admins", "GATEHOUSE_MFA_FOR_ADMINS", Some("false"), "true: every admin signs in with a second factor (enrolling at the next sign-in if they have none), and the admin API and console refuse an admin token or session without one (RFC 9470)";
    cors_origins: "cors-origins", "GATEHOUSE_CORS_ORIGINS", Some(""), "Browser origins allowed to call the token endpoints, comma-separated, each exact (https://app.example.com); mark one `;credentials` to allow credentials mode";
}

/// Fully parsed settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    pub issuer: String,
    pub database_url: DatabaseUrl,
    pub master_key_file: PathBuf,
    pub master_key: Option<SecretString>,
    pub master_key_previous: Option<SecretString>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub id_token_ttl: Duration,
    pub code_ttl: Duration,
    pub session_ttl: Duration,
    pub refresh_grace: Duration,
    pub refresh_max_lifetime: Duration,
    pub leeway: Duration,
    pub key_rotation_interval: Duration,
    pub key_poll_interval: Duration,
    pub jwks_max_age: Duration,
    pub key_size: usize,
    /// The algorithms with a key line (`SIGNING_ALGS`), in [`Alg::ALL`] order.
    pub signing_algs: Vec<Alg>,
    /// Access and refresh tokens of clients that name no algorithm (`ACCESS_TOKEN_ALG`).
    pub access_token_alg: Alg,
    pub db_pool_size: u32,
    pub db_timeout: Duration,
    pub hash_workers: usize,
    pub default_audience: String,
    pub trusted_proxies: TrustedProxies,
    pub log_format: LogFormat,
    pub workers: usize,
    /// Failed logins allowed per username, then per client address.
    pub login_throttle: LoginLimits,
    pub audit_retention: Duration,
    /// What a new password must meet (`PASSWORD_MIN_LENGTH`).
    pub password_policy: PasswordPolicy,
    /// Origins whose browser apps may call the token endpoints (CORS).
    pub cors_origins: CorsOrigins,
    /// Clients declared in TOML, applied at start (`accounts::clients_file`).
    pub clients_file: Option<PathBuf>,
    /// The SMTP server and sender (`SMTP_URL`, `SMTP_FROM`); none, no mail is sent.
    pub smtp: Option<SmtpSettings>,
    /// Forgot-password links per account, then requests per client address.
    pub reset_throttle: LoginLimits,
    /// How long the outbox retries a message (`crate::outbox`).
    pub outbox_give_up_after: Duration,
    /// `MFA_FOR_ADMINS`: admins need a second factor (`policies::sso_policy`).
    pub mfa_for_admins: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    /// The longest lifetime of anything a signing key signs: how long a retired key stays
    /// published (plus leeway).
    pub fn longest_token_lifetime(&self) -> Duration {
        self.access_ttl.max(self.refresh_ttl).max(self.id_token_ttl)
    }

    pub fn from_args(args: &SettingsArgs) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(path) => read_toml(path)?,
            None => BTreeMap::new(),
        };
        let raw = args.layered(&file);
        let get = |name: &str| raw.get(name).cloned().flatten();
        let dur = |name: &str| -> anyhow::Result<Duration> {
            let v = get(name).unwrap_or_default();
            parse_duration(&v).map_err(|e| anyhow::anyhow!("setting {name}: {e}"))
        };
        let num = |name: &str| -> anyhow::Result<Option<u64>> {
            get(name)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| anyhow::anyhow!("setting {name}: {v:?} is not a number"))
                })
                .transpose()
        };

        let bind = get("bind").unwrap_or_default();
        let issuer = get("issuer")
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_string();
        if !(issuer.starts_with("http://") || issuer.starts_with("https://")) {
            anyhow::bail!("setting issuer: must be an http:// or https:// URL");
        }
        let database_url: DatabaseUrl = get("database_url")
            .unwrap_or_default()
            .parse()
            .map_err(|e| anyhow::anyhow!("setting database_url: {e}"))?;
        let key_size = num("key_size")?.unwrap_or(2048) as usize;
        if ![2048, 3072, 4096].contains(&key_size) {
            anyhow::bail!("setting key_size: must be 2048, 3072 or 4096");
        }
        let signing_algs = alg::parse_list(&get("signing_algs").unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("setting signing_algs: {e}"))?;
        let access_token_alg: Alg = get("access_token_alg")
            .unwrap_or_default()
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("setting access_token_alg: {e}"))?;
        if !signing_algs.contains(&access_token_alg) {
            anyhow::bail!(
                "setting access_token_alg: {access_token_alg} is not in signing_algs, so no key \
                 signs with it"
            );
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let trusted_proxies = TrustedProxies::parse(&get("trusted_proxies").unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("setting trusted_proxies: {e}"))?;
        let log_format = match get("log_format").as_deref() {
            Some("json") => LogFormat::Json,
            Some("text") | None => LogFormat::Text,
            Some(other) => anyhow::bail!("setting log_format: {other:?} is neither text nor json"),
        };
        let login_throttle = LoginLimits::parse(&get("login_throttle").unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("setting login_throttle: {e}"))?;
        let cors_origins = CorsOrigins::parse(&get("cors_origins").unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("setting cors_origins: {e}"))?;
        let min_length = num("password_min_length")?.unwrap_or(DEFAULT_MIN_LENGTH as u64);
        if !(8..=64).contains(&min_length) {
            anyhow::bail!("setting password_min_length: must be between 8 and 64");
        }
        let reset_throttle = LoginLimits::parse(&get("reset_throttle").unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("setting reset_throttle: {e}"))?;
        let smtp = match (get("smtp_url").filter(|u| !u.is_empty()), get("smtp_from")) {
            (None, _) => None,
            (Some(url), Some(from)) if !from.trim().is_empty() => {
                let mut smtp = SmtpSettings::parse(&url, &from)
                    .map_err(|e| anyhow::anyhow!("setting smtp_url: {e}"))?;
                smtp.timeout = dur("smtp_timeout")?;
                if !SMTP_TIMEOUT_RANGE.contains(&smtp.timeout) {
                    anyhow::bail!("setting smtp_timeout: must be between 1s and 25s");
                }
                Some(smtp)
            }
            (Some(_), _) => anyhow::bail!(
                "setting smtp_from: required with smtp_url (e.g. \"Gatehouse <id@example.com>\")"
            ),
        };
        let mfa_for_admins = match get("mfa_for_admins").unwrap_or_default().trim() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" | "" => false,
            other => anyhow::bail!("setting mfa_for_admins: {other:?} is neither true nor false"),
        };
        let settings = Settings {
            mfa_for_admins,
            smtp,
            reset_throttle,
            password_policy: PasswordPolicy {
                min_length: min_length as usize,
            },
            login_throttle,
            cors_origins,
            default_audience: get("default_audience").unwrap_or_else(|| issuer.clone()),
            issuer,
            bind,
            database_url,
            master_key_file: PathBuf::from(get("master_key_file").unwrap_or_default()),
            master_key: get("master_key")
                .filter(|s| !s.is_empty())
                .map(SecretString::new),
            master_key_previous: get("master_key_previous")
                .filter(|s| !s.is_empty())
                .map(SecretString::new),
            access_ttl: dur("access_ttl")?,
            refresh_ttl: dur("refresh_ttl")?,
            id_token_ttl: dur("id_token_ttl")?,
            code_ttl: dur("code_ttl")?,
            session_ttl: dur("session_ttl")?,
            refresh_grace: dur("refresh_grace")?,
            refresh_max_lifetime: dur("refresh_max_lifetime")?,
            audit_retention: dur("audit_retention")?,
            leeway: dur("leeway")?,
            key_rotation_interval: dur("key_rotation_interval")?,
            key_poll_interval: dur("key_poll_interval")?,
            jwks_max_age: dur("jwks_max_age")?,
            key_size,
            signing_algs,
            access_token_alg,
            db_pool_size: num("db_pool_size")?.unwrap_or(10).clamp(1, 1000) as u32,
            db_timeout: dur("db_timeout")?,
            hash_workers: num("hash_workers")?
                .map(|n| n as usize)
                .unwrap_or(cores)
                .max(1),
            trusted_proxies,
            log_format,
            workers: num("workers")?.map(|n| n as usize).unwrap_or(cores).max(1),
            outbox_give_up_after: dur("outbox_give_up_after")?,
            clients_file: get("clients_file")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
        };
        for (name, d) in [
            ("access_ttl", settings.access_ttl),
            ("refresh_ttl", settings.refresh_ttl),
            ("key_poll_interval", settings.key_poll_interval),
            ("outbox_give_up_after", settings.outbox_give_up_after),
        ] {
            if d.is_zero() {
                anyhow::bail!("setting {name}: must be longer than 0s");
            }
        }
        Ok(settings)
    }
}

fn read_toml(path: &std::path::Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let name = key
            .to_ascii_lowercase()
            .trim_start_matches("gatehouse_")
            .replace('-', "_");
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(","),
            other => anyhow::bail!(
                "config file {}: {key} has an unsupported value {other}",
                path.display()
            ),
        };
        out.insert(name, text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_algorithms_default_to_rs256_and_access_token_alg_must_be_kept() {
        let s = Settings::from_args(&SettingsArgs::default()).unwrap();
        assert_eq!(s.signing_algs, [Alg::Rs256]);
        assert_eq!(s.access_token_alg, Alg::Rs256);
        let args = SettingsArgs {
            signing_algs: Some("EdDSA,ES256".into()),
            access_token_alg: Some("ES256".into()),
            ..Default::default()
        };
        let s = Settings::from_args(&args).unwrap();
        assert_eq!(s.signing_algs, [Alg::Es256, Alg::EdDsa]);
        assert_eq!(s.access_token_alg, Alg::Es256);
        for (algs, access) in [
            ("ES256", "RS256"),
            ("RS256", "HS256"),
            ("RS256,none", "RS256"),
            ("", "RS256"),
        ] {
            let args = SettingsArgs {
                signing_algs: Some(algs.into()),
                access_token_alg: Some(access.into()),
                ..Default::default()
            };
            assert!(Settings::from_args(&args).is_err(), "{algs} / {access}");
        }
    }

    #[test]
    fn the_smtp_timeout_defaults_to_15s_and_stays_under_the_outbox_limit() {
        let with = |timeout: Option<&str>| SettingsArgs {
            smtp_url: Some("smtp://127.0.0.1:2525?tls=none".into()),
            smtp_from: Some("id@example.com".into()),
            smtp_timeout: timeout.map(str::to_string),
            ..Default::default()
        };
        let timeout = |args| Settings::from_args(&args).map(|s| s.smtp.map(|m| m.timeout));
        assert_eq!(timeout(with(None)).unwrap(), Some(Duration::from_secs(15)));
        assert_eq!(
            timeout(with(Some("2s"))).unwrap(),
            Some(Duration::from_secs(2))
        );
        for bad in ["0s", "26s", "1m", "soon"] {
            assert!(timeout(with(Some(bad))).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_win_over_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(
            &path,
            "ACCESS_TTL = \"10m\"\nrefresh-ttl = \"2h\"\nkey_size = 3072\n",
        )
        .unwrap();
        let args = SettingsArgs {
            config: Some(path),
            access_ttl: Some("1m".into()),
            ..Default::default()
        };
        let s = Settings::from_args(&args).unwrap();
        assert_eq!(s.access_ttl, Duration::from_secs(60));
        assert_eq!(s.refresh_ttl, Duration::from_secs(7200));
        assert_eq!(s.key_size, 3072);
        assert_eq!(s.issuer, "http://127.0.0.1:8080");
        assert_eq!(s.default_audience, s.issuer);
    }

    #[test]
    fn a_debug_print_of_the_settings_never_shows_the_master_keys() {
        let key = "c2VjcmV0IG1hc3RlciBrZXkgb2YgMzIgYnl0ZXMhISE=";
        let old = "b2xkIG1hc3RlciBrZXkgb2YgMzIgYnl0ZXMhISEhISE=";
        let args = SettingsArgs {
            master_key: Some(key.into()),
            master_key_previous: Some(old.into()),
            database_url: Some("postgres://u:db-password@h/d".into()),
            ..Default::default()
        };
        let settings = Settings::from_args(&args).unwrap();
        for shown in [format!("{settings:?}"), format!("{args:?}")] {
            for secret in [key, old, "db-password"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("[REDACTED]"), "{shown}");
        }
        assert_eq!(settings.master_key.as_ref().map(|k| k.expose()), Some(key));
    }
}
