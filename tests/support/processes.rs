//! `gatehouse serve` child processes on a shared storage.

use std::path::PathBuf;
use std::process::Stdio;

use super::Storage;

/// A port that was free a moment ago. Only for a process that must know its port before it
/// starts and cannot report one it chose itself (nginx, whose port is in the issuer): another
/// process may take the port in between, so everything else binds port 0.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A `gatehouse serve` child process on a shared [`Storage`]; killed when dropped. It binds
/// `127.0.0.1:0` itself, so no other process can take its port between a pick and a bind.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`, known once [`ServerProcess::ready`] has read the port from
    /// the start-up log line; empty before.
    pub address: String,
    pub log: PathBuf,
}

impl ServerProcess {
    /// Starts `gatehouse serve` with `issuer`, polling keys every second.
    pub fn spawn(storage: &Storage, issuer: &str, name: &str) -> ServerProcess {
        ServerProcess::spawn_with_env(storage, issuer, name, &[])
    }

    /// Like [`ServerProcess::spawn`], with extra (or overriding) environment variables.
    pub fn spawn_with_env(
        storage: &Storage,
        issuer: &str,
        name: &str,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let log = storage.dir.path().join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .envs(storage.env())
            .env("GATEHOUSE_BIND", "127.0.0.1:0")
            .env("GATEHOUSE_ISSUER", issuer)
            .env("GATEHOUSE_KEY_POLL_INTERVAL", "1s")
            .env("GATEHOUSE_WORKERS", "2")
            .env("GATEHOUSE_HASH_WORKERS", "1")
            .env("GATEHOUSE_DB_POOL_SIZE", "4")
            // Warnings, and the start-up line that names the port.
            .env("GATEHOUSE_LOG", "warn,gatehouse::startup=info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn gatehouse serve");
        ServerProcess {
            child,
            address: String::new(),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        assert!(!self.address.is_empty(), "the port is known once ready");
        format!("{}{}", self.address, path)
    }

    /// What the process wrote to stderr so far (for failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the process has logged the port it bound and `/readyz` answers 200 there;
    /// false when the process exited or `secs` passed. Its own loop rather than
    /// [`eventually`]: it must stop as soon as the process exits.
    pub async fn ready(&mut self, http: &reqwest::Client, secs: u64) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if self.address.is_empty() {
                if let Some(port) = serving_port(&self.log_text()) {
                    self.address = format!("http://127.0.0.1:{port}");
                }
            }
            if !self.address.is_empty() {
                if let Ok(resp) = http.get(self.url("/readyz")).send().await {
                    if resp.status() == 200 {
                        return true;
                    }
                }
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// The port in the start-up line `gatehouse is serving` (target `gatehouse::startup`):
/// `port=N` in text logs, `"port":N` in JSON logs.
fn serving_port(log: &str) -> Option<u16> {
    let line = log.lines().find(|l| l.contains("gatehouse is serving"))?;
    let (_, rest) = line
        .split_once("port=")
        .or_else(|| line.split_once("\"port\":"))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
