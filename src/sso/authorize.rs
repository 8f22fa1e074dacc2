//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), validated in the order
//! that decides where an error may go: until the client and its redirect URI are known, only
//! to an error page; after that, to the redirect URI with `state` (§4.1.2.1).

use crate::assurance::Level;
use crate::db::repo::clients::Client;
use crate::domain::{split_scope, valid_scope_token};

use super::pkce;

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct AuthParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub acr_values: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Default,
    None,
    Login,
    Consent,
}

#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    /// The least demanding level `acr_values` accepts, if it names one we issue.
    pub acr: Option<Level>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Shown on an error page; never sent anywhere.
    Page(String),
    /// Sent to the (registered) redirect URI.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

pub fn client_id(params: &AuthParams) -> Result<&str, Rejection> {
    match params.client_id.as_deref() {
        Some(id) if !id.is_empty() && id.len() <= 100 => Ok(id),
        _ => Err(Rejection::Page(
            "The request names no valid client_id.".into(),
        )),
    }
}

/// Validates the request for a client looked up by `client_id` (None when unknown).
pub fn validate(params: &AuthParams, client: Option<Client>) -> Result<AuthRequest, Rejection> {
    let client = match client {
        Some(c) if !c.disabled => c,
        _ => {
            return Err(Rejection::Page(
                "The application that sent you here is not registered.".into(),
            ))
        }
    };
    // §3.1.2.3: exact string match only; never redirect anywhere else.
    let redirect_uri = match params.redirect_uri.as_deref() {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_string(),
        Some(_) => {
            return Err(Rejection::Page(
                "The redirect_uri is not registered for this application.".into(),
            ))
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err(Rejection::Page("The request names no redirect_uri.".into())),
    };
    let state = params.state.clone();
    let reject = |error: &'static str, description: &str| Rejection::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description: description.to_string(),
        state: state.clone(),
    };
    if state.as_deref().is_some_and(|s| s.len() > 2048) {
        return Err(reject("invalid_request", "state is too long"));
    }
    if params.request.is_some() {
        return Err(reject(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if params.request_uri.is_some() {
        return Err(reject(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    if params.response_type.as_deref() != Some("code") {
        return Err(reject(
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    if !client.allows_grant("authorization_code") {
        return Err(reject(
            "unauthorized_client",
            "this client may not use the authorization code flow",
        ));
    }
    let scopes = split_scope(params.scope.as_deref().unwrap_or(""));
    if scopes.is_empty() {
        return Err(reject("invalid_scope", "scope is required"));
    }
    if let Some(bad) = scopes
        .iter()
        .find(|s| !valid_scope_token(s) || !client.allows_scope(s))
    {
        let shown: String = bad.chars().take(64).collect();
        return Err(reject(
            "invalid_scope",
            &format!("scope {shown:?} is not registered for this client"),
        ));
    }
    match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (Some(_), Some(m)) if m != "S256" => {
            return Err(reject(
                "invalid_request",
                "code_challenge_method must be S256",
            ))
        }
        (Some(_), None) => {
            return Err(reject(
                "invalid_request",
                "code_challenge_method must be S256",
            ))
        }
        (Some(c), Some(_)) if !pkce::well_formed(c) => {
            return Err(reject("invalid_request", "code_challenge is malformed"))
        }
        (None, Some(_)) => {
            return Err(reject(
                "invalid_request",
                "code_challenge_method without code_challenge",
            ))
        }
        (None, None) if client.public => {
            return Err(reject(
                "invalid_request",
                "PKCE (S256) is required for public clients",
            ))
        }
        _ => {}
    }
    let prompts: Vec<&str> = params
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    let prompt = match prompts.as_slice() {
        [] => Prompt::Default,
        ["none"] => Prompt::None,
        p if p.contains(&"none") => {
            return Err(reject("invalid_request", "prompt=none may not be combined"))
        }
        p if p.contains(&"login") => Prompt::Login,
        p if p.contains(&"consent") => Prompt::Consent,
        _ => Prompt::Default,
    };
    let max_age =
        match params.max_age.as_deref() {
            None | Some("") => None,
            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                reject("invalid_request", "max_age must be a non-negative integer")
            })?),
        };
    if params.nonce.as_deref().is_some_and(|n| n.len() > 512) {
        return Err(reject("invalid_request", "nonce is too long"));
    }
    if params.acr_values.as_deref().is_some_and(|a| a.len() > 1024) {
        return Err(reject("invalid_request", "acr_values is too long"));
    }
    Ok(AuthRequest {
        client,
        redirect_uri,
        scopes,
        state,
        nonce: params.nonce.clone(),
        code_challenge: params.code_challenge.clone(),
        prompt,
        max_age,
        acr: Level::requested(params.acr_values.as_deref()),
    })
}

/// The relative `/authorize?…` to come back to after login or consent, minus the prompt
/// that sent the browser away (so a fresh login is not asked for again).
pub fn return_to(params: &AuthParams) -> String {
    let mut p = params.clone();
    p.prompt = None;
    format!(
        "/authorize?{}",
        serde_urlencoded::to_string(&p).unwrap_or_default()
    )
}

/// The account page, where a sign-in may return.
pub const ACCOUNT_PAGE: &str = "/account";

/// Only a relative `/authorize?…`, a page of the admin console or the account page may be
/// returned to: never an open redirect (no scheme, no `//` host, no backslash or line break).
pub fn safe_return_to(value: Option<&str>) -> &str {
    let console = |v: &str| {
        (v == "/console" || v.starts_with("/console/") || v.starts_with("/console?"))
            && !v.contains("//")
    };
    match value {
        Some(v)
            if (v.starts_with("/authorize?") || console(v) || v == ACCOUNT_PAGE)
                && !v.contains(['\\', '\r', '\n']) =>
        {
            v
        }
        _ => "",
    }
}

/// The authorization request a (safe) `return_to` carries.
pub fn params_of_return_to(return_to: &str) -> Option<AuthParams> {
    serde_urlencoded::from_str(return_to.strip_prefix("/authorize?")?).ok()
}

/// Where an error goes once the redirect URI is known: with `state` and our `iss` (RFC 9207).
pub fn error_redirect(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> String {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect_with(redirect_uri, &params)
}

/// `redirect_uri` with `params` appended to its query (RFC 6749 §3.1.2: keep its own query).
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(public: bool) -> Client {
        Client {
            client_id: "app".into(),
            secret_hash: None,
            public,
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec![],
            grants: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: vec!["openid".into(), "profile".into(), "offline_access".into()],
            consent: false,
            disabled: false,
            created_at: 0,
            introspect_any: false,
            managed: false,
            access_token_alg: None,
            id_token_alg: crate::keys::Alg::Rs256,
            require_mfa: false,
        }
    }

    fn params(redirect: &str) -> AuthParams {
        AuthParams {
            response_type: Some("code".into()),
            client_id: Some("app".into()),
            redirect_uri: Some(redirect.into()),
            scope: Some("openid profile".into()),
            state: Some("xyz".into()),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            code_challenge_method: Some("S256".into()),
            ..Default::default()
        }
    }

    #[test]
    fn look_alike_redirect_uris_never_redirect() {
        for uri in [
            "https://app.example/cb/extra",
            "https://app.example/cb?x=1",
            "https://app.example:444/cb",
            "https://app.example.evil/cb",
            "https://user@app.example/cb",
            "https://APP.example/cb",
        ] {
            assert!(
                matches!(
                    validate(&params(uri), Some(client(true))),
                    Err(Rejection::Page(_))
                ),
                "{uri}"
            );
        }
        assert!(validate(&params("https://app.example/cb"), Some(client(true))).is_ok());
    }

    #[test]
    fn public_clients_need_s256_pkce() {
        let mut p = params("https://app.example/cb");
        p.code_challenge = None;
        p.code_challenge_method = None;
        assert!(matches!(
            validate(&p, Some(client(true))),
            Err(Rejection::Redirect {
                error: "invalid_request",
                ..
            })
        ));
        assert!(
            validate(&p, Some(client(false))).is_ok(),
            "confidential clients may omit PKCE"
        );
        let mut plain = params("https://app.example/cb");
        plain.code_challenge_method = Some("plain".into());
        assert!(matches!(
            validate(&plain, Some(client(false))),
            Err(Rejection::Redirect {
                error: "invalid_request",
                ..
            })
        ));
    }

    #[test]
    fn errors_after_the_redirect_uri_is_known_carry_state() {
        let mut p = params("https://app.example/cb");
        p.scope = Some("openid admin".into());
        match validate(&p, Some(client(true))) {
            Err(Rejection::Redirect { error, state, .. }) => {
                assert_eq!(error, "invalid_scope");
                assert_eq!(state.as_deref(), Some("xyz"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn redirect_keeps_the_registered_query() {
        assert_eq!(
            redirect_with("https://a/cb?x=1", &[("code", "c d")]),
            "https://a/cb?x=1&code=c+d"
        );
        assert_eq!(
            redirect_with("https://a/cb", &[("error", "e")]),
            "https://a/cb?error=e"
        );
    }
}
