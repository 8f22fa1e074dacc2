//! OpenID Connect id_tokens (Core §2, §3.1.3.6 for `at_hash`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256, Sha512};

use crate::keys::Alg;

use crate::db::repo::clients::Client;
use crate::db::repo::sessions::AuthCode;
use crate::db::repo::users::User;
use crate::domain::split_scope;
use crate::keys::store::TokenType;
use crate::metrics::TokenKind;
use crate::tokens::issue::IssueError;
use crate::tokens::{TokenPolicy, Tokens};

pub use crate::tokens::claims::{IdClaims, IssuedIdClaims};

/// The id_token of a redeemed code: who signed in, when, and what its scopes allow.
pub fn claims(
    policy: &TokenPolicy,
    user: &User,
    client: &Client,
    code: &AuthCode,
    access_token: &str,
    now: i64,
) -> IssuedIdClaims {
    let scopes = split_scope(&code.scope);
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let auth = super::code::authentication(code);
    let claims = IdClaims {
        iss: policy.issuer.clone(),
        sub: user.id.clone(),
        aud: client.client_id.clone(),
        exp: now + policy.id_token_ttl,
        iat: now,
        auth_time: code.auth_time,
        nonce: code.nonce.clone(),
        sid: code.sid.clone(),
        at_hash: Some(at_hash(access_token, client.id_token_alg)),
        preferred_username: has("profile").then(|| user.username.clone()),
        email: if has("email") {
            user.email.clone()
        } else {
            None
        },
        email_verified: (has("email") && user.email.is_some()).then_some(user.email_verified),
    };
    IssuedIdClaims {
        claims,
        amr: auth.amr(),
        acr: auth.acr(),
    }
}

/// Signs an id_token with the key of `alg` (the client's `id_token_signed_response_alg`)
/// that signs now, and counts it.
pub fn sign(tokens: &Tokens, alg: Alg, claims: &IssuedIdClaims) -> Result<String, IssueError> {
    let keys = tokens.keys.snapshot();
    let signer = keys.signer(alg).ok_or(IssueError::NoKey)?;
    let signed = signer.sign(TokenType::Id, claims)?;
    tokens.metrics.token_issued(TokenKind::IdToken);
    Ok(signed)
}

/// The left half of the hash of the access token, base64url (OpenID Connect Core §3.1.3.6):
/// the hash of the id_token's `alg`, SHA-256 for RS256 and ES256, SHA-512 for EdDSA with
/// Ed25519 (as the Core errata and openid-client have it).
pub fn at_hash(access_token: &str, id_token_alg: Alg) -> String {
    match id_token_alg {
        Alg::Rs256 | Alg::Es256 => {
            let digest = Sha256::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..16])
        }
        Alg::EdDsa => {
            let digest = Sha512::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..32])
        }
    }
}
