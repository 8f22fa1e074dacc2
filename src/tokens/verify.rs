//! Verifying our own tokens: a published `kid` whose key's algorithm the header's `alg`
//! names (the key decides, RFC 8725 §3.1), the expected `typ`, our issuer, and unexpired
//! (with leeway). `now` is a parameter.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::claims::{refresh_audience, AccessClaims, RefreshClaims};
use crate::keys::store::{KeySet, TokenType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm is not the algorithm of its key")]
    Algorithm,
    #[error("token is of the wrong type")]
    WrongType,
    #[error("token was signed by an unknown or revoked key")]
    UnknownKey,
    #[error("token signature is invalid")]
    Signature,
    #[error("token was issued by someone else")]
    Issuer,
    #[error("token is meant for another audience")]
    Audience,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token has been revoked")]
    Revoked,
    /// RFC 7515 §4.1.11: a `crit` header names extensions the verifier must understand;
    /// Gatehouse understands none, so any `crit` is refused rather than ignored.
    #[error("token header names critical extensions this server does not understand")]
    Critical,
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    /// Present at all (whatever its value): see [`TokenError::Critical`]. Other members a
    /// forger may add (`jku`, `x5u`, `jwk`, `x5c`) are ignored: keys come only from our own
    /// key set, never from the token, so nothing is ever fetched or trusted from them.
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// The time facts every claim set has.
trait Timed {
    fn iss(&self) -> &str;
    fn exp(&self) -> i64;
    fn iat(&self) -> i64;
    fn token_type(&self) -> &str;
}

impl Timed for AccessClaims {
    fn iss(&self) -> &str {
        &self.iss
    }
    fn exp(&self) -> i64 {
        self.exp
    }
    fn iat(&self) -> i64 {
        self.iat
    }
    fn token_type(&self) -> &str {
        &self.token_type
    }
}

impl Timed for RefreshClaims {
    fn iss(&self) -> &str {
        &self.iss
    }
    fn exp(&self) -> i64 {
        self.exp
    }
    fn iat(&self) -> i64 {
        self.iat
    }
    fn token_type(&self) -> &str {
        &self.token_type
    }
}

pub struct Verifier<'a> {
    pub keys: &'a KeySet,
    pub issuer: &'a str,
    pub leeway_secs: i64,
    pub now: i64,
}

impl Verifier<'_> {
    /// Any audience but the refresh tokens' one (resource servers have their own).
    pub fn access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims = self.verify(token, TokenType::Access, "access")?;
        if claims.aud == refresh_audience(self.issuer) {
            return Err(TokenError::Audience);
        }
        Ok(claims)
    }

    /// Audience `{issuer}/token`; the issuer itself was the audience of refresh tokens
    /// minted before, which stay acceptable here until they expire.
    pub fn refresh(&self, token: &str) -> Result<RefreshClaims, TokenError> {
        let claims: RefreshClaims = self.verify(token, TokenType::Refresh, "refresh")?;
        if claims.aud != refresh_audience(self.issuer) && claims.aud != self.issuer {
            return Err(TokenError::Audience);
        }
        Ok(claims)
    }

    /// An id_token we issued, as an RP-initiated logout hint: signed by a published key and
    /// by us; expiry is not checked (OIDC RP-Initiated Logout §2 lets a hint be expired).
    pub fn id_token_hint(&self, token: &str) -> Result<super::claims::IdClaims, TokenError> {
        let claims: super::claims::IdClaims = self.signed_claims(token, TokenType::Id)?;
        if claims.iss != self.issuer {
            return Err(TokenError::Issuer);
        }
        Ok(claims)
    }

    fn verify<C: DeserializeOwned + Timed>(
        &self,
        token: &str,
        typ: TokenType,
        token_type: &str,
    ) -> Result<C, TokenError> {
        let claims: C = self.signed_claims(token, typ)?;
        if claims.iss() != self.issuer {
            return Err(TokenError::Issuer);
        }
        if claims.token_type() != token_type {
            return Err(TokenError::WrongType);
        }
        // Saturating: a token signed by us never carries an `exp` near i64::MAX, but the
        // claim is parsed before anything else is trusted, and an overflow must not panic.
        if claims.exp().saturating_add(self.leeway_secs) <= self.now {
            return Err(TokenError::Expired);
        }
        if claims.iat() > self.now.saturating_add(self.leeway_secs) {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }

    /// Checks structure, `typ`, `kid`, `alg` (that of the kid's key: an RS256 header on an
    /// EC key, `none` or HS256 are refused before any signature is looked at) and the
    /// signature, with the key's algorithm; returns the claims.
    fn signed_claims<C: DeserializeOwned>(
        &self,
        token: &str,
        typ: TokenType,
    ) -> Result<C, TokenError> {
        if token.len() > 8192 {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_json(h)?;
        if header.crit {
            return Err(TokenError::Critical);
        }
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(typ.typ()))
        {
            return Err(TokenError::WrongType);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.verifier(kid))
            .ok_or(TokenError::UnknownKey)?;
        if header.alg != key.alg.as_str() {
            return Err(TokenError::Algorithm);
        }
        let message_len = h.len() + 1 + p.len();
        if !key.verifies(&token.as_bytes()[..message_len], s) {
            return Err(TokenError::Signature);
        }
        decode_json(p)
    }
}

fn decode_json<T: DeserializeOwned>(segment: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}
