//! Token pairs and refresh-token families (OAuth 2.0 Security BCP §4.14): each refresh
//! spends the presented token and issues a new pair; presenting a spent token again revokes
//! the family, except the immediate predecessor within `REFRESH_GRACE`, which gets the very
//! same successor pair back (held sealed under the master key for that window only).

use super::claims::{RefreshClaims, Subject};
use super::issue::{self, IssueError};
use super::verify::TokenError;
use super::Tokens;
use crate::assurance::{Authentication, Level};
use crate::audit::{self, Event, Kind};
use crate::db::{repo, DbConn, DbError};
use crate::digest::digest_hex;
use crate::metrics::TokenKind;

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
    /// The caller's token: what the grant and `/api/token/refresh/` answer.
    #[error(transparent)]
    Refused(#[from] RefreshRefusal),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// Why a presented refresh token is not spent: each is the caller's, never the server's.
#[derive(Debug, thiserror::Error)]
pub enum RefreshRefusal {
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
    /// A token carrying scope `admin` whose user is no longer an enabled admin.
    #[error("scope admin is only for admin users")]
    AdminScopeRevoked,
}

impl From<TokenError> for RefreshError {
    fn from(e: TokenError) -> Self {
        RefreshError::Refused(e.into())
    }
}

/// A freshly signed pair and the refresh family to store with it, not yet stored.
pub struct Minted {
    pub pair: Pair,
    family: Option<NewFamily>,
}

struct NewFamily {
    family: repo::refresh::Family,
    refresh_jti_hash: String,
    refresh_exp: i64,
    access_jti_hash: String,
    kid: String,
}

impl Minted {
    /// Stores the pair's refresh family and token record, inside the caller's write
    /// transaction (so a code's spending and what it issued commit together).
    pub fn record(&self, conn: &mut DbConn) -> Result<(), DbError> {
        let Some(f) = &self.family else {
            return Ok(());
        };
        repo::refresh::create_family(conn, &f.family)?;
        repo::refresh::insert_token(
            conn,
            &repo::refresh::NewToken {
                jti_hash: &f.refresh_jti_hash,
                family_id: &f.family.id,
                issued_at: f.family.created_at,
                expires_at: f.refresh_exp,
                access_jti_hash: &f.access_jti_hash,
                kid: &f.kid,
            },
        )
    }
}

impl Tokens {
    /// Signs an access token, and with `with_refresh` a refresh token in a new family;
    /// stores nothing (see [`Minted::record`]).
    pub fn mint_pair(&self, subject: &Subject, with_refresh: bool) -> Result<Minted, RefreshError> {
        let now = self.clock.now();
        let keys = self.keys.snapshot();
        let signer = keys.signer(subject.alg).ok_or(IssueError::NoKey)?;
        let policy = &self.policy;
        let access_ttl = policy.access_ttl;
        let (access, claims) =
            issue::access_token(signer, &policy.issuer, subject, now, access_ttl)?;
        let mut pair = Pair {
            access,
            refresh: None,
            expires_in: access_ttl,
            scope: subject.scope.clone(),
            jti: claims.jti,
            family_id: None,
        };
        if !with_refresh {
            return Ok(Minted { pair, family: None });
        }
        let family_end = now + policy.refresh_max_lifetime;
        let exp = (now + policy.refresh_ttl).min(family_end);
        let (refresh, rclaims) = issue::refresh_token(signer, &policy.issuer, subject, now, exp)?;
        let family = repo::refresh::Family {
            id: uuid::Uuid::new_v4().to_string(),
            client_id: subject.client_id.clone(),
            user_id: subject.user_id.as_ref().map(|_| subject.sub.clone()),
            created_at: now,
            expires_at: family_end,
            revoked_at: None,
            revoked_why: None,
            auth_time: subject.auth.map(|a| a.auth_time),
            amr: subject.auth.map(|a| a.level.stored_amr()),
        };
        pair.family_id = Some(family.id.clone());
        pair.refresh = Some(refresh);
        let access_jti_hash = digest_hex(&pair.jti);
        Ok(Minted {
            pair,
            family: Some(NewFamily {
                family,
                refresh_jti_hash: digest_hex(&rclaims.jti),
                refresh_exp: exp,
                access_jti_hash,
                kid: signer.kid.clone(),
            }),
        })
    }

    /// Counts a stored pair in the metrics.
    pub fn count_issued(&self, pair: &Pair) {
        self.metrics.token_issued(TokenKind::Access);
        if pair.refresh.is_some() {
            self.metrics.token_issued(TokenKind::Refresh);
        }
    }

    /// Mints a pair and stores its family.
    pub async fn issue_pair(
        &self,
        subject: &Subject,
        with_refresh: bool,
    ) -> Result<Pair, RefreshError> {
        let minted = self.mint_pair(subject, with_refresh)?;
        let minted = if minted.family.is_some() {
            self.db
                .write(move |conn| minted.record(conn).map(|()| minted))
                .await?
        } else {
            minted
        };
        self.count_issued(&minted.pair);
        Ok(minted.pair)
    }

    /// Spends `token` and returns its successor pair. `client_id`, when given, must be the
    /// client the token was issued to (RFC 6749 §6).
    pub async fn rotate(&self, token: &str, client_id: Option<&str>) -> Result<Pair, RefreshError> {
        let claims = self.verify_refresh(token)?;
        if client_id.is_some_and(|c| c != claims.client_id) {
            return Err(RefreshRefusal::WrongClient.into());
        }
        let now = self.clock.now();
        let jti_hash = digest_hex(&claims.jti);
        let lookup = jti_hash.clone();
        // Scope admin is re-checked at every refresh: a demoted user keeps none of it.
        let admin_scope = claims.scope.split(' ').any(|s| s == "admin");
        let sub = claims.sub.clone();
        let client_id = claims.client_id.clone();
        let (_record, family, still_admin, alg) = self
            .db
            .run(move |conn| {
                let Some(record) = repo::refresh::find_token(conn, &lookup)? else {
                    return Ok::<_, DbError>(None);
                };
                let still_admin = !admin_scope
                    || repo::users::find_by_id(conn, &sub)?
                        .is_some_and(|u| u.is_admin && !u.disabled);
                // The client's algorithm as it is now: a change applies from its next refresh.
                let alg = repo::clients::find(conn, &client_id)?.and_then(|c| c.access_token_alg);
                Ok(repo::refresh::find_family(conn, &record.family_id)?
                    .map(|f| (record, f, still_admin, alg)))
            })
            .await?
            .ok_or(RefreshRefusal::Unknown)?;
        if !still_admin {
            return Err(RefreshRefusal::AdminScopeRevoked.into());
        }
        if family.revoked_at.is_some() {
            return Err(RefreshRefusal::Revoked.into());
        }
        if family.expires_at <= now {
            return Err(TokenError::Expired.into());
        }

        // Sign the successor before taking any lock: the transaction only records it.
        let keys = self.keys.snapshot();
        let policy = &self.policy;
        let alg = alg.unwrap_or(policy.access_token_alg);
        let signer = keys.signer(alg).ok_or(IssueError::NoKey)?;
        let subject = Subject {
            sub: claims.sub.clone(),
            user_id: claims.user_id.clone(),
            client_id: claims.client_id.clone(),
            scope: claims.scope.clone(),
            audience: policy.default_audience.clone(),
            alg,
            // The sign-in that started the family, however often it has rotated since.
            auth: family
                .auth_time
                .map(|t| Authentication::new(t, Level::of_stored_amr(family.amr.as_deref()))),
        };
        let access_ttl = policy.access_ttl;
        let (access, aclaims) =
            issue::access_token(signer, &policy.issuer, &subject, now, access_ttl)?;
        let exp = (now + policy.refresh_ttl).min(family.expires_at);
        let (refresh, rclaims) = issue::refresh_token(signer, &policy.issuer, &subject, now, exp)?;
        let pair = Pair {
            access,
            refresh: Some(refresh),
            expires_in: access_ttl,
            scope: subject.scope,
            jti: aclaims.jti,
            family_id: Some(family.id.clone()),
        };

        let grace = policy.refresh_grace;
        // Sealed under the current master key; opened with either key of a rollover, since a
        // record sealed by an instance still on the previous key carries no key id.
        let master = self.keys.master().clone();
        let sealed = (grace > 0).then(|| {
            let bytes = serde_json::to_vec(&pair).unwrap_or_default();
            master.current.seal(&bytes, jti_hash.as_bytes())
        });
        let successor_hash = digest_hex(&rclaims.jti);
        let access_hash = digest_hex(&pair.jti);
        let family_id = family.id.clone();
        let spent_hash = jti_hash.clone();
        let kid = signer.kid.clone();
        let outcome = self
            .db
            .write(move |conn| {
                if repo::refresh::try_spend(conn, &spent_hash, now)? {
                    let family = repo::refresh::find_family(conn, &family_id)?;
                    if family.is_none_or(|f| f.revoked_at.is_some()) {
                        return Ok::<_, DbError>(None);
                    }
                    let successor = repo::refresh::NewToken {
                        jti_hash: &successor_hash,
                        family_id: &family_id,
                        issued_at: now,
                        expires_at: exp,
                        access_jti_hash: &access_hash,
                        kid: &kid,
                    };
                    repo::refresh::insert_token(conn, &successor)?;
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
                    let within_grace =
                        grace > 0 && record.spent_at.is_some_and(|t| now <= t + grace);
                    let successor_unspent = match &record.successor_hash {
                        Some(h) => repo::refresh::find_token(conn, h)?
                            .is_some_and(|s| s.spent_at.is_none()),
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
            None => Err(RefreshRefusal::Revoked.into()),
            Some(Spend::Fresh) => {
                self.metrics.token_issued(TokenKind::Access);
                self.metrics.token_issued(TokenKind::Refresh);
                Ok(pair)
            }
            Some(Spend::Replayed(sealed)) => {
                self.metrics.refresh_reuse(false);
                let bytes = master
                    .open_any(&sealed, jti_hash.as_bytes())
                    .map_err(|_| RefreshRefusal::Reused)?;
                serde_json::from_slice(&bytes).map_err(|_| RefreshRefusal::Reused.into())
            }
            Some(Spend::Reused) => {
                tracing::warn!(family = %family.id, client_id = %claims.client_id, "refresh token reuse detected; family revoked");
                let event = Event {
                    kind: Kind::RefreshReuse,
                    outcome: audit::Outcome::Failure,
                    subject: Some(claims.client_id.clone()),
                    detail: Some(format!("family {} revoked", family.id)),
                };
                audit::record(&self.db, &self.clock, event).await;
                self.metrics.refresh_reuse(true);
                Err(RefreshRefusal::Reused.into())
            }
        }
    }

    /// Revokes the family of a refresh token. Returns false when it was not live.
    pub async fn revoke_family_of(
        &self,
        claims: &RefreshClaims,
        why: &'static str,
    ) -> Result<bool, DbError> {
        let jti_hash = digest_hex(&claims.jti);
        let now = self.clock.now();
        self.db
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
}

enum Spend {
    Fresh,
    Replayed(Vec<u8>),
    Reused,
}
