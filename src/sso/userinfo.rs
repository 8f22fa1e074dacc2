//! OIDC Core §5.3 userinfo: the claims the token's scopes allow.

use crate::tokens::bearer::{Authenticated, BearerError};

/// `sub`, and what `profile` and `email` allow.
pub struct Claims {
    pub sub: String,
    pub preferred_username: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
}

pub fn claims(auth: &Authenticated) -> Result<Claims, BearerError> {
    let user = auth.user()?;
    let mut claims = Claims {
        sub: user.id.clone(),
        preferred_username: None,
        email: None,
        email_verified: None,
    };
    if auth.has_scope("profile") {
        claims.preferred_username = Some(user.username.clone());
    }
    if auth.has_scope("email") {
        if let Some(email) = &user.email {
            claims.email = Some(email.clone());
            claims.email_verified = Some(user.email_verified);
        }
    }
    Ok(claims)
}
