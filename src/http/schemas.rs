//! The answer shapes of the JSON endpoints, as the OpenAPI document describes them: the
//! handlers and `openapi.rs` both import them from here. `tests/system/openapi.rs` runs
//! schemathesis against a live server, which fails when an answer stops matching its schema.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::accounts;
use crate::audit;
use crate::keys::{lifecycle, rotation};
use crate::sso::userinfo;
use crate::tokens::introspect::Introspected;

/// An OAuth (RFC 6749 §5.2) or admin API error.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `invalid_token`, …
    pub error: &'static str,
    pub error_description: String,
}

/// A simplejwt error: `detail` and `code`, and for a field error the field's messages
/// (`{"username": ["This field is required."]}`).
#[derive(Serialize, ToSchema)]
pub struct SimpleJwtErrorBody {
    pub detail: String,
    /// `token_not_valid`, `no_active_account`, `invalid`, `throttled`, `mfa_required`,
    /// `invalid_code`, …
    pub code: &'static str,
    /// DRF's field errors, beside `detail` and `code`: each field's messages. Left out of
    /// the schema (a flattened map would make `detail` and `code` arrays too); the object
    /// admits them as further properties.
    #[serde(flatten)]
    #[schema(ignore)]
    pub fields: FieldErrors,
}

/// `POST /api/token/` for a user with a second factor: the right password alone gives no
/// pair, but this single-use, short-lived token, which `/api/token/mfa/` takes with a code.
#[derive(Serialize, ToSchema)]
pub struct MfaRequiredBody<'a> {
    pub detail: &'static str,
    /// Always `mfa_required`.
    pub code: &'static str,
    pub mfa_token: &'a str,
    /// `totp`, `recovery_code`.
    pub methods: &'static [&'static str],
}

/// `POST /api/account/totp/`: the new secret, as text and as the URI an authenticator app
/// reads; it counts only after `/api/account/totp/confirm/`.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment<'a> {
    pub secret: &'a str,
    pub otpauth_uri: &'a str,
}

/// `POST /api/account/totp/confirm/`: the ten single-use recovery codes, shown this once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes<'a> {
    pub recovery_codes: Vec<&'a str>,
}

/// `GET /admin/users/{username}/sessions`: the user's live sessions, newest first.
#[derive(Serialize)]
pub struct UserSessions<T: Serialize> {
    pub sessions: Vec<T>,
}

/// `GET /admin/users/{username}/offline-access`: the applications' live refresh families,
/// which outlive a logout.
#[derive(Serialize)]
pub struct OfflineAccess<T: Serialize> {
    pub offline_access: Vec<T>,
}

/// `DELETE /admin/users/{username}/sessions`: how many sessions ended.
#[derive(Serialize, ToSchema)]
pub struct EndedSessions {
    pub ended: usize,
}

/// A field's name and its messages (`{"username": ["This field is required."]}`).
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// `{}`.
#[derive(Serialize, ToSchema)]
pub struct Empty {}

/// simplejwt's pair.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

/// RFC 6749 §5.1 (and OpenID Connect Core §3.1.3.3 for `id_token`).
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// RFC 7662 §2.2: `{"active": false}`, or the token's claims with `active: true` (one object,
/// so that a live token's answer matches one schema, not two).
#[derive(Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The user's name, for a user's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Bearer` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// simplejwt's user id: a number when the id is decimal.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "user_id_claim"
    )]
    #[schema(value_type = Option<serde_json::Value>)]
    pub user_id: Option<String>,
    /// How the user of an access token signed in (RFC 9068 §2.2.1, RFC 8176).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

/// simplejwt's `user_id` as the tokens carry it: a number when the id is decimal.
fn user_id_claim<S: serde::Serializer>(id: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    crate::tokens::claims::user_id_claim::serialize(id, s)
}

impl From<Introspected> for Introspection {
    fn from(found: Introspected) -> Self {
        match found {
            Introspected::Inactive => Introspection {
                active: false,
                scope: None,
                client_id: None,
                username: None,
                token_type: None,
                exp: None,
                iat: None,
                sub: None,
                aud: None,
                iss: None,
                jti: None,
                user_id: None,
                auth_time: None,
                amr: None,
                acr: None,
            },
            Introspected::Active(t) => {
                let t = *t;
                Introspection {
                    active: true,
                    scope: Some(t.claims.scope),
                    client_id: Some(t.claims.client_id),
                    username: t.username,
                    token_type: Some(t.token_type),
                    exp: Some(t.claims.exp),
                    iat: Some(t.claims.iat),
                    sub: Some(t.claims.sub),
                    aud: Some(t.claims.aud),
                    iss: Some(t.claims.iss),
                    jti: Some(t.claims.jti),
                    user_id: t.claims.user_id,
                    auth_time: t.claims.auth_time,
                    amr: t.claims.amr,
                    acr: t.claims.acr,
                }
            }
        }
    }
}

