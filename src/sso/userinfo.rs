//! OIDC Core §5.3 userinfo: the claims the token's scopes allow.

use serde_json::{json, Value};

use crate::tokens::bearer::{Authenticated, BearerError};

pub fn claims(auth: &Authenticated) -> Result<Value, BearerError> {
    let user = auth.user()?;
    let mut body = json!({ "sub": user.id });
    if auth.has_scope("profile") {
        body["preferred_username"] = json!(user.username);
    }
    if auth.has_scope("email") {
        if let Some(email) = &user.email {
            body["email"] = json!(email);
            body["email_verified"] = json!(user.email_verified);
        }
    }
    Ok(body)
}
