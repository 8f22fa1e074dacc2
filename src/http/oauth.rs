//! `POST /token` (RFC 6749 §4.3, §4.4, §6), `POST /revoke` (RFC 7009) and
//! `POST /introspect` (RFC 7662).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::body::{self, BodyError};
use super::client_addr::client_addr;
use super::client_auth::authenticate;
use super::error::OAuthError;
use crate::accounts::MAX_PASSWORD_BYTES;
use crate::db::repo;
use crate::db::repo::clients::Client;
use crate::domain::split_scope;
use crate::keys::encryption::digest_hex;
use crate::passwords::Password;
use crate::sso::throttle::{self, GuardedLoginError};
use crate::state::AppState;
use crate::tokens::claims::Subject;
use crate::tokens::refresh::{self, Pair};

#[derive(Deserialize, Default)]
struct TokenForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

fn body_error(e: BodyError) -> OAuthError {
    match e {
        BodyError::TooLarge => OAuthError::Client {
            status: actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            error: "invalid_request",
            description: e.to_string(),
            basic_challenge: false,
        },
        other => OAuthError::invalid_request(other.to_string()),
    }
}

async fn read_form<T: for<'de> Deserialize<'de>>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, OAuthError> {
    let bytes = body::read(req, payload).await.map_err(body_error)?;
    body::parse(req, &bytes, true).map_err(body_error)
}

pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let form: TokenForm = read_form(&req, payload).await?;
    let grant = form
        .grant_type
        .clone()
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let client = authenticate(
        &state,
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    let pair = match grant.as_str() {
        "password" => {
            let addr = client_addr(&req, &state.settings.trusted_proxies);
            password_grant(&state, &client, form, &addr).await?
        }
        "refresh_token" => refresh_grant(&state, &client, form).await?,
        "client_credentials" => client_credentials_grant(&state, &client, form).await?,
        "authorization_code" => {
            let form = super::code_grant::CodeForm {
                code: form.code.as_deref(),
                redirect_uri: form.redirect_uri.as_deref(),
                code_verifier: form.code_verifier.as_deref(),
            };
            let body = super::code_grant::exchange(&state, &client, form).await?;
            return Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::PRAGMA, "no-cache"))
                .json(body));
        }
        _ => {
            return Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {:?} is not supported",
                truncate(&grant)
            )))
        }
    };
    Ok(token_response(&pair))
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

pub fn token_response(pair: &Pair) -> HttpResponse {
    let mut body = json!({
        "access_token": pair.access,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "scope": pair.scope,
    });
    if let Some(refresh) = &pair.refresh {
        body["refresh_token"] = json!(refresh);
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

fn require_grant(client: &Client, grant: &str) -> Result<(), OAuthError> {
    if client.allows_grant(grant) {
        Ok(())
    } else {
        Err(OAuthError::unauthorized_client(format!(
            "client is not allowed the {grant} grant"
        )))
    }
}

/// The granted scope: the request's (each token registered for the client) or, by
/// default, the client's scopes minus those that must be asked for by name.
pub fn resolve_scope(
    client: &Client,
    requested: Option<&str>,
    default_excludes: &[&str],
) -> Result<Vec<String>, OAuthError> {
    match requested {
        Some(s) if !s.trim().is_empty() => {
            let scopes = split_scope(s);
            if let Some(bad) = scopes.iter().find(|s| !client.allows_scope(s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {:?} is not registered for this client",
                    truncate(bad)
                )));
            }
            Ok(scopes)
        }
        _ => Ok(client
            .scopes
            .iter()
            .filter(|s| !default_excludes.contains(&s.as_str()))
            .cloned()
            .collect()),
    }
}

async fn password_grant(
    state: &AppState,
    client: &Client,
    form: TokenForm,
    client_addr: &str,
) -> Result<Pair, OAuthError> {
    require_grant(client, "password")?;
    let username = form
        .username
        .ok_or_else(|| OAuthError::invalid_request("username is required"))?;
    let password = form
        .password
        .ok_or_else(|| OAuthError::invalid_request("password is required"))?;
    if password.len() > MAX_PASSWORD_BYTES || username.len() > 150 * 4 {
        return Err(OAuthError::invalid_grant("invalid username or password"));
    }
    let scopes = resolve_scope(client, form.scope.as_deref(), &["admin", "offline_access"])?;
    let user = match throttle::check_password_guarded(
        state,
        &username,
        Password::new(password),
        client_addr,
        "password_grant",
    )
    .await
    {
        Ok(u) => u,
        Err(GuardedLoginError::BadCredentials) => {
            return Err(OAuthError::invalid_grant("invalid username or password"))
        }
        Err(GuardedLoginError::Throttled(wait)) => return Err(OAuthError::Throttled(wait)),
        Err(GuardedLoginError::Db(e)) => return Err(e.into()),
        Err(GuardedLoginError::Hash(e)) => return Err(e.into()),
    };
    if scopes.iter().any(|s| s == "admin") && !user.is_admin {
        return Err(OAuthError::invalid_scope(
            "scope admin is only for admin users",
        ));
    }
    let subject = Subject {
        sub: user.id.clone(),
        user_id: Some(user.user_id().to_string()),
        client_id: client.client_id.clone(),
        scope: scopes.join(" "),
        audience: state.settings.default_audience.clone(),
    };
    Ok(refresh::issue_pair(state, &subject, client.allows_grant("refresh_token")).await?)
}

