//! `CLIENTS_FILE`: OAuth clients declared in TOML, applied at every start and by
//! `gatehouse clients apply FILE`.
//!
//! The whole file is read and checked before anything changes; an error names the file and
//! the line. The changes are then made in one write transaction under the key-rotation lock,
//! so that instances starting together on one database converge (the first applies, the
//! others find nothing left to do). A declared client is marked managed: the admin API, the
//! console and the one-client CLI commands refuse to change it.
//!
//! A managed client that is no longer declared is disabled (its refresh tokens end) and
//! handed back (unmanaged), so that an operator may delete it or declare it again. Deleting
//! it at once, as Dex and Kanidm do, would revoke everything it was issued because of one
//! line removed by mistake; disabling is undone by declaring it again.
//!
//! An entry may also register the client's logout endpoints (`backchannel_logout_uri` and
//! the others of `PUT /admin/clients/{id}/logout`), checked by the same rule; an entry
//! without them has none.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::clients::{checked_client, Client};
use super::{AccountError, Accounts, NewClientRequest};
use crate::audit::{self, Event, Kind};
use crate::db::alg::{Alg, AlgSet};
pub use crate::db::repo::logout::LogoutEndpoints;
use crate::db::{repo, DbError};
use crate::digest::digest_hex;
use crate::domain::{check_logout_flags, check_logout_uri, ClientId, RedirectUri};

#[derive(Debug, thiserror::Error)]
pub enum ClientsFileError {
    #[error("{path}:{line}: {reason}")]
    Invalid {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("cannot read the clients file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    client: Vec<Entry>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum ClientKind {
    Confidential,
    Public,
}

/// One `[[client]]` table. A secret is never in clear: its SHA-256 digest, or the name of
/// an environment variable read at apply time.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: Spanned<String>,
    kind: ClientKind,
    #[serde(default)]
    redirect_uris: Vec<Spanned<String>>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<Spanned<String>>,
    #[serde(default)]
    grants: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    consent: bool,
    #[serde(default)]
    introspect_any: bool,
    /// Everyone who signs in to it needs a second factor.
    #[serde(default)]
    require_mfa: bool,
    #[serde(default)]
    disabled: bool,
    /// `RS256`, `ES256` or `EdDSA`; absent: `ACCESS_TOKEN_ALG`.
    access_token_alg: Option<Alg>,
    /// absent: RS256.
    id_token_alg: Option<Alg>,
    secret_sha256: Option<Spanned<String>>,
    secret_env: Option<Spanned<String>>,
    backchannel_logout_uri: Option<Spanned<String>>,
    #[serde(default)]
    backchannel_logout_session_required: bool,
    frontchannel_logout_uri: Option<Spanned<String>>,
    #[serde(default)]
    frontchannel_logout_session_required: bool,
}

/// A declared client with its logout endpoints (both URIs `None`: it has none).
#[derive(Debug, Clone)]
pub struct Declared {
    pub client: Client,
    pub logout: LogoutEndpoints,
}

/// Reads and checks `path`; `env` looks up the variables that `secret_env` names; `issuer`
/// decides whether a logout URI may be plain http (see [`check_logout_uri`]).
pub fn read(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    now: i64,
    signing_algs: AlgSet,
    issuer: &str,
) -> Result<Vec<Declared>, ClientsFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ClientsFileError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    parse(&text, env, now, signing_algs, issuer).map_err(|(line, reason)| {
        ClientsFileError::Invalid {
            path: path.display().to_string(),
            line,
            reason,
        }
    })
}

