//! Client authentication at the token, revocation and introspection endpoints:
//! `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1), or a bare `client_id`
//! for public clients.

use actix_web::http::header;
use actix_web::HttpRequest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::client_addr::client_addr;
use super::error::OAuthError;
use crate::accounts::clients::Client;
use crate::state::AppState;

/// Reads the client's credentials from the header or the form and authenticates them.
pub async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Client, OAuthError> {
    let basic = basic_credentials(req)?;
    let via_basic = basic.is_some();
    let (client_id, secret) = match (basic, form_client_id, form_secret) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ))
        }
        (Some((id, _)), Some(form_id), None) if id != form_id => {
            return Err(OAuthError::invalid_request(
                "client_id does not match the Authorization header",
            ))
        }
        (Some((id, secret)), _, None) => (id, Some(secret)),
        (None, Some(id), secret) => (id.to_string(), secret.map(str::to_string)),
        (None, None, _) => return Err(OAuthError::invalid_client(false)),
    };
    let addr = client_addr(req, &state.settings.trusted_proxies);
    state
        .guard
        .check_client_secret(&client_id, secret.as_deref(), &addr)
        .await
        .map_err(|e| OAuthError::client_auth(e, via_basic))
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| OAuthError::invalid_client(true))?;
    let Some(encoded) = text
        .strip_prefix("Basic ")
        .or_else(|| text.strip_prefix("basic "))
    else {
        return Ok(None);
    };
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| OAuthError::invalid_client(true))?;
    let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client(true))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    let unescape = |s: &str| -> Result<String, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}"))
            .map_err(|_| OAuthError::invalid_client(true))?;
        Ok(pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default())
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}
