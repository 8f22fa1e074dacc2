//! The one definition of a live token, used wherever a token is accepted: verify, userinfo,
//! introspection and the admin API (bearer authentication). An access token is live when its
//! signature, claims and key check out, it is not revoked (by itself or with its family), and
//! its user (if it has one) and its client are present and enabled. A refresh token is live
//! when it checks out, is unspent, its family is neither revoked nor over, and its user and
//! client are present and enabled.

use super::claims::{AccessClaims, RefreshClaims};
use super::verify::TokenError;
use super::Tokens;
use crate::db::repo::liveness::{self, AccessToken, Holders, Liveness};
use crate::db::{repo, DbError};
use crate::digest::digest_hex;

/// Why a token is not live; the description is ours, never the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotLive {
    #[error("{0}")]
    Invalid(TokenError),
    /// Revoked by itself or with its family; for a refresh token also spent or over.
    #[error("token has been revoked")]
    Revoked,
    #[error("the token's user is disabled or gone")]
    UserGone,
    #[error("the token's client is disabled or gone")]
    ClientGone,
}

impl NotLive {
    fn from_liveness(state: Liveness) -> Result<(), NotLive> {
        match state {
            Liveness::Live => Ok(()),
            Liveness::Revoked => Err(NotLive::Revoked),
            Liveness::UserGone => Err(NotLive::UserGone),
            Liveness::ClientGone => Err(NotLive::ClientGone),
        }
    }
}

/// A token's answer: the claims of a live one, or why it is not; the outer error is the
/// database's.
pub type Checked<C> = Result<Result<C, NotLive>, DbError>;

impl Tokens {
    /// An access token's claims if it is live.
    pub async fn live_access(&self, token: &str) -> Checked<AccessClaims> {
        let claims = match self.verify_access(token) {
            Ok(claims) => claims,
            Err(e) => return Ok(Err(NotLive::Invalid(e))),
        };
        Ok(self.access_state(&claims).await?.map(|()| claims))
    }

    /// The database's part of [`Tokens::live_access`], for verified claims. It goes in the
    /// batched read of this moment's checks (one set of queries for them all, see
    /// `db::batched`).
    pub async fn access_state(
        &self,
        claims: &AccessClaims,
    ) -> Result<Result<(), NotLive>, DbError> {
        let token = AccessToken {
            jti_hash: digest_hex(&claims.jti),
            holders: Holders {
                user: claims.user_id.is_some().then(|| claims.sub.clone()),
                client: claims.client_id.clone(),
            },
        };
        Ok(NotLive::from_liveness(
            self.access_liveness.read(token).await?,
        ))
    }

    /// A refresh token's claims if it is live.
    pub async fn live_refresh(&self, token: &str) -> Checked<RefreshClaims> {
        let claims = match self.verify_refresh(token) {
            Ok(claims) => claims,
            Err(e) => return Ok(Err(NotLive::Invalid(e))),
        };
        let jti_hash = digest_hex(&claims.jti);
        let holders = Holders {
            user: claims.user_id.is_some().then(|| claims.sub.clone()),
            client: claims.client_id.clone(),
        };
        let now = self.clock.now();
        let state = self
            .db
            .run(move |conn| {
                let Some(record) = repo::refresh::find_token(conn, &jti_hash)? else {
                    return Ok(Liveness::Revoked);
                };
                let family_live = record.spent_at.is_none()
                    && repo::refresh::find_family(conn, &record.family_id)?
                        .is_some_and(|f| f.revoked_at.is_none() && f.expires_at > now);
                if !family_live {
                    return Ok(Liveness::Revoked);
                }
                let states = liveness::holders_among(conn, &[&holders])?;
                Ok::<_, DbError>(states.first().copied().unwrap_or(Liveness::ClientGone))
            })
            .await?;
        Ok(NotLive::from_liveness(state).map(|()| claims))
    }
}
