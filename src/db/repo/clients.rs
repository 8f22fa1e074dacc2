//! Rows of `clients`. Lists are stored as JSON arrays (URIs) or space-separated (grants,
//! scopes), so both backends share plain text columns.

use diesel::prelude::*;

use crate::db::alg::Alg;
use crate::db::repo::keyset::{prefix_bounds, PageQuery};
use crate::db::schema::clients::dsl as c;
use crate::db::{DbConn, DbError};

type Row = (
    String,
    Option<String>,
    bool,
    String,
    String,
    String,
    String,
    bool,
    bool,
    i64,
    bool,
    bool,
    Option<String>,
    String,
    bool,
);

/// A registered client. Its secret exists only as a SHA-256 digest.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Client {
    pub client_id: String,
    #[serde(skip)]
    pub secret_hash: Option<String>,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grants: Vec<String>,
    pub scopes: Vec<String>,
    pub consent: bool,
    pub disabled: bool,
    pub created_at: i64,
    /// A resource server that may introspect tokens issued to other clients (RFC 7662 §4).
    pub introspect_any: bool,
    /// Declared in `CLIENTS_FILE`: changed only by applying the file.
    pub managed: bool,
    /// What its access and refresh tokens are signed with; `None`: `ACCESS_TOKEN_ALG`.
    pub access_token_alg: Option<Alg>,
    /// What its id_tokens are signed with (`id_token_signed_response_alg`; RS256 unless
    /// chosen, as OpenID Connect Registration §2 says).
    pub id_token_alg: Alg,
    /// Everyone who signs in to it needs a second factor.
    pub require_mfa: bool,
}

impl Client {
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grants.iter().any(|g| g == grant)
    }
    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

fn from_row(r: Row) -> Client {
    let words = |s: &str| {
        s.split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    Client {
        client_id: r.0,
        secret_hash: r.1,
        public: r.2,
        redirect_uris: serde_json::from_str(&r.3).unwrap_or_default(),
        post_logout_redirect_uris: serde_json::from_str(&r.4).unwrap_or_default(),
        grants: words(&r.5),
        scopes: words(&r.6),
        consent: r.7,
        disabled: r.8,
        created_at: r.9,
        introspect_any: r.10,
        managed: r.11,
        // The columns' CHECK constraints admit only the three names.
        access_token_alg: r.12.and_then(|a| a.parse().ok()),
        id_token_alg: r.13.parse().unwrap_or(Alg::Rs256),
        require_mfa: r.14,
    }
}

#[allow(clippy::type_complexity)]
const COLUMNS: (
    c::id,
    c::secret_hash,
    c::is_public,
    c::redirect_uris,
    c::post_logout_redirect_uris,
    c::grants,
    c::scopes,
    c::consent,
    c::disabled,
    c::created_at,
    c::introspect_any,
    c::managed,
    c::access_token_alg,
    c::id_token_alg,
    c::require_mfa,
) = (
    c::id,
    c::secret_hash,
    c::is_public,
    c::redirect_uris,
    c::post_logout_redirect_uris,
    c::grants,
    c::scopes,
    c::consent,
    c::disabled,
    c::created_at,
    c::introspect_any,
    c::managed,
    c::access_token_alg,
    c::id_token_alg,
    c::require_mfa,
);

pub fn find(conn: &mut DbConn, id: &str) -> Result<Option<Client>, DbError> {
    let row: Option<Row> = c::clients
        .filter(c::id.eq(id))
        .select(COLUMNS)
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)?;
    Ok(row.map(from_row))
}

