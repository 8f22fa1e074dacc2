//! The production stack on loopback: two `gatehouse serve` processes on one PostgreSQL
//! database behind real nginx running `deploy/nginx.conf`, and the faults it must survive
//! (a killed instance, a stopped database, SIGTERM). `sharing.rs`: what the two instances
//! share; `faults.rs`: the faults.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    cli_keys_list, eventually, free_port, password_grant, peek, run_cli, seed_storage, skip,
    status_json, Backend, ServerProcess, Storage,
};
use crate::private_postgres::PrivatePostgres;

pub(crate) const ALICE_PASSWORD: &str = "correct horse battery staple";
const ROOT_PASSWORD: &str = "root password for the stack";

pub(crate) fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Real nginx with `deploy/nginx.conf`, its placeholders filled in for loopback.
pub(crate) struct Nginx {
    child: tokio::process::Child,
    dir: tempfile::TempDir,
    pub(crate) address: String,
}

impl Nginx {
    fn start(binary: &Path, port: u16, upstream_a: &str, upstream_b: &str) -> Nginx {
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
                .expect("deploy/nginx.conf");
        let conf = template
            .replace("${GATEHOUSE_A}", upstream_a)
            .replace("${GATEHOUSE_B}", upstream_b)
            .replace("${LISTEN}", &format!("127.0.0.1:{port}"));
        assert!(!conf.contains("${"), "a placeholder was left: {conf}");
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["logs", "tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        // nginx started by root runs its workers as nobody: let them use the prefix.
        let _ = std::process::Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(dir.path())
            .status();
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log");
        let child = tokio::process::Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn nginx");
        Nginx {
            child,
            dir,
            address: format!("http://127.0.0.1:{port}"),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    fn log_text(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        format!(
            "{}{}{}",
            read("stderr.log").unwrap_or_default(),
            read("error.log").unwrap_or_default(),
            read("logs/error.log").unwrap_or_default()
        )
    }
}

impl Drop for Nginx {
    /// SIGKILL of the master alone (`kill_on_drop`) would orphan its workers: SIGTERM makes
    /// it stop them first.
    fn drop(&mut self) {
        let Some(pid) = self.child.id() else {
            return;
        };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Two instances (A, B) on one database, nginx in front.
pub(crate) struct Stack {
    storage: Storage,
    pub(crate) a: ServerProcess,
    pub(crate) b: ServerProcess,
    pub(crate) nginx: Nginx,
    pub(crate) http: reqwest::Client,
    adm_secret: String,
}

fn host_port(address: &str) -> &str {
    address.trim_start_matches("http://")
}

impl Stack {
    /// `None` (after a visible SKIP) when nginx or PostgreSQL is missing.
    async fn start(env: &[(&str, &str)]) -> Option<Stack> {
        let Some(nginx_bin) = nginx_binary() else {
            skip("nginx (Debian package nginx)");
            return None;
        };
        let storage = Storage::new(Backend::Postgres)?;
        Some(Stack::start_on(storage, &nginx_bin, env).await)
    }

    pub(crate) async fn start_on(
        storage: Storage,
        nginx_bin: &Path,
        env: &[(&str, &str)],
    ) -> Stack {
        seed_storage(&storage).await;
        let add = |args: Vec<&'static str>, stdin: &'static str| {
            let storage = &storage;
            async move {
                let out = run_cli(storage, &args, stdin).await;
                assert!(out.status.success(), "{args:?}: {}", out.stderr);
                out.stdout
            }
        };
        add(
            vec!["user", "add", "alice", "--password-stdin"],
            "correct horse battery staple\n",
        )
        .await;
        add(
            vec!["user", "add", "root", "--admin", "--password-stdin"],
            "root password for the stack\n",
        )
        .await;
        let adm = add(
            vec![
                "client", "add", "adm", "--grant", "password", "--scope", "admin", "--json",
            ],
            "",
        )
        .await;
        let adm: Value = serde_json::from_str(adm.trim()).expect("client add --json");
        let adm_secret = adm["client_secret"].as_str().expect("secret").to_string();

        // The issuer is the public address: nginx's. Ports are picked before anyone binds.
        let nginx_port = free_port();
        let issuer = format!("http://127.0.0.1:{nginx_port}");
        let mut server_env = vec![
            ("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1"),
            ("GATEHOUSE_LOG_FORMAT", "json"),
            ("GATEHOUSE_LOG", "info"),
        ];
        server_env.extend_from_slice(env);
        let mut a = ServerProcess::spawn_with_env(&storage, &issuer, "a", &server_env);
        let mut b = ServerProcess::spawn_with_env(&storage, &issuer, "b", &server_env);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        assert!(a.ready(&http, 60).await, "A not ready: {}", a.log_text());
        assert!(b.ready(&http, 60).await, "B not ready: {}", b.log_text());
        let nginx = Nginx::start(
            nginx_bin,
            nginx_port,
            host_port(&a.address),
            host_port(&b.address),
        );
        let up = eventually(30, || {
            let http = http.clone();
            let url = nginx.url("/healthz");
            async move { http.get(url).send().await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
        assert!(up, "nginx did not come up: {}", nginx.log_text());
        Stack {
            storage,
            a,
            b,
            nginx,
            http,
            adm_secret,
        }
    }

    pub(crate) async fn login(&self, base: &str) -> (String, String) {
        let resp = self
            .http
            .post(format!("{base}/api/token/"))
            .json(&json!({ "username": "alice", "password": ALICE_PASSWORD }))
            .send()
            .await
            .expect("login");
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 200, "login at {base}: {body}");
        (
            body["access"].as_str().expect("access").to_string(),
            body["refresh"].as_str().expect("refresh").to_string(),
        )
    }

    async fn admin_token(&self) -> String {
        let resp = password_grant(
            &self.http,
            &self.nginx.address,
            "adm",
            &self.adm_secret,
            "root",
            ROOT_PASSWORD,
            "admin",
        )
        .await;
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 200, "admin token: {body}");
        body["access_token"].as_str().expect("token").to_string()
    }

    pub(crate) async fn refresh(
        &self,
        base: &str,
        refresh: &str,
    ) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{base}/api/token/refresh/"))
            .json(&json!({ "refresh": refresh }))
            .send()
            .await
    }

    async fn jwks_body(&self, base: &str) -> Value {
        self.http
            .get(format!("{base}/.well-known/jwks.json"))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("jwks json")
    }
}

fn kid_of(token: &str) -> String {
    peek(token).0["kid"].as_str().expect("kid").to_string()
}

mod faults;
mod sharing;
