//! The answer shapes of the JSON endpoints, as the OpenAPI document describes them: the
//! handlers and `openapi.rs` both import them from here. `tests/system/openapi.rs` runs
//! schemathesis against a live server, which fails when an answer stops matching its schema.

use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// An OAuth (RFC 6749 §5.2) or admin API error.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `invalid_token`, …
    error: String,
    error_description: String,
}

/// A simplejwt error: `detail` and `code`, and for a field error the field's messages
/// (`{"username": ["This field is required."]}`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SimpleJwtErrorBody {
    detail: String,
    /// `token_not_valid`, `no_active_account`, `invalid`, `throttled`, …
    code: String,
}

/// `{}`.
#[derive(ToSchema)]
pub struct Empty {}

/// simplejwt's pair.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenPair {
    access: String,
    refresh: String,
}

/// RFC 6749 §5.1 (and OpenID Connect Core §3.1.3.3 for `id_token`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenResponse {
    access_token: String,
    /// Always `Bearer`.
    token_type: String,
    expires_in: i64,
    scope: String,
    refresh_token: Option<String>,
    id_token: Option<String>,
}

/// RFC 7662 §2.2: `{"active": false}`, or the token's claims with `active: true`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Introspection {
    active: bool,
    scope: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    /// `Bearer` or `refresh_token`.
    token_type: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    sub: Option<String>,
    aud: Option<String>,
    iss: Option<String>,
    jti: Option<String>,
    /// simplejwt's user id: a number when the id is decimal.
    user_id: Option<Value>,
}

/// OpenID Connect Core §5.3.2: what the token's scopes allow.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserInfo {
    sub: String,
    /// With scope `profile`.
    preferred_username: Option<String>,
    /// With scope `email`.
    email: Option<String>,
    email_verified: Option<bool>,
}

/// OpenID Connect Discovery 1.0 §3 / RFC 8414 (the fields every client needs; more are sent).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    end_session_endpoint: String,
    response_types_supported: Vec<String>,
    subject_types_supported: Vec<String>,
    id_token_signing_alg_values_supported: Vec<String>,
}

/// RFC 7517 §5.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

/// An RSA public key (RFC 7518 §6.3.1).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Jwk {
    kty: String,
    #[schema(rename = "use")]
    use_: String,
    alg: String,
    kid: String,
    n: String,
    e: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Health {
    status: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Readiness {
    /// `ok` or `unreachable`.
    database: String,
    /// `ok` or `missing`.
    signing_key: String,
}

/// A signing key's public facts (never its private half). Times are Unix seconds.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Key {
    kid: String,
    /// `standby`, `next`, `current`, `retired` or `revoked`.
    state: String,
    bits: i32,
    created_at: i64,
    activated_at: Option<i64>,
    retired_at: Option<i64>,
    remove_after: Option<i64>,
    revoked_at: Option<i64>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KeyList {
    keys: Vec<Key>,
}

/// What a rotation or a revocation did. Times are Unix seconds.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RotationOutcome {
    /// Whether the key set changed.
    rotated: bool,
    /// The key that signs now.
    current: Option<String>,
    /// When the key that signs now was published.
    current_published_at: Option<i64>,
    next: Option<String>,
    standby: Option<String>,
    retired: Option<String>,
    revoked: Option<String>,
    /// Refresh families ended with the revoked key.
    families_revoked: u64,
    warning: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct User {
    sub: String,
    username: String,
    email: Option<String>,
    email_verified: bool,
    is_admin: bool,
    disabled: bool,
    created_at: i64,
}

/// One page, by username; `next` is the `after` of the following page, absent on the last.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserList {
    users: Vec<User>,
    next: Option<String>,
}

/// A page of a listing (`GET /admin/users`, `GET /admin/clients`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListQuery {
    /// The `next` of the previous page.
    after: Option<String>,
    /// Only users whose username or email, or clients whose client_id, starts with this
    /// (case-sensitive).
    prefix: Option<String>,
    /// Rows per page; 50 when absent.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(ToSchema, serde::Serialize)]
#[allow(dead_code)]
pub struct Client {
    client_id: String,
    public: bool,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    grants: Vec<String>,
    scopes: Vec<String>,
    consent: bool,
    disabled: bool,
    created_at: i64,
    introspect_any: bool,
    /// Declared in `CLIENTS_FILE`: the admin API refuses to change it (409).
    managed: bool,
}

/// A client as created: its secret is shown here once (absent for a public client).
#[derive(ToSchema, serde::Serialize)]
#[allow(dead_code)]
pub struct CreatedClient {
    #[schema(inline)]
    #[serde(flatten)]
    client: Client,
    client_secret: Option<String>,
}

/// One page, by client_id; `next` is the `after` of the following page, absent on the last.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ClientList {
    clients: Vec<Client>,
    next: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ClientSecret {
    client_id: String,
    client_secret: String,
}

/// A password reset link, shown once: the token exists nowhere else.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IssuedResetLink {
    /// `{issuer}/reset?token=…`, the page where the user sets a new password, once.
    url: String,
    /// Unix time after which the link is refused.
    expires_at: i64,
}

/// One event of the audit trail.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuditRecord {
    id: String,
    at: i64,
    kind: String,
    /// `success` or `failure`.
    outcome: String,
    actor: Option<String>,
    subject: Option<String>,
    client_addr: Option<String>,
    request_id: Option<String>,
    detail: Option<String>,
}

/// Newest first; `next` is the `after` of the next (older) page, absent on the last.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuditPage {
    records: Vec<AuditRecord>,
    next: Option<String>,
}

/// The audit trail's filters (`GET /admin/audit`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AuditQuery {
    /// An event kind, e.g. `user.created`.
    kind: Option<String>,
    /// The admin or user who acted.
    actor: Option<String>,
    /// Unix seconds, inclusive.
    since: Option<i64>,
    /// Unix seconds, inclusive.
    until: Option<i64>,
    /// The `next` of the previous page.
    after: Option<String>,
    /// Records per page; 50 when absent.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}
