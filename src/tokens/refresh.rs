//! Token pairs and refresh-token families (OAuth 2.0 Security BCP §4.14): each refresh
//! spends the presented token and issues a new pair; presenting a spent token again revokes
//! the family, except the immediate predecessor within `REFRESH_GRACE`, which gets the very
//! same successor pair back (held sealed under the master key for that window only).

use super::claims::{RefreshClaims, Subject};
use super::issue::{self, IssueError};
use super::verify::TokenError;
use crate::db::{repo, DbError};
use crate::keys::encryption::digest_hex;
use crate::metrics::TokenKind;
use crate::state::AppState;

/// An issued pair, as the token endpoints answer it.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Pair {
    pub access: String,
    pub refresh: Option<String>,
    pub expires_in: i64,
    pub scope: String,
    pub jti: String,
    /// The refresh family created with this pair (not part of a sealed grace pair).
    #[serde(skip)]
    pub family_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("refresh token is unknown")]
    Unknown,
    #[error("refresh token was already used; its family is revoked")]
    Reused,
    #[error("refresh token has been revoked")]
    Revoked,
    #[error("refresh token was issued to another client")]
    WrongClient,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// Mints an access token, and with `with_refresh` a refresh token in a new family.
pub async fn issue_pair(
    state: &AppState,
    subject: &Subject,
    with_refresh: bool,
) -> Result<Pair, RefreshError> {
    let now = state.clock.now();
    let keys = state.keys.store.snapshot();
    let signer = keys.signer.as_ref().ok_or(IssueError::NoKey)?;
    let settings = &state.settings;
    let access_ttl = settings.access_ttl.as_secs() as i64;
    let (access, claims) = issue::access_token(signer, &settings.issuer, subject, now, access_ttl)?;
    let mut pair = Pair {
        access,
        refresh: None,
        expires_in: access_ttl,
        scope: subject.scope.clone(),
        jti: claims.jti,
        family_id: None,
    };
    if with_refresh {
        let family_end = now + settings.refresh_max_lifetime.as_secs() as i64;
        let exp = (now + settings.refresh_ttl.as_secs() as i64).min(family_end);
        let (refresh, rclaims) = issue::refresh_token(signer, &settings.issuer, subject, now, exp)?;
        let family = repo::refresh::Family {
            id: uuid::Uuid::new_v4().to_string(),
            client_id: subject.client_id.clone(),
            user_id: subject.user_id.as_ref().map(|_| subject.sub.clone()),
            created_at: now,
            expires_at: family_end,
            revoked_at: None,
            revoked_why: None,
        };
        let jti_hash = digest_hex(&rclaims.jti);
        pair.family_id = Some(family.id.clone());
        state
            .db
            .write(move |conn| {
                repo::refresh::create_family(conn, &family)?;
                repo::refresh::insert_token(conn, &jti_hash, &family.id, now, exp)
            })
            .await?;
        pair.refresh = Some(refresh);
        state.metrics.token_issued(TokenKind::Refresh);
    }
    state.metrics.token_issued(TokenKind::Access);
    Ok(pair)
}

/// Verifies a refresh token's signature and claims (not its server-side state).
pub fn verify_refresh(state: &AppState, token: &str) -> Result<RefreshClaims, TokenError> {
    let keys = state.keys.store.snapshot();
    state.verifier(&keys, state.clock.now()).refresh(token)
}

enum Spend {
    Fresh,
    Replayed(Vec<u8>),
    Reused,
}

