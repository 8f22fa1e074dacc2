//! OpenID Connect Discovery 1.0 and RFC 8414 metadata: one document, built once at start
//! from `GATEHOUSE_ISSUER` and served as bytes.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::schemas::Discovery;
use crate::keys::Alg;
use crate::state::AppState;

/// `algs`: `SIGNING_ALGS`, each of which a client may choose for its id_tokens.
pub fn document(issuer: &str, algs: &[Alg]) -> bytes::Bytes {
    let doc = Discovery {
        issuer: issuer.to_string(),
        authorization_endpoint: format!("{issuer}/authorize"),
        token_endpoint: format!("{issuer}/token"),
        userinfo_endpoint: format!("{issuer}/userinfo"),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        revocation_endpoint: format!("{issuer}/revoke"),
        introspection_endpoint: format!("{issuer}/introspect"),
        end_session_endpoint: format!("{issuer}/logout"),
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
        frontchannel_logout_supported: true,
        frontchannel_logout_session_supported: true,
        scopes_supported: &["openid", "profile", "email", "offline_access"],
        response_types_supported: &["code"],
        response_modes_supported: &["query"],
        grant_types_supported: &[
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
        ],
        subject_types_supported: &["public"],
        id_token_signing_alg_values_supported: algs.iter().map(|a| a.as_str()).collect(),
        // Introspection answers JSON and userinfo JSON (never signed); request objects are
        // not accepted: none of their *_alg_values_supported applies.
        token_endpoint_auth_methods_supported: &[
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        revocation_endpoint_auth_methods_supported: &["client_secret_basic", "client_secret_post"],
        introspection_endpoint_auth_methods_supported: &[
            "client_secret_basic",
            "client_secret_post",
        ],
        code_challenge_methods_supported: &["S256"],
        claims_supported: &[
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "amr",
            "acr",
            "nonce",
            "sid",
            "at_hash",
            "preferred_username",
            "email",
            "email_verified",
        ],
        acr_values_supported: &crate::assurance::ACR_VALUES,
        prompt_values_supported: &["none", "login", "consent"],
        authorization_response_iss_parameter_supported: true,
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
    };
    bytes::Bytes::from(serde_json::to_vec(&doc).unwrap_or_default())
}

#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "discovery",
    responses((status = 200, description = "OpenID Connect Discovery 1.0; the same document at /.well-known/oauth-authorization-server (RFC 8414)", body = Discovery))
)]
pub async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(state.discovery.clone())
}
