//! The SMTP server of `SMTP_URL`, through lettre over rustls (aws-lc-rs):
//! `smtps://host[:465]` (TLS from the first byte), `smtp://host[:587]` (STARTTLS, required),
//! `smtp://host:port?tls=none` (plain text: only to a loopback relay, so a password never
//! crosses a network in clear); `user:password@` when the server wants a login. `SMTP_FROM`
//! is the sender, `Name <address>` or an address.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::domain::SecretString;

/// `SMTP_TIMEOUT`'s default: the longest wait for the server at each step of a delivery and
/// for the whole of it. A slow server costs the background task this much, never a request.
pub const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// What `SMTP_TIMEOUT` may be: under the outbox's own limit of one attempt (30 s), which
/// would otherwise cut the send off first.
pub const SMTP_TIMEOUT_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(25);

/// Where and how to send, checked at start.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<(String, SecretString)>,
    pub from: Mailbox,
    /// `SMTP_TIMEOUT`: the longest wait at each step, and for the whole message.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://`: STARTTLS, refused when the server does not offer it.
    StartTls,
    /// `smtp://…?tls=none`: plain text, to a loopback relay only.
    None,
}

impl SmtpSettings {
    /// `SMTP_URL` and `SMTP_FROM`; the error never repeats the URL (it may hold a password).
    pub fn parse(url: &str, from: &str) -> Result<SmtpSettings, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
        let tls = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("no host")?
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let (security, default_port) = match (parsed.scheme(), tls.as_deref()) {
            ("smtps", None) => (Security::Implicit, 465),
            ("smtp", None | Some("required")) => (Security::StartTls, 587),
            ("smtp", Some("none")) if is_loopback(&host) => (Security::None, 25),
            ("smtp", Some("none")) => {
                return Err(
                    "tls=none is allowed only to a loopback relay (localhost, 127.0.0.1, ::1)"
                        .into(),
                )
            }
            (scheme, None) => return Err(format!("scheme {scheme:?} is neither smtp nor smtps")),
            (_, Some(other)) => {
                return Err(format!(
                    "tls={other:?}: only tls=none (to a loopback relay) or tls=required"
                ))
            }
        };
        let decode = |s: &str| {
            percent_encoding_decode(s)
                .ok_or_else(|| "user or password is not valid UTF-8".to_string())
        };
        let credentials = match (parsed.username(), parsed.password()) {
            ("", None) => None,
            (user, Some(password)) => Some((decode(user)?, SecretString::new(decode(password)?))),
            (_, None) => return Err("a user needs a password (smtp://user:password@host)".into()),
        };
        let from: Mailbox = from
            .trim()
            .parse()
            .map_err(|e| format!("SMTP_FROM is not an address ({e})"))?;
        Ok(SmtpSettings {
            timeout: DEFAULT_SMTP_TIMEOUT,
            port: parsed.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            from,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `%XX` decoding of a URL's user or password.
fn percent_encoding_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Why a message was not handed over. The text names the server's answer or the
/// connection's failure, never the message or the credentials.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server will never take it (a permanent 5xx, a refused address): retrying is
    /// pointless.
    #[error("refused for good: {0}")]
    Permanent(String),
    /// Down, slow, a temporary 4xx, garbage: try again later.
    #[error("{0}")]
    Transient(String),
}

/// Sends messages to the configured server (one connection per message: a few messages a
/// minute need no pool).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    pub from: Mailbox,
    timeout: Duration,
}

impl Mailer {
    /// `hello` names this host in EHLO (the issuer's host).
    pub fn new(settings: &SmtpSettings, hello: &str) -> Result<Mailer, String> {
        let tls = |wrap: fn(TlsParameters) -> Tls| {
            TlsParameters::new(settings.host.clone())
                .map(wrap)
                .map_err(|e| format!("TLS settings: {e}"))
        };
        let security = match settings.security {
            Security::Implicit => tls(Tls::Wrapper)?,
            Security::StartTls => tls(Tls::Required)?,
            Security::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(security)
            .timeout(Some(settings.timeout))
            .hello_name(ClientId::Domain(hello.to_string()));
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
            from: settings.from.clone(),
            timeout: settings.timeout,
        })
    }

    /// Hands `message` to the server. A server that answers each step just within the
    /// step's timeout cannot hold the delivery longer than the same timeout overall: the
    /// send is dropped then, and with it the connection.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent(describe(&e))),
            Ok(Err(e)) => Err(SendError::Transient(describe(&e))),
            Err(_) => Err(SendError::Transient(format!(
                "the SMTP server took longer than {}s (SMTP_TIMEOUT)",
                self.timeout.as_secs()
            ))),
        }
    }
}

/// lettre's error with its sources, on one line.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<SmtpSettings, String> {
        SmtpSettings::parse(url, "Gatehouse <id@example.com>")
    }

    #[test]
    fn each_scheme_has_its_security_and_port() {
        let s = parse("smtps://mail.example.com").unwrap();
        assert_eq!((s.security, s.port), (Security::Implicit, 465));
        let s = parse("smtp://mail.example.com").unwrap();
        assert_eq!((s.security, s.port), (Security::StartTls, 587));
        let s = parse("smtp://mail.example.com:2525?tls=required").unwrap();
        assert_eq!((s.security, s.port), (Security::StartTls, 2525));
        let s = parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!(
            (s.security, s.port, s.host.as_str()),
            (Security::None, 2525, "127.0.0.1")
        );
        let s = parse("smtp://[::1]:25?tls=none").unwrap();
        assert_eq!(s.host, "::1");
        assert!(s.credentials.is_none());
    }

    #[test]
    fn credentials_are_decoded_and_never_repeated_in_errors() {
        let s = parse("smtps://me%40example.com:p%40ss%3Aword@mail.example.com").unwrap();
        let (user, password) = s.credentials.unwrap();
        assert_eq!(
            (user.as_str(), password.expose()),
            ("me@example.com", "p@ss:word")
        );
        for bad in [
            "smtp://user:s3cret@mail.example.com?tls=none",
            "http://user:s3cret@mail.example.com",
            "smtp://user:s3cret@mail.example.com?tls=maybe",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn plain_text_only_to_loopback_and_a_sender_is_an_address() {
        assert!(parse("smtp://mail.example.com?tls=none").is_err());
        assert!(parse("smtp://localhost?tls=none").is_ok());
        assert!(parse("smtp://user@mail.example.com").is_err());
        for from in ["", "not an address", "a@b.example\r\nBcc: x@y.example"] {
            assert!(
                SmtpSettings::parse("smtps://mail.example.com", from).is_err(),
                "{from:?}"
            );
        }
    }
}
