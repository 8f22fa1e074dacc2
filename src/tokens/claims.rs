//! JWT claim sets. Access tokens follow RFC 9068 and also carry simplejwt's `token_type`
//! and `user_id` so Django verifiers accept them.

use serde::{Deserialize, Serialize};

use crate::assurance::{Authentication, Level};
use crate::keys::Alg;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    pub token_type: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "user_id_claim"
    )]
    pub user_id: Option<String>,
    /// When and how the user signed in (RFC 9068 §2.2.1, RFC 8176); absent on
    /// client_credentials tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

impl AccessClaims {
    /// The assurance level of the sign-in behind the token (`acr`); none for a token
    /// without a user, or with an `acr` we do not issue.
    pub fn level(&self) -> Option<Level> {
        self.acr.as_deref().and_then(Level::from_acr)
    }
}

/// A refresh token. Its `aud` is [`refresh_audience`], which is never an access token's, so
/// a downstream verifier that checks `aud` but not `typ` refuses it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefreshClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    pub token_type: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "user_id_claim"
    )]
    pub user_id: Option<String>,
}

/// Whom a token is for: shared by both halves of a pair.
#[derive(Debug, Clone)]
pub struct Subject {
    pub sub: String,
    /// simplejwt's `user_id`; `None` for client_credentials tokens.
    pub user_id: Option<String>,
    pub client_id: String,
    pub scope: String,
    pub audience: String,
    /// What the pair is signed with (the client's choice, else `ACCESS_TOKEN_ALG`).
    pub alg: Alg,
    /// How the user signed in; `None` for client_credentials tokens.
    pub auth: Option<Authentication>,
}

/// The `aud` of every refresh token: the token endpoint, `{issuer}/token`.
pub fn refresh_audience(issuer: &str) -> String {
    format!("{issuer}/token")
}

/// simplejwt writes an integer primary key as a JSON number (`"user_id": 42`), so a Django
/// view comparing `request.user.id` with an integer column keeps working: an imported
/// user's decimal primary key is written as a number, anything else (a `sub`, a UUID
/// key) as a string. Either is read back as text.
pub mod user_id_claim {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        match id.as_deref() {
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n.to_string() == text => s.serialize_i64(n),
                _ => s.serialize_str(text),
            },
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Option::<serde_json::Value>::deserialize(d)? {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    }
}

/// An OpenID Connect id_token (Core §2); verified here as a logout hint, issued by `sso`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub sid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// An id_token as issued: its claims, and how the user signed in (RFC 8176 `amr`, our
/// `acr`). Apart from [`IdClaims`] so a logout hint issued before they existed still reads.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedIdClaims {
    #[serde(flatten)]
    pub claims: IdClaims,
    pub amr: Vec<String>,
    pub acr: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decimal_user_id_is_a_json_number_like_simplejwt_writes_it() {
        let mut claims = AccessClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "a".into(),
            client_id: "c".into(),
            exp: 1,
            iat: 0,
            jti: "j".into(),
            scope: String::new(),
            token_type: "access".into(),
            user_id: Some("42".into()),
            auth_time: None,
            amr: None,
            acr: None,
        };
        for (id, json) in [
            ("42", serde_json::json!(42)),
            ("007", serde_json::json!("007")),
            ("6f1c-uuid", serde_json::json!("6f1c-uuid")),
        ] {
            claims.user_id = Some(id.into());
            let value = serde_json::to_value(&claims).unwrap();
            assert_eq!(value["user_id"], json);
            let back: AccessClaims = serde_json::from_value(value).unwrap();
            assert_eq!(back.user_id.as_deref(), Some(id));
        }
        claims.user_id = None;
        let value = serde_json::to_value(&claims).unwrap();
        assert!(value.get("user_id").is_none());
        let back: AccessClaims = serde_json::from_value(value).unwrap();
        assert_eq!(back.user_id, None);
    }
}
