//! The token request of `POST /token`, parsed once at the edge: the grant and the fields it
//! requires, none of them optional. A field the grant needs and the request lacks is
//! `invalid_request` naming it.

use super::{require_grant, truncate, GrantError};
use crate::db::repo::clients::Client;

use crate::passwords::Password;

/// The fields of a token request as they arrived: strings that may be absent.
#[derive(Default)]
pub struct TokenFields {
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

/// One grant's request (RFC 6749 §4.1.3, §4.3, §4.4, §6).
pub enum TokenRequest {
    Password {
        username: String,
        password: Password,
        scope: Option<String>,
        /// The caller's address, for the per-address failure window.
        client_addr: String,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<String>,
    },
    ClientCredentials {
        scope: Option<String>,
    },
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
}

impl TokenRequest {
    /// The request of an authenticated client, checked in the order of RFC 6749 §5.2: an
    /// unknown `grant_type` (`unsupported_grant_type`), a grant the client may not use
    /// (`unauthorized_client`), then a missing field (`invalid_request`).
    pub fn parse(
        grant_type: &str,
        client: &Client,
        fields: TokenFields,
        client_addr: String,
    ) -> Result<TokenRequest, GrantError> {
        let missing = |name: &str| GrantError::InvalidRequest(format!("{name} is required"));
        match grant_type {
            "password" => {
                require_grant(client, "password")?;
                Ok(TokenRequest::Password {
                    username: fields.username.ok_or_else(|| missing("username"))?,
                    password: Password::new(fields.password.ok_or_else(|| missing("password"))?),
                    scope: fields.scope,
                    client_addr,
                })
            }
            "refresh_token" => {
                require_grant(client, "refresh_token")?;
                Ok(TokenRequest::RefreshToken {
                    refresh_token: fields
                        .refresh_token
                        .ok_or_else(|| missing("refresh_token"))?,
                    scope: fields.scope,
                })
            }
            "client_credentials" => {
                if client.public {
                    return Err(GrantError::UnauthorizedClient(
                        "public clients cannot use client_credentials".into(),
                    ));
                }
                require_grant(client, "client_credentials")?;
                Ok(TokenRequest::ClientCredentials {
                    scope: fields.scope,
                })
            }
            "authorization_code" => {
                require_grant(client, "authorization_code")?;
                Ok(TokenRequest::AuthorizationCode {
                    code: fields.code.ok_or_else(|| missing("code"))?,
                    redirect_uri: fields.redirect_uri,
                    code_verifier: fields.code_verifier,
                })
            }
            other => Err(GrantError::UnsupportedGrantType(format!(
                "grant_type {:?} is not supported",
                truncate(other)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::grants::testing::{password_fields, refusal, Context, PASSWORD};

    #[tokio::test]
    async fn an_unknown_grant_type_is_unsupported_whatever_the_fields() {
        let ctx = Context::new().await;
        for grant in [
            "implicit",
            "PASSWORD",
            "",
            "urn:ietf:params:oauth:grant-type:device_code",
        ] {
            let fields = password_fields("alice", PASSWORD, None);
            let got = refusal(ctx.issue(&ctx.all_grants, grant, fields).await);
            assert!(
                got.starts_with("unsupported_grant_type: grant_type"),
                "{grant:?}: {got}"
            );
        }
    }
}