/// Spends `token` and returns its successor pair. `client_id`, when given, must be the
/// client the token was issued to (RFC 6749 §6).
pub async fn rotate(
    state: &AppState,
    token: &str,
    client_id: Option<&str>,
) -> Result<Pair, RefreshError> {
    let claims = verify_refresh(state, token)?;
    if client_id.is_some_and(|c| c != claims.client_id) {
        return Err(RefreshError::WrongClient);
    }
    let now = state.clock.now();
    let jti_hash = digest_hex(&claims.jti);
    let lookup = jti_hash.clone();
    let (_record, family) = state
        .db
        .run(move |conn| {
            let Some(record) = repo::refresh::find_token(conn, &lookup)? else {
                return Ok::<_, DbError>(None);
            };
            Ok(repo::refresh::find_family(conn, &record.family_id)?.map(|f| (record, f)))
        })
        .await?
        .ok_or(RefreshError::Unknown)?;
    if family.revoked_at.is_some() {
        return Err(RefreshError::Revoked);
    }
    if family.expires_at <= now {
        return Err(TokenError::Expired.into());
    }

    // Sign the successor before taking any lock: the transaction only records it.
    let keys = state.keys.store.snapshot();
    let signer = keys.signer.as_ref().ok_or(IssueError::NoKey)?;
    let settings = &state.settings;
    let subject = Subject {
        sub: claims.sub.clone(),
        user_id: claims.user_id.clone(),
        client_id: claims.client_id.clone(),
        scope: claims.scope.clone(),
        audience: settings.default_audience.clone(),
    };
    let access_ttl = settings.access_ttl.as_secs() as i64;
    let (access, aclaims) =
        issue::access_token(signer, &settings.issuer, &subject, now, access_ttl)?;
    let exp = (now + settings.refresh_ttl.as_secs() as i64).min(family.expires_at);
    let (refresh, rclaims) = issue::refresh_token(signer, &settings.issuer, &subject, now, exp)?;
    let pair = Pair {
        access,
        refresh: Some(refresh),
        expires_in: access_ttl,
        scope: subject.scope,
        jti: aclaims.jti,
        family_id: Some(family.id.clone()),
    };

    let grace = settings.refresh_grace.as_secs() as i64;
    let master = state.keys.store.master().current.clone();
    let sealed = (grace > 0).then(|| {
        let bytes = serde_json::to_vec(&pair).unwrap_or_default();
        master.seal(&bytes, jti_hash.as_bytes())
    });
    let successor_hash = digest_hex(&rclaims.jti);
    let family_id = family.id.clone();
    let spent_hash = jti_hash.clone();
    let outcome = state
        .db
        .write(move |conn| {
            if repo::refresh::try_spend(conn, &spent_hash, now)? {
                let family = repo::refresh::find_family(conn, &family_id)?;
                if family.is_none_or(|f| f.revoked_at.is_some()) {
                    return Ok::<_, DbError>(None);
                }
                repo::refresh::insert_token(conn, &successor_hash, &family_id, now, exp)?;
                repo::refresh::set_successor(
                    conn,
                    &spent_hash,
                    &successor_hash,
                    sealed.as_deref(),
                )?;
                return Ok(Some(Spend::Fresh));
            }
            // Already spent: the grace rule, or reuse.
            let record = repo::refresh::find_token(conn, &spent_hash)?;
            let family = repo::refresh::find_family(conn, &family_id)?;
            if let (Some(record), Some(family)) = (record, family) {
                let within_grace = grace > 0 && record.spent_at.is_some_and(|t| now <= t + grace);
                let successor_unspent = match &record.successor_hash {
                    Some(h) => {
                        repo::refresh::find_token(conn, h)?.is_some_and(|s| s.spent_at.is_none())
                    }
                    None => false,
                };
                if within_grace && successor_unspent && family.revoked_at.is_none() {
                    if let Some(sealed) = record.successor_sealed {
                        return Ok(Some(Spend::Replayed(sealed)));
                    }
                }
            }
            repo::refresh::revoke_family(conn, &family_id, "reuse", now)?;
            Ok(Some(Spend::Reused))
        })
        .await?;
    match outcome {
        None => Err(RefreshError::Revoked),
        Some(Spend::Fresh) => {
            state.metrics.token_issued(TokenKind::Access);
            state.metrics.token_issued(TokenKind::Refresh);
            Ok(pair)
        }
        Some(Spend::Replayed(sealed)) => {
            state.metrics.refresh_reuse(false);
            let bytes = master
                .open(&sealed, jti_hash.as_bytes())
                .map_err(|_| RefreshError::Reused)?;
            serde_json::from_slice(&bytes).map_err(|_| RefreshError::Reused)
        }
        Some(Spend::Reused) => {
            tracing::warn!(family = %family.id, client_id = %claims.client_id, "refresh token reuse detected; family revoked");
            state.metrics.refresh_reuse(true);
            Err(RefreshError::Reused)
        }
    }
}

/// Whether a refresh token is live: unspent, and its family neither revoked nor expired.
pub async fn is_live(state: &AppState, claims: &RefreshClaims) -> Result<bool, DbError> {
    let jti_hash = digest_hex(&claims.jti);
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            let Some(record) = repo::refresh::find_token(conn, &jti_hash)? else {
                return Ok(false);
            };
            if record.spent_at.is_some() {
                return Ok(false);
            }
            Ok(repo::refresh::find_family(conn, &record.family_id)?
                .is_some_and(|f| f.revoked_at.is_none() && f.expires_at > now))
        })
        .await
}

/// Revokes the family of a refresh token. Returns false when it was not live.
pub async fn revoke_family_of(
    state: &AppState,
    claims: &RefreshClaims,
    why: &'static str,
) -> Result<bool, DbError> {
    let jti_hash = digest_hex(&claims.jti);
    let now = state.clock.now();
    state
        .db
        .write(move |conn| {
            let Some(record) = repo::refresh::find_token(conn, &jti_hash)? else {
                return Ok(false);
            };
            let Some(family) = repo::refresh::find_family(conn, &record.family_id)? else {
                return Ok(false);
            };
            let was_live = record.spent_at.is_none() && family.revoked_at.is_none();
            repo::refresh::revoke_family(conn, &family.id, why, now)?;
            Ok(was_live)
        })
        .await
}