/// The declared clients, each checked by the registration rules, or the line and reason of
/// the first error.
fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    now: i64,
    signing_algs: AlgSet,
    issuer: &str,
) -> Result<Vec<Declared>, (usize, String)> {
    let line_of = |span: std::ops::Range<usize>| {
        let before = &text.as_bytes()[..span.start.min(text.len())];
        before.iter().filter(|&&b| b == b'\n').count() + 1
    };
    // The message only: toml's full report quotes the line, which may hold a secret.
    let document: Document = toml::from_str(text).map_err(|e| {
        let line = e.span().map(line_of).unwrap_or(1);
        (line, e.message().trim_end().to_string())
    })?;
    let mut first_line: HashMap<String, usize> = HashMap::new();
    let mut clients = Vec::with_capacity(document.client.len());
    for entry in document.client {
        let id_line = line_of(entry.id.span());
        let id = entry.id.get_ref().clone();
        ClientId::parse(&id).map_err(|e| (id_line, format!("client id {id:?}: {e}")))?;
        if let Some(first) = first_line.insert(id.clone(), id_line) {
            return Err((
                id_line,
                format!("client {id} is declared twice (first at line {first})"),
            ));
        }
        for uri in entry
            .redirect_uris
            .iter()
            .chain(&entry.post_logout_redirect_uris)
        {
            RedirectUri::parse(uri.get_ref())
                .map_err(|e| (line_of(uri.span()), format!("{}: {e}", uri.get_ref())))?;
        }
        for (what, uri) in [
            ("backchannel_logout_uri", &entry.backchannel_logout_uri),
            ("frontchannel_logout_uri", &entry.frontchannel_logout_uri),
        ] {
            if let Some(uri) = uri {
                check_logout_uri(uri.get_ref(), issuer, what)
                    .map_err(|e| (line_of(uri.span()), format!("client {id}: {e}")))?;
            }
        }
        // The registration's rule: a flag without its URI would be dropped on storing, and
        // the file would differ from the store at every apply.
        check_logout_flags(
            spanned_str(&entry.backchannel_logout_uri),
            entry.backchannel_logout_session_required,
            spanned_str(&entry.frontchannel_logout_uri),
            entry.frontchannel_logout_session_required,
        )
        .map_err(|e| (id_line, format!("client {id}: {e}")))?;
        let logout = LogoutEndpoints {
            client_id: id.clone(),
            backchannel_logout_uri: entry
                .backchannel_logout_uri
                .clone()
                .map(Spanned::into_inner),
            backchannel_logout_session_required: entry.backchannel_logout_session_required,
            frontchannel_logout_uri: entry
                .frontchannel_logout_uri
                .clone()
                .map(Spanned::into_inner),
            frontchannel_logout_session_required: entry.frontchannel_logout_session_required,
        };
        let secret_hash = secret_digest(&entry, env).map_err(|(span, reason)| {
            (
                span.map(line_of).unwrap_or(id_line),
                format!("client {id}: {reason}"),
            )
        })?;
        let unspanned =
            |uris: Vec<Spanned<String>>| uris.into_iter().map(Spanned::into_inner).collect();
        let request = NewClientRequest {
            client_id: id.clone(),
            public: entry.kind == ClientKind::Public,
            redirect_uris: unspanned(entry.redirect_uris),
            post_logout_redirect_uris: unspanned(entry.post_logout_redirect_uris),
            grants: entry.grants,
            scopes: entry.scopes,
            consent: entry.consent,
            introspect_any: entry.introspect_any,
            access_token_alg: entry.access_token_alg,
            id_token_alg: entry.id_token_alg,
        };
        let mut client = checked_client(request, now, signing_algs).map_err(|e| match e {
            AccountError::Invalid(m) => (id_line, format!("client {id}: {m}")),
            other => (id_line, other.to_string()),
        })?;
        client.secret_hash = secret_hash;
        client.disabled = entry.disabled;
        client.require_mfa = entry.require_mfa;
        client.managed = true;
        clients.push(Declared { client, logout });
    }
    Ok(clients)
}

