//! Registered clients: creating, disabling, deleting, secret rotation, and checking a
//! presented secret.

use rand::RngCore;

use super::{AccountError, Accounts};
use crate::audit::{Event, Kind};
use crate::db::alg::{Alg, AlgSet};
pub use crate::db::repo::clients::Client;
use crate::db::repo::logout::LogoutEndpoints;
use crate::db::{repo, DbError};
use crate::digest::digest_hex;
use crate::domain::{
    check_logout_uri, split_scope, valid_scope_token, ClientId, RedirectUri, GRANTS,
};
use crate::paging::{ListRequest, Page};

/// A client secret: 256 random bits, base64url. Shown once; stored as a SHA-256 digest.
pub fn generate_client_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub struct NewClientRequest {
    pub client_id: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grants: Vec<String>,
    pub scopes: Vec<String>,
    pub consent: bool,
    /// A resource server that may introspect other clients' tokens.
    pub introspect_any: bool,
    /// Access and refresh tokens' algorithm; `None`: `ACCESS_TOKEN_ALG`.
    pub access_token_alg: Option<Alg>,
    /// id_tokens' algorithm; `None`: RS256.
    pub id_token_alg: Option<Alg>,
}

/// A registration checked and completed with the defaults: the client it describes, with
/// no secret, enabled and unmanaged (the caller sets those). The one set of registration
/// rules, for the CLI, the admin API, the console and `CLIENTS_FILE`; a chosen algorithm
/// must be one of `signing_algs`, or no key would sign the client's tokens.
pub(crate) fn checked_client(
    req: NewClientRequest,
    created_at: i64,
    signing_algs: AlgSet,
) -> Result<Client, AccountError> {
    let id = ClientId::parse(&req.client_id).map_err(AccountError::Invalid)?;
    let id_token_alg = req.id_token_alg.unwrap_or(Alg::Rs256);
    for (what, alg) in [
        ("access_token_alg", req.access_token_alg),
        ("id_token_alg", Some(id_token_alg)),
    ] {
        if let Some(alg) = alg.filter(|a| !signing_algs.contains(*a)) {
            return Err(AccountError::Invalid(format!(
                "{what} {alg} is not in SIGNING_ALGS ({}): no key signs with it",
                signing_algs
                    .iter()
                    .map(Alg::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let grants = if req.grants.is_empty() {
        vec![
            "authorization_code".to_string(),
            "refresh_token".to_string(),
        ]
    } else {
        req.grants
    };
    for g in &grants {
        if !GRANTS.contains(&g.as_str()) {
            return Err(AccountError::Invalid(format!(
                "unknown grant {g:?}; expected one of {}",
                GRANTS.join(", ")
            )));
        }
    }
    if req.public && grants.iter().any(|g| g == "client_credentials") {
        return Err(AccountError::Invalid(
            "a public client cannot use client_credentials".into(),
        ));
    }
    for uri in req
        .redirect_uris
        .iter()
        .chain(&req.post_logout_redirect_uris)
    {
        RedirectUri::parse(uri).map_err(|e| AccountError::Invalid(format!("{uri}: {e}")))?;
    }
    if grants.iter().any(|g| g == "authorization_code") && req.redirect_uris.is_empty() {
        return Err(AccountError::Invalid(
            "the authorization_code grant needs at least one redirect URI".into(),
        ));
    }
    let scopes = if req.scopes.is_empty() {
        split_scope("openid profile email offline_access")
    } else {
        split_scope(&req.scopes.join(" "))
    };
    if let Some(bad) = scopes.iter().find(|s| !valid_scope_token(s)) {
        return Err(AccountError::Invalid(format!("invalid scope {bad:?}")));
    }
    Ok(Client {
        client_id: id.as_str().to_string(),
        secret_hash: None,
        public: req.public,
        redirect_uris: req.redirect_uris,
        post_logout_redirect_uris: req.post_logout_redirect_uris,
        grants,
        scopes,
        consent: req.consent,
        disabled: false,
        created_at,
        introspect_any: req.introspect_any,
        managed: false,
        access_token_alg: req.access_token_alg,
        id_token_alg,
        require_mfa: false,
    })
}

/// A client declared in `CLIENTS_FILE` changes only when the file is applied.
pub(super) fn refuse_managed(client: &Client) -> Result<(), AccountError> {
    match client.managed {
        true => Err(AccountError::Managed(client.client_id.clone())),
        false => Ok(()),
    }
}

impl Accounts {
    /// Registers a client; returns it and, for a confidential client, its secret (shown once).
    pub async fn create_client(
        &self,
        req: NewClientRequest,
    ) -> Result<(Client, Option<String>), AccountError> {
        self.create_client_with_logout(req, LogoutEndpoints::default(), "", false)
            .await
    }

    /// [`Accounts::create_client`], with `require_mfa` set in the same write.
    pub async fn create_client_requiring_mfa(
        &self,
        req: NewClientRequest,
        require_mfa: bool,
    ) -> Result<(Client, Option<String>), AccountError> {
        self.create_client_with_logout(req, LogoutEndpoints::default(), "", require_mfa)
            .await
    }

    /// Registers a client and its logout endpoints (`gatehouse client add --backchannel-logout-uri
    /// …`) in one transaction: a URI that breaks the rule of [`check_logout_uri`] (for
    /// `issuer`) leaves nothing behind.
    pub async fn create_client_with_logout(
        &self,
        req: NewClientRequest,
        logout: LogoutEndpoints,
        issuer: &str,
        require_mfa: bool,
    ) -> Result<(Client, Option<String>), AccountError> {
        let mut client = checked_client(req, self.clock.now(), self.signing_algs)?;
        client.require_mfa = require_mfa;
        let blank = |u: Option<String>| u.filter(|u| !u.trim().is_empty());
        let logout = LogoutEndpoints {
            client_id: client.client_id.clone(),
            backchannel_logout_uri: blank(logout.backchannel_logout_uri),
            frontchannel_logout_uri: blank(logout.frontchannel_logout_uri),
            ..logout
        };
        for (what, uri) in [
            ("backchannel_logout_uri", &logout.backchannel_logout_uri),
            ("frontchannel_logout_uri", &logout.frontchannel_logout_uri),
        ] {
            if let Some(uri) = uri {
                check_logout_uri(uri, issuer, what).map_err(AccountError::Invalid)?;
            }
        }
        crate::domain::check_logout_flags(
            logout.backchannel_logout_uri.as_deref(),
            logout.backchannel_logout_session_required,
            logout.frontchannel_logout_uri.as_deref(),
            logout.frontchannel_logout_session_required,
        )
        .map_err(AccountError::Invalid)?;
        let secret = (!client.public).then(generate_client_secret);
        client.secret_hash = secret.as_deref().map(digest_hex);
        let stored = client.clone();
        let with_logout =
            logout.backchannel_logout_uri.is_some() || logout.frontchannel_logout_uri.is_some();
        self.db
            .write(move |conn| {
                repo::clients::insert(conn, &stored).map_err(|e| match e {
                    DbError::Conflict => {
                        AccountError::Exists(format!("client {}", stored.client_id))
                    }
                    other => other.into(),
                })?;
                if with_logout {
                    repo::logout::set_endpoints(conn, &logout)?;
                }
                Ok::<_, AccountError>(())
            })
            .await?;
        let kind = match (client.public, with_logout) {
            (true, false) => "public",
            (false, false) => "confidential",
            (true, true) => "public, with logout endpoints",
            (false, true) => "confidential, with logout endpoints",
        };
        self.audit(Event::success(Kind::ClientCreated, &client.client_id).detail(kind))
            .await;
        Ok((client, secret))
    }

    pub async fn find_client(&self, id: &str) -> Result<Client, AccountError> {
        if ClientId::parse_stored(id).is_err() {
            return Err(AccountError::NotFound(format!("client {id:?}")));
        }
        let key = id.to_string();
        self.db
            .run(move |conn| repo::clients::find(conn, &key))
            .await?
            .ok_or_else(|| AccountError::NotFound(format!("client {id}")))
    }

    /// One page of clients by client id (see [`crate::paging`]).
    pub async fn list_clients(&self, request: ListRequest) -> Result<Page<Client>, AccountError> {
        let query = request.check().map_err(AccountError::Invalid)?;
        let limit = query.limit;
        let rows = self
            .db
            .run(move |conn| repo::clients::page(conn, &query))
            .await?;
        Ok(Page::from_rows(rows, limit, |c| c.client_id.clone()))
    }

    pub async fn set_client_disabled(
        &self,
        id: &str,
        disabled: bool,
    ) -> Result<Client, AccountError> {
        refuse_managed(&self.find_client(id).await?)?;
        let key = id.to_string();
        let now = self.clock.now();
        self.db
            .write(move |conn| {
                repo::clients::set_disabled(conn, &key, disabled)?;
                if disabled {
                    repo::refresh::revoke_client_families(conn, &key, "client disabled", now)?;
                }
                Ok::<_, DbError>(())
            })
            .await?;
        let kind = if disabled {
            Kind::ClientDisabled
        } else {
            Kind::ClientEnabled
        };
        self.audit(Event::success(kind, id)).await;
        self.find_client(id).await
    }

    pub async fn delete_client(&self, id: &str) -> Result<(), AccountError> {
        if id == "simplejwt" {
            return Err(AccountError::Invalid(
                "the built-in simplejwt client cannot be deleted; disable it instead".into(),
            ));
        }
        refuse_managed(&self.find_client(id).await?)?;
        let key = id.to_string();
        self.db
            .write(move |conn| repo::clients::delete(conn, &key))
            .await?;
        self.audit(Event::success(Kind::ClientDeleted, id)).await;
        Ok(())
    }

    /// A new secret for a confidential client; the old one stops working at once.
    pub async fn rotate_client_secret(&self, id: &str) -> Result<String, AccountError> {
        let client = self.find_client(id).await?;
        refuse_managed(&client)?;
        if client.public {
            return Err(AccountError::Invalid(format!(
                "client {id} is public and has no secret"
            )));
        }
        let secret = generate_client_secret();
        let (key, digest) = (id.to_string(), digest_hex(&secret));
        self.db
            .write(move |conn| repo::clients::set_secret_hash(conn, &key, &digest))
            .await?;
        self.audit(Event::success(Kind::ClientSecretRotated, id))
            .await;
        Ok(secret)
    }
}