async fn refresh_grant(
    state: &AppState,
    client: &Client,
    form: TokenForm,
) -> Result<Pair, OAuthError> {
    require_grant(client, "refresh_token")?;
    let token = form
        .refresh_token
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    if let Some(requested) = form.scope.as_deref().filter(|s| !s.trim().is_empty()) {
        // RFC 6749 §6: a refresh may not widen the scope. Narrowing is not offered yet.
        let original = refresh::verify_refresh(state, &token)
            .map_err(|e| OAuthError::invalid_grant(e.to_string()))?;
        let granted = split_scope(&original.scope);
        if split_scope(requested) != granted {
            return Err(OAuthError::invalid_scope(
                "a refresh keeps the originally granted scope",
            ));
        }
    }
    Ok(refresh::rotate(state, &token, Some(&client.client_id)).await?)
}

async fn client_credentials_grant(
    state: &AppState,
    client: &Client,
    form: TokenForm,
) -> Result<Pair, OAuthError> {
    if client.public {
        return Err(OAuthError::unauthorized_client(
            "public clients cannot use client_credentials",
        ));
    }
    require_grant(client, "client_credentials")?;
    let scopes = resolve_scope(
        client,
        form.scope.as_deref(),
        &["openid", "profile", "email", "offline_access", "admin"],
    )?;
    if scopes
        .iter()
        .any(|s| ["openid", "offline_access", "admin"].contains(&s.as_str()))
    {
        return Err(OAuthError::invalid_scope(
            "openid, offline_access and admin need a user",
        ));
    }
    let subject = Subject {
        sub: client.client_id.clone(),
        user_id: None,
        client_id: client.client_id.clone(),
        scope: scopes.join(" "),
        audience: state.settings.default_audience.clone(),
    };
    Ok(refresh::issue_pair(state, &subject, false).await?)
}

#[derive(Deserialize)]
struct TokenParam {
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// RFC 7009: revoking an invalid or unknown token is still 200 (§2.2).
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let form: TokenParam = read_form(&req, payload).await?;
    let client = authenticate(
        &state,
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    let token = form
        .token
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    if let Some(hint) = form.token_type_hint.as_deref() {
        if hint != "access_token" && hint != "refresh_token" {
            return Err(OAuthError::unsupported_token_type(format!(
                "token_type_hint {:?} is not supported",
                truncate(hint)
            )));
        }
    }
    let keys = state.keys.store.snapshot();
    let verifier = state.verifier(&keys, state.clock.now());
    if let Ok(claims) = verifier.refresh(&token) {
        if claims.client_id == client.client_id {
            refresh::revoke_family_of(&state, &claims, "revoked by client").await?;
        }
    } else if let Ok(claims) = verifier.access(&token) {
        if claims.client_id == client.client_id {
            let (hash, exp) = (digest_hex(&claims.jti), claims.exp);
            state
                .db
                .write(move |conn| repo::refresh::revoke_access(conn, &hash, exp))
                .await?;
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// RFC 7662: active only for a valid, unrevoked token of a user still enabled.
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let form: TokenParam = read_form(&req, payload).await?;
    let client = authenticate(
        &state,
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    // RFC 7662 §2.1, §4: a public client presents no credentials, so naming one (the
    // built-in `simplejwt` client, say) authenticates nobody and would open the endpoint
    // to token scanning.
    if client.public {
        return Err(OAuthError::invalid_client(false));
    }
    let token = form
        .token
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let inactive = || {
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({ "active": false }))
    };
    let keys = state.keys.store.snapshot();
    let verifier = state.verifier(&keys, state.clock.now());
    let (claims, token_type, live) = if let Ok(c) = verifier.access(&token) {
        let hash = digest_hex(&c.jti);
        let revoked = state
            .db
            .run(move |conn| repo::refresh::access_revoked(conn, &hash))
            .await?;
        (
            serde_json::to_value(&c).unwrap_or_default(),
            "Bearer",
            !revoked,
        )
    } else if let Ok(c) = verifier.refresh(&token) {
        let live = refresh::is_live(&state, &c).await?;
        (
            serde_json::to_value(&c).unwrap_or_default(),
            "refresh_token",
            live,
        )
    } else {
        return Ok(inactive());
    };
    if !live || !subject_active(&state, &claims).await? {
        return Ok(inactive());
    }
    let mut body = claims;
    body["active"] = json!(true);
    body["token_type"] = json!(token_type);
    // Only user-bound tokens name a user; RFC 7662 §2.2 has `username` a string when present.
    if body.get("user_id").is_some() {
        let sub = body["sub"].as_str().unwrap_or_default().to_string();
        if let Some(username) = lookup_username(&state, &sub).await? {
            body["username"] = json!(username);
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// A user-bound token is active only while its user exists and is enabled.
async fn subject_active(state: &AppState, claims: &serde_json::Value) -> Result<bool, OAuthError> {
    if claims.get("user_id").is_none() {
        return Ok(true); // client_credentials: the client was authenticated or exists
    }
    let sub = claims["sub"].as_str().unwrap_or_default().to_string();
    let user = state
        .db
        .run(move |conn| repo::users::find_by_id(conn, &sub))
        .await?;
    Ok(user.is_some_and(|u| !u.disabled))
}

async fn lookup_username(state: &AppState, sub: &str) -> Result<Option<String>, OAuthError> {
    let sub = sub.to_string();
    Ok(state
        .db
        .run(move |conn| repo::users::find_by_id(conn, &sub))
        .await?
        .map(|u| u.username))
}
