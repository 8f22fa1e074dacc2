//! Users and clients as the CLI, the admin API and the token endpoints see them: creating,
//! disabling, deleting, password checks. Knows nothing of HTTP.

use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::db::repo::clients::Client;
use crate::db::repo::users::{NewUser, User};
use crate::db::{repo, Db, DbError};
use crate::domain::{split_scope, valid_scope_token, ClientId, RedirectUri, Username, GRANTS};
use crate::keys::encryption::digest_hex;
use crate::passwords::{HashError, Hasher, Password};

/// Longest password accepted; longer input is refused before any hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

pub fn check_password_rules(password: &str) -> Result<(), AccountError> {
    if password.is_empty() {
        return Err(AccountError::Invalid("password may not be empty".into()));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::Invalid(format!(
            "password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

pub struct NewUserRequest {
    pub username: String,
    pub email: Option<String>,
    pub password: Password,
    pub is_admin: bool,
}

pub async fn create_user(
    db: &Db,
    hasher: &Hasher,
    req: NewUserRequest,
) -> Result<User, AccountError> {
    let username = Username::parse(&req.username).map_err(AccountError::Invalid)?;
    if let Some(email) = &req.email {
        // Control characters, NUL among them (PostgreSQL refuses it in text), are no address.
        if email.len() > 254
            || !email.contains('@')
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(AccountError::Invalid("email is not a valid address".into()));
        }
    }
    check_password_rules(req.password.expose())?;
    let hash = hasher.hash(req.password).await?;
    let now = repo::now();
    db.write(move |conn| {
        let new = NewUser {
            username: username.as_str(),
            email: req.email.as_deref(),
            password_hash: &hash,
            is_admin: req.is_admin,
            legacy_id: None,
        };
        let id = repo::users::insert(conn, new, now).map_err(|e| match e {
            DbError::Conflict => AccountError::Exists(format!("user {username}")),
            other => other.into(),
        })?;
        repo::users::find_by_id(conn, &id)?
            .ok_or_else(|| AccountError::NotFound(username.to_string()))
    })
    .await
}

pub async fn find_user(db: &Db, username: &str) -> Result<User, AccountError> {
    // Only a well-formed name reaches the database (PostgreSQL refuses a NUL byte in text):
    // every stored name is one.
    if Username::parse(username).is_err() {
        return Err(AccountError::NotFound(format!("user {username:?}")));
    }
    let name = username.to_string();
    db.run(move |conn| repo::users::find_by_username(conn, &name))
        .await?
        .ok_or_else(|| AccountError::NotFound(format!("user {username}")))
}

pub async fn list_users(db: &Db) -> Result<Vec<User>, AccountError> {
    Ok(db.run(repo::users::list).await?)
}

/// Disabling a user ends their refresh families (and, with SSO, their sessions).
pub async fn set_user_disabled(
    db: &Db,
    username: &str,
    disabled: bool,
) -> Result<User, AccountError> {
    let user = find_user(db, username).await?;
    let id = user.id.clone();
    let now = repo::now();
    db.write(move |conn| {
        repo::users::set_disabled(conn, &id, disabled, now)?;
        if disabled {
            repo::refresh::revoke_user_families(conn, &id, "user disabled", now)?;
            repo::sessions::end_user_sessions(conn, &id, now)?;
        }
        Ok::<_, AccountError>(())
    })
    .await?;
    find_user(db, username).await
}

pub async fn delete_user(db: &Db, username: &str) -> Result<(), AccountError> {
    let user = find_user(db, username).await?;
    db.write(move |conn| repo::users::delete(conn, &user.id))
        .await?;
    Ok(())
}

/// A new password ends every refresh family of the user.
pub async fn set_password(
    db: &Db,
    hasher: &Hasher,
    username: &str,
    password: Password,
) -> Result<(), AccountError> {
    check_password_rules(password.expose())?;
    let user = find_user(db, username).await?;
    let hash = hasher.hash(password).await?;
    let now = repo::now();
    db.write(move |conn| {
        repo::users::set_password_hash(conn, &user.id, &hash, now)?;
        repo::refresh::revoke_user_families(conn, &user.id, "password changed", now)?;
        Ok::<_, DbError>(())
    })
    .await?;
    Ok(())
}

/// Why a password login failed; callers answer the same for every reason.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("invalid credentials")]
    BadCredentials,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// Checks a username and password. An unknown, disabled or malformed user costs one hash
/// like a wrong password and fails the same way.
pub async fn check_password(
    db: &Db,
    hasher: &Hasher,
    username: &str,
    password: Password,
) -> Result<User, LoginError> {
    let user = match Username::parse(username) {
        Ok(name) => {
            db.run(move |conn| repo::users::find_by_username(conn, name.as_str()))
                .await?
        }
        Err(_) => None,
    };
    let pw = password.clone();
    let verified = hasher
        .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
        .await?;
    let user = match user {
        Some(u) if verified.ok && !u.disabled => u,
        _ => return Err(LoginError::BadCredentials),
    };
    if verified.needs_rehash {
        // Upgrade old parameters now that we hold the password; a failure only logs.
        let (db, hasher, id) = (db.clone(), hasher.clone(), user.id.clone());
        tokio::spawn(async move {
            if let Ok(hash) = hasher.hash(pw).await {
                let now = repo::now();
                if let Err(e) = db
                    .write(move |conn| repo::users::set_password_hash(conn, &id, &hash, now))
                    .await
                {
                    tracing::warn!(error = %e, "could not store the upgraded password hash");
                }
            }
        });
    }
    Ok(user)
}

/// A client secret: 256 random bits, base64url. Shown once; stored as a SHA-256 digest.
pub fn generate_client_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Constant-time check of a presented secret against the stored digest.
pub fn secret_matches(presented: &str, stored_digest: Option<&str>) -> bool {
    let presented = digest_hex(presented);
    match stored_digest {
        Some(stored) => presented.as_bytes().ct_eq(stored.as_bytes()).into(),
        None => false,
    }
}

pub struct NewClientRequest {
    pub client_id: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grants: Vec<String>,
    pub scopes: Vec<String>,
    pub consent: bool,
}

/// Registers a client; returns it and, for a confidential client, its secret (shown once).
pub async fn create_client(
    db: &Db,
    req: NewClientRequest,
) -> Result<(Client, Option<String>), AccountError> {
    let id = ClientId::parse(&req.client_id).map_err(AccountError::Invalid)?;
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
            "the authorization_code grant needs at least one --redirect-uri".into(),
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
    let secret = (!req.public).then(generate_client_secret);
    let client = Client {
        client_id: id.as_str().to_string(),
        secret_hash: secret.as_deref().map(digest_hex),
        public: req.public,
        redirect_uris: req.redirect_uris,
        post_logout_redirect_uris: req.post_logout_redirect_uris,
        grants,
        scopes,
        consent: req.consent,
        disabled: false,
        created_at: repo::now(),
    };
    let stored = client.clone();
    db.write(move |conn| {
        repo::clients::insert(conn, &stored).map_err(|e| match e {
            DbError::Conflict => AccountError::Exists(format!("client {}", stored.client_id)),
            other => other.into(),
        })
    })
    .await?;
    Ok((client, secret))
}

pub async fn find_client(db: &Db, id: &str) -> Result<Client, AccountError> {
    if ClientId::parse(id).is_err() {
        return Err(AccountError::NotFound(format!("client {id:?}")));
    }
    let key = id.to_string();
    db.run(move |conn| repo::clients::find(conn, &key))
        .await?
        .ok_or_else(|| AccountError::NotFound(format!("client {id}")))
}

pub async fn list_clients(db: &Db) -> Result<Vec<Client>, AccountError> {
    Ok(db.run(repo::clients::list).await?)
}

pub async fn set_client_disabled(
    db: &Db,
    id: &str,
    disabled: bool,
) -> Result<Client, AccountError> {
    find_client(db, id).await?;
    let key = id.to_string();
    let now = repo::now();
    db.write(move |conn| {
        repo::clients::set_disabled(conn, &key, disabled)?;
        if disabled {
            repo::refresh::revoke_client_families(conn, &key, "client disabled", now)?;
        }
        Ok::<_, DbError>(())
    })
    .await?;
    find_client(db, id).await
}

pub async fn delete_client(db: &Db, id: &str) -> Result<(), AccountError> {
    if id == "simplejwt" {
        return Err(AccountError::Invalid(
            "the built-in simplejwt client cannot be deleted; disable it instead".into(),
        ));
    }
    find_client(db, id).await?;
    let key = id.to_string();
    db.write(move |conn| repo::clients::delete(conn, &key))
        .await?;
    Ok(())
}

/// A new secret for a confidential client; the old one stops working at once.
pub async fn rotate_client_secret(db: &Db, id: &str) -> Result<String, AccountError> {
    let client = find_client(db, id).await?;
    if client.public {
        return Err(AccountError::Invalid(format!(
            "client {id} is public and has no secret"
        )));
    }
    let secret = generate_client_secret();
    let (key, digest) = (id.to_string(), digest_hex(&secret));
    db.write(move |conn| repo::clients::set_secret_hash(conn, &key, &digest))
        .await?;
    Ok(secret)
}
