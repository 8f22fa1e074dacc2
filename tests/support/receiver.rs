//! A receiving application for back-channel logout: an HTTP server on a loopback port that
//! validates each `logout_token` as Back-Channel Logout 1.0 §2.6 says (signature against the
//! JWKS, `iss`, `aud` = the client named by the path `/bc/{client}`, `iat`, `exp`, `jti`, the
//! event, `sid`, no `nonce`, `typ` `logout+jwt`), and can be switched to fail or hang.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const OK: u8 = 0;
/// Answers 503 without looking at the request.
pub const FAIL: u8 = 1;
/// Reads the request and never answers.
pub const HANG: u8 = 2;
/// Answers 302 to the address set with [`Receiver::redirect_to`].
pub const REDIRECT: u8 = 3;
/// Answers 503 with a 10 MB body.
pub const HUGE: u8 = 4;
/// Closes the connection without an answer.
pub const CLOSE: u8 = 5;

struct Shared {
    issuer: String,
    jwks: serde_json::Value,
    mode: AtomicU8,
    redirect_to: Mutex<String>,
    attempts: AtomicUsize,
    /// The claims of each valid token received, in order of arrival.
    valid: Mutex<Vec<serde_json::Value>>,
    /// Why each invalid request was refused.
    invalid: Mutex<Vec<String>>,
    /// When each valid token arrived, by its sid (for the latency figures).
    arrivals: Mutex<Vec<(String, std::time::Instant)>>,
}

#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start(issuer: &str, jwks: serde_json::Value) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            issuer: issuer.to_string(),
            jwks,
            mode: AtomicU8::new(OK),
            redirect_to: Mutex::new(String::new()),
            attempts: AtomicUsize::new(0),
            valid: Mutex::new(vec![]),
            invalid: Mutex::new(vec![]),
            arrivals: Mutex::new(vec![]),
        });
        let serving = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, serving.clone()));
            }
        });
        Receiver { base, shared }
    }

    /// The URI to register for `client`.
    pub fn uri(&self, client: &str) -> String {
        format!("{}/bc/{client}", self.base)
    }

    pub fn set_mode(&self, mode: u8) {
        self.shared.mode.store(mode, Ordering::SeqCst);
    }

    /// Where [`REDIRECT`] sends the caller.
    pub fn redirect_to(&self, location: &str) {
        *self.shared.redirect_to.lock().unwrap() = location.to_string();
    }

    pub fn attempts(&self) -> usize {
        self.shared.attempts.load(Ordering::SeqCst)
    }

    pub fn valid(&self) -> Vec<serde_json::Value> {
        self.shared.valid.lock().unwrap().clone()
    }

    pub fn arrivals(&self) -> Vec<(String, std::time::Instant)> {
        self.shared.arrivals.lock().unwrap().clone()
    }

    pub fn invalid(&self) -> Vec<String> {
        self.shared.invalid.lock().unwrap().clone()
    }
}

async fn serve(mut stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Headers, then the body by Content-Length.
    let (head_end, length) = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    shared.attempts.fetch_add(1, Ordering::SeqCst);
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
    let mut extra = String::new();
    let status = match shared.mode.load(Ordering::SeqCst) {
        FAIL => "503 Service Unavailable",
        CLOSE => return,
        REDIRECT => {
            extra = format!("Location: {}\r\n", shared.redirect_to.lock().unwrap());
            "302 Found"
        }
        HUGE => {
            let head = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 10485760\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let block = vec![b'x'; 64 * 1024];
            for _ in 0..160 {
                if stream.write_all(&block).await.is_err() {
                    return;
                }
            }
            return;
        }
        HANG => {
            std::future::pending::<()>().await;
            return;
        }
        _ => match check(&shared, &head, &body) {
            Ok(claims) => {
                let sid = claims["sid"].as_str().unwrap_or_default().to_string();
                shared
                    .arrivals
                    .lock()
                    .unwrap()
                    .push((sid, std::time::Instant::now()));
                shared.valid.lock().unwrap().push(claims);
                "200 OK"
            }
            Err(why) => {
                shared.invalid.lock().unwrap().push(why);
                "400 Bad Request"
            }
        },
    };
    let answer = format!("HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n");
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Back-Channel Logout 1.0 §2.6, as a relying party validates a logout token.
fn check(shared: &Shared, head: &str, body: &str) -> Result<serde_json::Value, String> {
    let request_line = head.lines().next().unwrap_or_default();
    let client = request_line
        .strip_prefix("POST /bc/")
        .and_then(|r| r.split(' ').next())
        .ok_or_else(|| format!("not a POST to /bc/: {request_line}"))?;
    if !head
        .to_ascii_lowercase()
        .contains("content-type: application/x-www-form-urlencoded")
    {
        return Err("not a form".into());
    }
    if head.to_ascii_lowercase().contains("\r\ncookie:") {
        return Err("a cookie was sent".into());
    }
    let form: Vec<(String, String)> =
        serde_urlencoded::from_str(body).map_err(|e| e.to_string())?;
    let token = match form.as_slice() {
        [(name, token)] if name == "logout_token" => token,
        _ => return Err(format!("the form is not just logout_token: {body}")),
    };
    let (header, _) = super::peek(token);
    if header["typ"] != "logout+jwt" {
        return Err(format!("typ {}", header["typ"]));
    }
    let claims = super::verify_with_jwks(token, &shared.jwks, &shared.issuer)?;
    if claims["aud"] != client {
        return Err(format!("aud {} for {client}", claims["aud"]));
    }
    for name in ["iat", "exp", "jti", "sid", "sub"] {
        if claims.get(name).is_none() {
            return Err(format!("no {name}"));
        }
    }
    if claims.get("nonce").is_some() {
        return Err("a nonce".into());
    }
    if claims["events"]
        .get("http://schemas.openid.net/event/backchannel-logout")
        .is_none()
    {
        return Err("no back-channel logout event".into());
    }
    Ok(claims)
}