/// The stored digest of an entry's secret: none for a public client, exactly one source for
/// a confidential one. An error carries the span it is about, when it has one.
fn secret_digest(
    entry: &Entry,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, (Option<std::ops::Range<usize>>, String)> {
    match (entry.kind, &entry.secret_sha256, &entry.secret_env) {
        (ClientKind::Public, None, None) => Ok(None),
        (ClientKind::Public, Some(s), _) | (ClientKind::Public, None, Some(s)) => {
            Err((Some(s.span()), "a public client has no secret".into()))
        }
        (ClientKind::Confidential, Some(_), Some(s)) => Err((
            Some(s.span()),
            "give secret_sha256 or secret_env, not both".into(),
        )),
        (ClientKind::Confidential, None, None) => Err((
            None,
            "a confidential client needs secret_sha256 or secret_env".into(),
        )),
        (ClientKind::Confidential, Some(digest), None) => {
            let hex = digest.get_ref().to_ascii_lowercase();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err((
                    Some(digest.span()),
                    "secret_sha256 must be 64 hexadecimal digits (sha256sum of the secret)".into(),
                ));
            }
            Ok(Some(hex))
        }
        // A value that is no conventional variable name may be the secret itself, put in
        // the wrong key: refused without echoing it.
        (ClientKind::Confidential, None, Some(name)) if !is_variable_name(name.get_ref()) => Err((
            Some(name.span()),
            "secret_env names an environment variable (A-Z, 0-9, _), not the secret".into(),
        )),
        (ClientKind::Confidential, None, Some(name)) => match env(name.get_ref()) {
            Some(secret) if !secret.is_empty() => Ok(Some(digest_hex(&secret))),
            Some(_) => Err((
                Some(name.span()),
                format!("environment variable {} is empty", name.get_ref()),
            )),
            None => Err((
                Some(name.span()),
                format!("environment variable {} is not set", name.get_ref()),
            )),
        },
    }
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// What applying the file does to one client.
#[derive(Debug, Clone)]
pub enum Change {
    Create(Declared),
    /// The stored client, replaced by the declared one; `fields` names what differs.
    Update {
        client: Declared,
        fields: Vec<&'static str>,
        disables: bool,
    },
    /// A managed client no longer declared: disabled and unmanaged.
    Release(Client),
}

impl Change {
    /// Whether the change disables a client that was enabled: its refresh tokens end.
    fn disables(&self) -> bool {
        match self {
            Change::Create(_) => false,
            Change::Update { disables, .. } => *disables,
            Change::Release(_) => true,
        }
    }
}

/// Every change, in the order of the file then of the stored ids, and the ids left as they
/// are.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub unchanged: Vec<String>,
}

impl fmt::Display for Change {
    // Names and field names only: never a secret or its digest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Create(d) => {
                let kind = if d.client.public {
                    "public"
                } else {
                    "confidential"
                };
                write!(f, "create {} ({kind})", d.client.client_id)
            }
            Change::Update { client, fields, .. } => {
                write!(
                    f,
                    "update {}: {}",
                    client.client.client_id,
                    fields.join(", ")
                )
            }
            Change::Release(c) => write!(
                f,
                "disable {}: no longer declared (now unmanaged; delete it or declare it again)",
                c.client_id
            ),
        }
    }
}

