//! Request bodies that may be JSON or form-encoded (simplejwt clients send both), read with
//! a size limit and parsed into a typed struct. Unknown fields are ignored.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

/// Bodies above this are refused with 413 before parsing.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    Malformed(String),
    UnsupportedType,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge => write!(f, "request body is larger than {MAX_BODY} bytes"),
            BodyError::Malformed(m) => write!(f, "malformed request body: {m}"),
            BodyError::UnsupportedType => f.write_str(
                "Content-Type must be application/json or application/x-www-form-urlencoded",
            ),
        }
    }
}

/// Reads the body, refusing it as soon as it passes [`MAX_BODY`] (so a 1 MB body is not
/// buffered whole).
pub async fn read(req: &HttpRequest, mut payload: web::Payload) -> Result<web::Bytes, BodyError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(BodyError::TooLarge);
    }
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Malformed("the body could not be read".into()))?;
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

pub fn is_json(req: &HttpRequest) -> bool {
    media_type(req).is_some_and(|m| m == "application/json" || m.ends_with("+json"))
}

fn media_type(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Parses JSON or form bodies; `form_only` refuses JSON (RFC 6749 endpoints take forms).
pub fn parse<T: DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
    form_only: bool,
) -> Result<T, BodyError> {
    if body.len() > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    match media_type(req).as_deref() {
        Some("application/x-www-form-urlencoded") | None => serde_urlencoded::from_bytes(body)
            .map_err(|e| BodyError::Malformed(without_quoted(&e.to_string()))),
        Some(m) if !form_only && (m == "application/json" || m.ends_with("+json")) => {
            // RFC 8259 §8.1: JSON is UTF-8. serde_json does not look at the bytes of a field
            // it skips, so check the whole body first.
            let text = std::str::from_utf8(body)
                .map_err(|_| BodyError::Malformed("the body is not UTF-8".into()))?;
            serde_json::from_str(text).map_err(|e| BodyError::Malformed(short(&e.to_string())))
        }
        _ => Err(BodyError::UnsupportedType),
    }
}

/// serde's messages may quote a submitted value (a password, say), in double quotes or in
/// backticks (an unknown enum variant is quoted in backticks): drop every quoted part. Only
/// the messages about a missing or duplicate field keep theirs, which name our own fields.
fn without_quoted(msg: &str) -> String {
    if msg.starts_with("missing field `") || msg.starts_with("duplicate field `") {
        return msg.to_string();
    }
    let mut out = String::with_capacity(msg.len());
    let mut quote: Option<char> = None;
    for c in msg.chars() {
        match (quote, c) {
            (None, '"' | '`') => {
                quote = Some(c);
                out.push('…');
            }
            (None, _) => out.push(c),
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
        }
    }
    out
}

/// serde's messages quote the offending input; keep only the position.
fn short(msg: &str) -> String {
    match msg.find(" at line") {
        Some(i) => format!("invalid JSON{}", &msg[i..]),
        None => "invalid JSON".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_quoted;

    #[test]
    fn quoted_values_are_dropped_from_form_errors_but_our_field_names_stay() {
        assert_eq!(
            without_quoted("unknown variant `hunter2`, expected `a` or `b`"),
            "unknown variant …, expected … or …"
        );
        assert_eq!(
            without_quoted("invalid value \"s3cret\" here"),
            "invalid value … here"
        );
        assert_eq!(
            without_quoted("missing field `username`"),
            "missing field `username`"
        );
        assert_eq!(without_quoted("unterminated `abc"), "unterminated …");
    }
}