/// OpenID Connect Core §5.3.2: what the token's scopes allow.
#[derive(Serialize, ToSchema)]
pub struct UserInfo {
    pub sub: String,
    /// With scope `profile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// With scope `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl From<userinfo::Claims> for UserInfo {
    fn from(c: userinfo::Claims) -> Self {
        UserInfo {
            sub: c.sub,
            preferred_username: c.preferred_username,
            email: c.email,
            email_verified: c.email_verified,
        }
    }
}

/// OpenID Connect Discovery 1.0 §3 / RFC 8414.
#[derive(Serialize, ToSchema)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub end_session_endpoint: String,
    /// OpenID Connect Back-Channel Logout 1.0: clients may register a
    /// `backchannel_logout_uri`; the logout token carries `sid`.
    pub backchannel_logout_supported: bool,
    pub backchannel_logout_session_supported: bool,
    /// OpenID Connect Front-Channel Logout 1.0, with `iss` and `sid`.
    pub frontchannel_logout_supported: bool,
    pub frontchannel_logout_session_supported: bool,
    pub scopes_supported: &'static [&'static str],
    pub response_types_supported: &'static [&'static str],
    pub response_modes_supported: &'static [&'static str],
    pub grant_types_supported: &'static [&'static str],
    pub subject_types_supported: &'static [&'static str],
    /// `SIGNING_ALGS`: each may sign a client's id_tokens.
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: &'static [&'static str],
    pub revocation_endpoint_auth_methods_supported: &'static [&'static str],
    pub introspection_endpoint_auth_methods_supported: &'static [&'static str],
    pub code_challenge_methods_supported: &'static [&'static str],
    pub claims_supported: &'static [&'static str],
    /// The `acr` values issued, lowest first (`acr_values` may ask for them).
    pub acr_values_supported: &'static [&'static str],
    pub prompt_values_supported: &'static [&'static str],
    pub authorization_response_iss_parameter_supported: bool,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
}