/// The fields in which `declared` differs from `stored` (with its logout endpoints).
fn differences(
    declared: &Declared,
    stored: &Client,
    stored_logout: &LogoutEndpoints,
) -> Vec<&'static str> {
    let (logout, declared) = (&declared.logout, &declared.client);
    let checks = [
        (declared.public != stored.public, "kind"),
        (declared.secret_hash != stored.secret_hash, "secret"),
        (
            declared.redirect_uris != stored.redirect_uris,
            "redirect_uris",
        ),
        (
            declared.post_logout_redirect_uris != stored.post_logout_redirect_uris,
            "post_logout_redirect_uris",
        ),
        (declared.grants != stored.grants, "grants"),
        (declared.scopes != stored.scopes, "scopes"),
        (declared.consent != stored.consent, "consent"),
        (
            declared.introspect_any != stored.introspect_any,
            "introspect_any",
        ),
        (declared.disabled != stored.disabled, "disabled"),
        (declared.managed != stored.managed, "managed"),
        (
            declared.access_token_alg != stored.access_token_alg,
            "access_token_alg",
        ),
        (declared.id_token_alg != stored.id_token_alg, "id_token_alg"),
        (
            logout.backchannel_logout_uri != stored_logout.backchannel_logout_uri,
            "backchannel_logout_uri",
        ),
        (
            logout.backchannel_logout_session_required
                != stored_logout.backchannel_logout_session_required,
            "backchannel_logout_session_required",
        ),
        (
            logout.frontchannel_logout_uri != stored_logout.frontchannel_logout_uri,
            "frontchannel_logout_uri",
        ),
        (
            logout.frontchannel_logout_session_required
                != stored_logout.frontchannel_logout_session_required,
            "frontchannel_logout_session_required",
        ),
        (declared.require_mfa != stored.require_mfa, "require_mfa"),
    ];
    checks
        .into_iter()
        .filter(|(differs, _)| *differs)
        .map(|(_, name)| name)
        .collect()
}

/// What it takes for `stored` (with the stored logout endpoints) to match `declared`.
fn plan(declared: &[Declared], stored: &[Client], stored_logout: &[LogoutEndpoints]) -> Plan {
    let by_id: HashMap<&str, &Client> = stored.iter().map(|c| (c.client_id.as_str(), c)).collect();
    let logout_of: HashMap<&str, &LogoutEndpoints> = stored_logout
        .iter()
        .map(|e| (e.client_id.as_str(), e))
        .collect();
    let none = LogoutEndpoints::default();
    let mut plan = Plan::default();
    for d in declared {
        let id = d.client.client_id.as_str();
        match by_id.get(id) {
            None => plan.changes.push(Change::Create(d.clone())),
            Some(old) => {
                let fields = differences(d, old, logout_of.get(id).copied().unwrap_or(&none));
                if fields.is_empty() {
                    plan.unchanged.push(id.to_string());
                } else {
                    let mut client = d.clone();
                    client.client.created_at = old.created_at;
                    plan.changes.push(Change::Update {
                        disables: client.client.disabled && !old.disabled,
                        client,
                        fields,
                    });
                }
            }
        }
    }
    let declared_ids: std::collections::HashSet<&str> = declared
        .iter()
        .map(|d| d.client.client_id.as_str())
        .collect();
    for old in stored {
        if old.managed && !declared_ids.contains(old.client_id.as_str()) {
            let mut released = old.clone();
            released.disabled = true;
            released.managed = false;
            plan.changes.push(Change::Release(released));
        }
    }
    plan
}

impl Accounts {
    /// Makes the stored clients match `declared` (from [`read`]) in one transaction, and
    /// records each change in the audit trail; or, with `dry_run`, only says what it would
    /// change.
    pub async fn apply_clients_file(
        &self,
        declared: Vec<Declared>,
        dry_run: bool,
    ) -> Result<Plan, ClientsFileError> {
        if dry_run {
            let (stored, logout) = self
                .db
                .run(|conn| {
                    Ok::<_, DbError>((
                        repo::clients::list(conn)?,
                        repo::logout::all_endpoints(conn)?,
                    ))
                })
                .await?;
            return Ok(plan(&declared, &stored, &logout));
        }
        let context = audit::current_context();
        let now = self.clock.now();
        let applied = self
            .db
            .write(move |conn| {
                // Serialises instances starting together on PostgreSQL (SQLite's BEGIN
                // IMMEDIATE already does): the second plans against the first one's result.
                repo::meta::lock_key_rotation(conn)?;
                let stored = repo::clients::list(conn)?;
                let logout = repo::logout::all_endpoints(conn)?;
                let plan = plan(&declared, &stored, &logout);
                for change in &plan.changes {
                    let (kind, client, detail) = match change {
                        Change::Create(d) => {
                            repo::clients::insert(conn, &d.client)?;
                            repo::logout::set_endpoints(conn, &d.logout)?;
                            (Kind::ClientCreated, &d.client, "clients file".to_string())
                        }
                        Change::Update {
                            client: d, fields, ..
                        } => {
                            repo::clients::replace(conn, &d.client)?;
                            repo::logout::set_endpoints(conn, &d.logout)?;
                            let detail = format!("clients file: {}", fields.join(","));
                            (Kind::ClientUpdated, &d.client, detail)
                        }
                        Change::Release(c) => {
                            repo::clients::replace(conn, c)?;
                            (
                                Kind::ClientDisabled,
                                c,
                                "no longer in the clients file".into(),
                            )
                        }
                    };
                    if change.disables() {
                        repo::refresh::revoke_client_families(
                            conn,
                            &client.client_id,
                            "client disabled",
                            now,
                        )?;
                    }
                    let event = Event::success(kind, &client.client_id).detail(detail);
                    audit::record_in(conn, &context, now, event)?;
                }
                Ok::<_, DbError>(plan)
            })
            .await?;
        Ok(applied)
    }
}

