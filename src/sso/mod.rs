//! Browser single sign-on: the authorization request, PKCE, sessions, codes, id_tokens,
//! and login throttling. Knows nothing of HTTP.

pub mod authorize;
pub mod code;
pub mod id_token;
pub mod pkce;
pub mod session;
pub mod throttle;
