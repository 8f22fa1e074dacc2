//! A real SMTP server on loopback for the mail tests: `tests/downstream/smtp_sink.py`
//! (aiosmtpd, from the virtualenv `tests/downstream/install.sh` makes), in a process of its
//! own that a test can make refuse (every RCPT answered with a reply of its choosing) or
//! vanish (killed) and come back on the same port. Without the virtualenv, a visible SKIP.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::helpers::{eventually, free_port, skip};

/// One message as the server received it: the envelope, the headers and the decoded parts.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// It came over TLS (STARTTLS or implicit).
    #[serde(default)]
    pub tls: bool,
    /// The user the client authenticated as, if it did.
    #[serde(default)]
    pub authenticated_as: Option<String>,
}

impl ReceivedMail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first `{issuer}{path}?token=…` link of the text part.
    pub fn link(&self, path: &str) -> Option<String> {
        let text = self.text.as_deref()?;
        let start = text.find(&format!("{path}?token="))?;
        let from = text[..start].rfind("http")?;
        let end = text[start..]
            .find(|c: char| c.is_whitespace())
            .map_or(text.len(), |e| start + e);
        Some(text[from..end].to_string())
    }
}

fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("GATEHOUSE_DOWNSTREAM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/downstream-venv"));
    let python = venv.join("bin/python");
    let has_aiosmtpd = venv.join(".requirements.sha256").exists()
        && std::process::Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if has_aiosmtpd {
        Some(python)
    } else {
        skip("aiosmtpd (run tests/downstream/install.sh)");
        None
    }
}

/// The running (or vanished) SMTP server; killed when dropped.
pub struct SmtpSink {
    python: PathBuf,
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<tokio::process::Child>,
    /// The TLS mode, certificate, key and credentials given to the script, if any.
    tls_args: Vec<String>,
}

impl SmtpSink {
    /// Starts the server on a free loopback port; `None` (with a SKIP) without aiosmtpd.
    pub async fn start() -> Option<SmtpSink> {
        SmtpSink::start_on(free_port()).await
    }

    /// Starts the server on `port` (one a test had something else listen on before).
    pub async fn start_on(port: u16) -> Option<SmtpSink> {
        SmtpSink::start_with(port, Vec::new()).await
    }

    /// Starts a server that speaks TLS (`starttls`: offered and required before MAIL;
    /// `smtps`: from the first byte) with the PEM `cert` and `key`, and with `credentials`
    /// (`user:password`) requires AUTH with them.
    pub async fn start_tls(
        mode: &str,
        cert: &Path,
        key: &Path,
        credentials: Option<&str>,
    ) -> Option<SmtpSink> {
        let mut args = vec![
            mode.to_string(),
            cert.display().to_string(),
            key.display().to_string(),
        ];
        args.extend(credentials.map(str::to_string));
        SmtpSink::start_with(free_port(), args).await
    }

    async fn start_with(port: u16, tls_args: Vec<String>) -> Option<SmtpSink> {
        let python = python()?;
        let mut sink = SmtpSink {
            python,
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
            tls_args,
        };
        sink.start_again().await;
        Some(sink)
    }

    /// What `SMTP_URL` names it by (plain text: it is on loopback).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Starts the server again on its port (after [`SmtpSink::vanish`]), keeping what it
    /// received; returns once it accepts connections.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let child = tokio::process::Command::new(&self.python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/downstream/smtp_sink.py"))
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .args(&self.tls_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn smtp_sink.py");
        self.child = Some(child);
        let port = self.port;
        let up = eventually(20, || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(up, "the SMTP server did not start on port {port}");
    }

    /// Kills the server: connections to its port are refused until it starts again.
    pub async fn vanish(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill smtp_sink.py");
        }
        let port = self.port;
        let gone = eventually(10, || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
        })
        .await;
        assert!(gone, "the SMTP server still answers");
    }

    /// Every RCPT TO is answered with `reply` (e.g. `451 4.3.0 try again later`) until
    /// [`SmtpSink::accept`].
    pub fn refuse(&self, reply: &str) {
        std::fs::write(self.dir.path().join("refuse"), reply).expect("write refuse");
    }

    pub fn accept(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("refuse"));
    }

    /// The messages received so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                serde_json::from_slice(&std::fs::read(p).expect("read mail")).expect("mail json")
            })
            .collect()
    }

    /// The raw bytes of the `n`th message (from 1), as received.
    pub fn raw(&self, n: usize) -> Vec<u8> {
        std::fs::read(self.dir.path().join(format!("{n:04}.eml"))).expect("raw mail")
    }

    /// Waits (at most `secs`) until at least `n` messages arrived; returns them all.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<ReceivedMail> {
        let arrived = eventually(secs, || async { self.messages().len() >= n }).await;
        let messages = self.messages();
        assert!(
            arrived,
            "{n} messages expected within {secs}s, got {}",
            messages.len()
        );
        messages
    }

    /// Waits `for_` and asserts that no more than `n` messages arrived meanwhile.
    pub async fn assert_no_more_than(&self, n: usize, for_: Duration) {
        tokio::time::sleep(for_).await;
        let got = self.messages().len();
        assert!(got <= n, "at most {n} messages expected, got {got}");
    }
}

/// An SMTP server that stalls: it accepts connections and then answers nothing (or only its
/// greeting, then nothing), whatever the client sends. It counts the connections it accepted
/// and those the client closed, so a test can see a delivery give up and let go.
pub struct StallingServer {
    pub port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    closed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    greet: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl StallingServer {
    /// Listens on a free loopback port, silent from the first byte (see
    /// [`StallingServer::greet`]).
    pub async fn start() -> StallingServer {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let closed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let greet = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (a, c, g) = (accepted.clone(), closed.clone(), greet.clone());
        let task = tokio::spawn(async move {
            // Dropped with this task: every connection it holds is dropped too.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut conn, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let c = c.clone();
                let greet = g.load(Ordering::SeqCst);
                connections.spawn(async move {
                    if greet {
                        let _ = conn.write_all(b"220 stall.test ESMTP\r\n").await;
                    }
                    let mut buf = [0u8; 1024];
                    // Reads (and ignores) until the client hangs up.
                    while let Ok(n) = conn.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                    c.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        StallingServer {
            port,
            accepted,
            closed,
            greet,
            task,
        }
    }

    /// With `on`, each new connection gets the `220` greeting and then silence (the stall
    /// comes at EHLO).
    pub fn greet(&self, on: bool) {
        self.greet.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Connections the client closed so far (it gave up waiting).
    pub fn closed_by_client(&self) -> usize {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops listening and drops every connection; returns the port, free for another
    /// server.
    pub async fn stop(self) -> u16 {
        self.task.abort();
        let _ = self.task.await;
        self.port
    }
}