/// RFC 7517 §5.
#[derive(Serialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// An RSA public key (RFC 7518 §6.3.1).
#[derive(Serialize, ToSchema)]
pub struct Jwk {
    pub kty: String,
    #[schema(rename = "use")]
    pub use_: String,
    pub alg: String,
    pub kid: String,
    pub n: String,
    pub e: String,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` or `unreachable`.
    pub database: &'static str,
    /// `ok` or `missing`.
    pub signing_key: &'static str,
}

/// A signing key's public facts (never its private half). Times are Unix seconds.
#[derive(Serialize, ToSchema)]
pub struct Key {
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`: each algorithm has its own line of keys.
    pub alg: &'static str,
    /// `standby`, `next`, `current`, `retired` or `revoked`.
    pub state: &'static str,
    pub bits: i32,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub remove_after: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl From<lifecycle::KeyRecord> for Key {
    fn from(k: lifecycle::KeyRecord) -> Self {
        Key {
            kid: k.kid,
            alg: k.alg.as_str(),
            state: k.state.as_str(),
            bits: k.bits,
            created_at: k.created_at,
            activated_at: k.activated_at,
            retired_at: k.retired_at,
            remove_after: k.remove_after,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    pub keys: Vec<Key>,
}

/// What a rotation or a revocation did. Times are Unix seconds.
#[derive(Serialize, ToSchema)]
pub struct RotationOutcome {
    /// The algorithm whose line this is.
    pub alg: Option<&'static str>,
    /// Whether the key set changed.
    pub rotated: bool,
    /// The key that signs now.
    pub current: Option<String>,
    /// When the key that signs now was published.
    pub current_published_at: Option<i64>,
    pub next: Option<String>,
    pub standby: Option<String>,
    pub retired: Option<String>,
    pub revoked: Option<String>,
    /// Refresh families ended with the revoked key.
    pub families_revoked: u64,
    pub warning: Option<String>,
    /// A rotation of every algorithm: the outcomes of the other lines, each of this shape
    /// (absent when one line was rotated).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub also: Vec<RotationOutcome>,
}

impl From<rotation::RotationOutcome> for RotationOutcome {
    fn from(o: rotation::RotationOutcome) -> Self {
        RotationOutcome {
            alg: o.alg.map(|a| a.as_str()),
            rotated: o.rotated,
            current: o.current,
            current_published_at: o.current_published_at,
            next: o.next,
            standby: o.standby,
            retired: o.retired,
            revoked: o.revoked,
            families_revoked: o.families_revoked as u64,
            warning: o.warning,
            also: o.also.into_iter().map(RotationOutcome::from).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct User {
    pub sub: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: i64,
    /// A second factor is required of the user (`PUT …/require-mfa`).
    pub require_mfa: bool,
}

impl From<accounts::User> for User {
    fn from(u: accounts::User) -> Self {
        User {
            sub: u.id,
            username: u.username,
            email: u.email,
            email_verified: u.email_verified,
            is_admin: u.is_admin,
            disabled: u.disabled,
            created_at: u.created_at,
            require_mfa: u.require_mfa,
        }
    }
}

/// One page, by username; `next` is the `after` of the following page, absent on the last.
#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
    pub next: Option<String>,
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

#[derive(Serialize, ToSchema)]
pub struct Client {
    pub client_id: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grants: Vec<String>,
    pub scopes: Vec<String>,
    pub consent: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub introspect_any: bool,
    /// Declared in `CLIENTS_FILE`: the admin API refuses to change it (409).
    pub managed: bool,
    /// What its access and refresh tokens are signed with; null: `ACCESS_TOKEN_ALG`.
    pub access_token_alg: Option<&'static str>,
    /// What its id_tokens are signed with.
    pub id_token_alg: &'static str,
    /// Everyone who signs in to it needs a second factor.
    pub require_mfa: bool,
}

impl From<accounts::clients::Client> for Client {
    fn from(c: accounts::clients::Client) -> Self {
        Client {
            client_id: c.client_id,
            public: c.public,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            grants: c.grants,
            scopes: c.scopes,
            consent: c.consent,
            disabled: c.disabled,
            created_at: c.created_at,
            introspect_any: c.introspect_any,
            managed: c.managed,
            access_token_alg: c.access_token_alg.map(|a| a.as_str()),
            id_token_alg: c.id_token_alg.as_str(),
            require_mfa: c.require_mfa,
        }
    }
}

/// A client as created: its secret is shown here once (absent for a public client).
#[derive(Serialize, ToSchema)]
pub struct CreatedClient {
    #[schema(inline)]
    #[serde(flatten)]
    pub client: Client,
    pub client_secret: Option<String>,
}

/// One page, by client_id; `next` is the `after` of the following page, absent on the last.
#[derive(Serialize, ToSchema)]
pub struct ClientList {
    pub clients: Vec<Client>,
    pub next: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClientSecret {
    pub client_id: String,
    pub client_secret: String,
}

/// A password reset link, shown once: the token exists nowhere else.
#[derive(Serialize, ToSchema)]
pub struct IssuedResetLink {
    /// `{issuer}/reset?token=…`, the page where the user sets a new password, once.
    pub url: String,
    /// Unix time after which the link is refused.
    pub expires_at: i64,
}

/// One event of the audit trail.
#[derive(Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: String,
    pub at: i64,
    pub kind: String,
    /// `success` or `failure`.
    pub outcome: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

impl From<audit::AuditRecord> for AuditRecord {
    fn from(r: audit::AuditRecord) -> Self {
        AuditRecord {
            id: r.id,
            at: r.at,
            kind: r.kind,
            outcome: r.outcome,
            actor: r.actor,
            subject: r.subject,
            client_addr: r.client_addr,
            request_id: r.request_id,
            detail: r.detail,
        }
    }
}

/// Newest first; `next` is the `after` of the next (older) page, absent on the last.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    pub next: Option<String>,
}

impl From<audit::Page> for AuditPage {
    fn from(p: audit::Page) -> Self {
        AuditPage {
            records: p.records.into_iter().map(AuditRecord::from).collect(),
            next: p.next,
        }
    }
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

/// A user's second factors as an admin sees them (never a secret).
#[derive(Serialize, ToSchema)]
pub struct UserFactors {
    pub username: String,
    /// What is set up: `{"kind": "totp", "since": …}` for a confirmed authenticator app.
    pub factors: Vec<Factor>,
    /// An authenticator-app enrolment started and not confirmed.
    pub enrolment_pending: bool,
    pub recovery_codes_left: i64,
    /// A policy requires a second factor of the user (their own, or `MFA_FOR_ADMINS`).
    pub mfa_required: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Factor {
    /// `totp` (an authenticator app).
    pub kind: &'static str,
    /// When it was confirmed (Unix seconds).
    pub since: i64,
}

impl UserFactors {
    pub fn of(
        username: String,
        f: crate::accounts::factors::FactorSummary,
        required: bool,
    ) -> Self {
        UserFactors {
            username,
            factors: f
                .totp_since
                .map(|since| Factor {
                    kind: "totp",
                    since,
                })
                .into_iter()
                .collect(),
            enrolment_pending: f.totp_pending,
            recovery_codes_left: f.recovery_codes_left,
            mfa_required: required,
        }
    }
}