/// The text of an optional spanned value of the file.
fn spanned_str(value: &Option<Spanned<String>>) -> Option<&str> {
    value.as_ref().map(|v| v.get_ref().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "BILLING_SECRET" => Some("s3cret-value".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    const ISSUER: &str = "https://id.example";

    fn error_of(text: &str) -> (usize, String) {
        parse(text, &env, 0, AlgSet::of(&[Alg::Rs256]), ISSUER).expect_err("refused")
    }

    /// The declared clients without their logout endpoints.
    fn clients_of(text: &str, now: i64, algs: AlgSet) -> Vec<Client> {
        let declared = parse(text, &env, now, algs, ISSUER).unwrap();
        declared.into_iter().map(|d| d.client).collect()
    }

    const BILLING: &str = "[[client]]\nid = \"billing\"\nkind = \"confidential\"\ngrants = [\"client_credentials\"]\nscopes = [\"read\"]\nsecret_env = \"BILLING_SECRET\"\n";

    #[test]
    fn a_declared_client_is_checked_completed_and_managed() {
        let clients = clients_of(BILLING, 7, AlgSet::of(&[Alg::Rs256]));
        assert_eq!(clients.len(), 1);
        let c = &clients[0];
        assert_eq!(c.client_id, "billing");
        assert!(!c.public && c.managed && !c.disabled);
        assert_eq!(
            c.secret_hash.as_deref(),
            Some(digest_hex("s3cret-value").as_str())
        );
        assert_eq!(c.grants, ["client_credentials"]);
        assert_eq!(c.created_at, 7);
    }

    #[test]
    fn a_declared_clients_algorithms_must_be_kept_in_signing_algs() {
        let text = format!("{BILLING}access_token_alg = \"ES256\"\nid_token_alg = \"EdDSA\"\n");
        let all = AlgSet::of(&[Alg::Rs256, Alg::Es256, Alg::EdDsa]);
        let clients = clients_of(&text, 0, all);
        assert_eq!(clients[0].access_token_alg, Some(Alg::Es256));
        assert_eq!(clients[0].id_token_alg, Alg::EdDsa);
        let (line, reason) = error_of(&text);
        assert_eq!(line, 2, "the client's id line: {reason}");
        assert!(reason.contains("not in SIGNING_ALGS"), "{reason}");
        let (line, reason) = error_of(&format!("{BILLING}id_token_alg = \"HS256\"\n"));
        assert_eq!(line, 7, "{reason}");
        assert!(reason.contains("HS256"), "{reason}");
        // Without them: ACCESS_TOKEN_ALG's and RS256.
        let plain = clients_of(BILLING, 0, all);
        assert_eq!(plain[0].access_token_alg, None);
        assert_eq!(plain[0].id_token_alg, Alg::Rs256);
    }

    #[test]
    fn each_invalid_file_names_the_line_and_the_reason() {
        let public = "[[client]]\nid = \"spa\"\nkind = \"public\"\nredirect_uris = [\"https://spa.example/cb\"]\n";
        let cases: Vec<(String, usize, &str)> = vec![
            (format!("{BILLING}colour = \"blue\"\n"), 7, "unknown field `colour`"),
            (BILLING.replace("BILLING_SECRET", "UNSET_VAR"), 6, "UNSET_VAR is not set"),
            (BILLING.replace("BILLING_SECRET", "EMPTY"), 6, "EMPTY is empty"),
            (format!("{BILLING}{BILLING}"), 8, "billing is declared twice (first at line 2)"),
            (BILLING.replace("billing", "../users/x"), 2, "client id"),
            (public.replace("https://spa.example/cb", "not a uri"), 4, "not a uri"),
            (format!("{public}secret_sha256 = \"{}\"\n", "a".repeat(64)), 5, "a public client has no secret"),
            (BILLING.replace("secret_env = \"BILLING_SECRET\"", "secret_sha256 = \"abc\""), 6, "64 hexadecimal digits"),
            (BILLING.replace("secret_env = \"BILLING_SECRET\"\n", ""), 2, "needs secret_sha256 or secret_env"),
            (BILLING.replace("client_credentials", "implicit"), 2, "unknown grant"),
            (BILLING.replace("confidential", "secret"), 3, "unknown variant `secret`"),
            ("[[client]]\nid = \"x\"\nkind = \"public\"\nredirect_uris = [\"https://x.example/cb\"\n".into(), 4, ""),
        ];
        for (text, line, reason) in cases {
            let (got_line, got_reason) = error_of(&text);
            assert_eq!(got_line, line, "{reason}: {got_reason}\n{text}");
            assert!(got_reason.contains(reason), "{got_reason} lacks {reason}");
        }
    }

    #[test]
    fn no_error_quotes_a_secret() {
        let digest = "f".repeat(63) + "g";
        let text = BILLING.replace(
            "secret_env = \"BILLING_SECRET\"",
            &format!("secret_sha256 = \"{digest}\""),
        );
        let (_, reason) = error_of(&text);
        assert!(!reason.contains(&digest), "{reason}");
        let (_, reason) = error_of(&format!("{BILLING}secret = \"in-clear-secret\"\n"));
        assert!(!reason.contains("in-clear-secret"), "{reason}");
        let (line, reason) = error_of(&BILLING.replace("BILLING_SECRET", "s3cret-Value"));
        assert_eq!(line, 6);
        assert!(
            reason.contains("not the secret") && !reason.contains("s3cret-Value"),
            "{reason}"
        );
    }

    #[test]
    fn the_plan_creates_updates_releases_and_leaves_the_rest() {
        let declared = parse(BILLING, &env, 0, AlgSet::of(&[Alg::Rs256]), ISSUER).unwrap();
        let mut stored_billing = declared[0].client.clone();
        stored_billing.created_at = 3;
        let mut gone = declared[0].client.clone();
        gone.client_id = "gone".into();
        let mut unmanaged = gone.clone();
        unmanaged.client_id = "by-hand".into();
        unmanaged.managed = false;

        let fresh = plan(&declared, &[], &[]);
        assert!(
            matches!(&fresh.changes[..], [Change::Create(d)] if d.client.client_id == "billing")
        );

        let mut by_hand = stored_billing.clone();
        by_hand.managed = false;
        let adopted = plan(&declared, &[by_hand], &[]);
        assert!(
            matches!(&adopted.changes[..], [Change::Update { fields, .. }] if fields == &["managed"]),
            "a client registered by hand under a declared id is taken over: {adopted:?}"
        );

        let same = plan(&declared, &[stored_billing.clone(), unmanaged.clone()], &[]);
        assert!(same.changes.is_empty());
        assert_eq!(same.unchanged, ["billing"]);

        let mut old = stored_billing.clone();
        old.scopes = vec!["write".into()];
        old.secret_hash = Some(digest_hex("old"));
        let changed = plan(&declared, &[old, gone, unmanaged], &[]);
        match &changed.changes[..] {
            [Change::Update {
                client,
                fields,
                disables: false,
            }, Change::Release(released)] => {
                assert_eq!(fields, &["secret", "scopes"]);
                assert_eq!(client.client.created_at, 3);
                assert_eq!(released.client_id, "gone");
                assert!(released.disabled && !released.managed);
            }
            other => panic!("{other:?}"),
        }
        let shown: Vec<String> = changed.changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(shown[0], "update billing: secret, scopes");
        assert!(!shown.concat().contains(&digest_hex("s3cret-value")));
    }

    #[test]
    fn a_declared_clients_logout_endpoints_follow_the_registration_rule() {
        let text = format!(
            "{BILLING}backchannel_logout_uri = \"https://billing.example/bc\"\nbackchannel_logout_session_required = true\nfrontchannel_logout_uri = \"https://billing.example/fc\"\n"
        );
        let declared = parse(&text, &env, 0, AlgSet::of(&[Alg::Rs256]), ISSUER).unwrap();
        let logout = &declared[0].logout;
        assert_eq!(logout.client_id, "billing");
        assert_eq!(
            logout.backchannel_logout_uri.as_deref(),
            Some("https://billing.example/bc")
        );
        assert!(logout.backchannel_logout_session_required);
        assert_eq!(
            logout.frontchannel_logout_uri.as_deref(),
            Some("https://billing.example/fc")
        );
        assert!(!logout.frontchannel_logout_session_required);

        // The rule of PUT /admin/clients/{id}/logout, with the line of the URI.
        let http = text.replace("https://billing.example/bc", "http://billing.example/bc");
        let (line, reason) = error_of(&http);
        assert_eq!(line, 7, "{reason}");
        assert!(
            reason.contains("backchannel_logout_uri: must be https"),
            "{reason}"
        );
        let local = parse(
            &http,
            &env,
            0,
            AlgSet::of(&[Alg::Rs256]),
            "http://127.0.0.1:8080",
        );
        assert!(local.is_ok(), "http while the issuer is http on loopback");
        for bad in [
            "https://billing.example/fc#x",
            "/relative",
            "https://u:p@billing.example/",
        ] {
            let (line, reason) = error_of(&text.replace("https://billing.example/fc", bad));
            assert_eq!(line, 9, "{bad}: {reason}");
            assert!(
                reason.starts_with("client billing: frontchannel_logout_uri"),
                "{reason}"
            );
        }

        let (line, reason) = error_of(&format!(
            "{BILLING}frontchannel_logout_session_required = true\n"
        ));
        assert_eq!(line, 2, "{reason}");
        assert!(reason.contains("needs frontchannel_logout_uri"), "{reason}");

        // The plan sees a change of endpoints, and their removal.
        let stored = declared[0].client.clone();
        let plain = parse(BILLING, &env, 0, AlgSet::of(&[Alg::Rs256]), ISSUER).unwrap();
        let registered = plan(&declared, std::slice::from_ref(&stored), &[]);
        assert!(
            matches!(&registered.changes[..], [Change::Update { fields, .. }]
                if fields == &["backchannel_logout_uri", "backchannel_logout_session_required", "frontchannel_logout_uri"]),
            "{registered:?}"
        );
        let kept = plan(
            &declared,
            std::slice::from_ref(&stored),
            std::slice::from_ref(logout),
        );
        assert!(kept.changes.is_empty(), "{kept:?}");
        let removed = plan(
            &plain,
            std::slice::from_ref(&stored),
            std::slice::from_ref(logout),
        );
        assert_eq!(removed.changes.len(), 1, "{removed:?}");
    }
}