/// Every client, in id order: what the clients file is planned against (clients are few;
/// the admin lists read a page at a time with [`page`]).
pub fn list(conn: &mut DbConn) -> Result<Vec<Client>, DbError> {
    let rows: Vec<Row> = c::clients
        .select(COLUMNS)
        .order(c::id.asc())
        .load(conn)
        .map_err(DbError::from_diesel)?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// One page of clients in id order: after `q.after`, only ids starting with `q.prefix`;
/// [`PageQuery::rows_to_read`] rows at most, each condition a range of the primary key.
pub fn page(conn: &mut DbConn, q: &PageQuery) -> Result<Vec<Client>, DbError> {
    let mut query = c::clients.select(COLUMNS).into_boxed();
    if let Some(after) = &q.after {
        query = query.filter(c::id.gt(after.clone()));
    }
    if let Some(prefix) = &q.prefix {
        let (low, high) = prefix_bounds(prefix);
        query = query.filter(c::id.ge(low));
        if let Some(high) = high {
            query = query.filter(c::id.lt(high));
        }
    }
    let rows: Vec<Row> = query
        .order(c::id.asc())
        .limit(q.rows_to_read())
        .load(conn)
        .map_err(DbError::from_diesel)?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Inserts a client; `DbError::Conflict` when the id is taken.
pub fn insert(conn: &mut DbConn, client: &Client) -> Result<(), DbError> {
    let (id, settings) = (c::id.eq(&client.client_id), settings(client));
    diesel::insert_into(c::clients)
        .values((id, settings, c::created_at.eq(client.created_at)))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// Replaces everything of a client but its id and creation time (applying `CLIENTS_FILE`).
pub fn replace(conn: &mut DbConn, client: &Client) -> Result<bool, DbError> {
    diesel::update(c::clients.filter(c::id.eq(&client.client_id)))
        .set(settings(client))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(DbError::from_diesel)
}

/// The stored columns of a client, other than its id and creation time.
#[allow(clippy::type_complexity)]
fn settings(
    client: &Client,
) -> (
    diesel::dsl::Eq<c::secret_hash, Option<String>>,
    diesel::dsl::Eq<c::is_public, bool>,
    diesel::dsl::Eq<c::redirect_uris, String>,
    diesel::dsl::Eq<c::post_logout_redirect_uris, String>,
    diesel::dsl::Eq<c::grants, String>,
    diesel::dsl::Eq<c::scopes, String>,
    diesel::dsl::Eq<c::consent, bool>,
    diesel::dsl::Eq<c::disabled, bool>,
    diesel::dsl::Eq<c::introspect_any, bool>,
    diesel::dsl::Eq<c::managed, bool>,
    diesel::dsl::Eq<c::access_token_alg, Option<&'static str>>,
    diesel::dsl::Eq<c::id_token_alg, &'static str>,
    diesel::dsl::Eq<c::require_mfa, bool>,
) {
    let json = |uris: &Vec<String>| serde_json::to_string(uris).unwrap_or_else(|_| "[]".into());
    (
        c::secret_hash.eq(client.secret_hash.clone()),
        c::is_public.eq(client.public),
        c::redirect_uris.eq(json(&client.redirect_uris)),
        c::post_logout_redirect_uris.eq(json(&client.post_logout_redirect_uris)),
        c::grants.eq(client.grants.join(" ")),
        c::scopes.eq(client.scopes.join(" ")),
        c::consent.eq(client.consent),
        c::disabled.eq(client.disabled),
        c::introspect_any.eq(client.introspect_any),
        c::managed.eq(client.managed),
        c::access_token_alg.eq(client.access_token_alg.map(Alg::as_str)),
        c::id_token_alg.eq(client.id_token_alg.as_str()),
        c::require_mfa.eq(client.require_mfa),
    )
}

pub fn set_require_mfa(conn: &mut DbConn, id: &str, required: bool) -> Result<bool, DbError> {
    diesel::update(c::clients.filter(c::id.eq(id)))
        .set(c::require_mfa.eq(required))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(DbError::from_diesel)
}

pub fn set_disabled(conn: &mut DbConn, id: &str, disabled: bool) -> Result<bool, DbError> {
    diesel::update(c::clients.filter(c::id.eq(id)))
        .set(c::disabled.eq(disabled))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(DbError::from_diesel)
}

pub fn set_secret_hash(conn: &mut DbConn, id: &str, hash: &str) -> Result<bool, DbError> {
    diesel::update(
        c::clients
            .filter(c::id.eq(id))
            .filter(c::is_public.eq(false)),
    )
    .set(c::secret_hash.eq(hash))
    .execute(conn)
    .map(|n| n > 0)
    .map_err(DbError::from_diesel)
}

pub fn delete(conn: &mut DbConn, id: &str) -> Result<bool, DbError> {
    diesel::delete(c::clients.filter(c::id.eq(id)))
        .execute(conn)
        .map(|n| n > 0)
        .map_err(DbError::from_diesel)
}
