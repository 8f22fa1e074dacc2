//! The resource owner password credentials grant (RFC 6749 §4.3), for registered clients
//! only (RFC 9700 discourages it; it is kept for simplejwt users), and the simplejwt password
//! exchange of `/api/token/`, which issues to the built-in `simplejwt` client.

use zeroize::Zeroizing;

use super::{resolve_scope, GrantError};
use crate::accounts::login_guard::{LoginGuard, PasswordSurface};
use crate::accounts::MAX_PASSWORD_BYTES;
use crate::assurance::{Authentication, Level};
use crate::db::repo;
use crate::db::repo::clients::Client;
use crate::db::repo::users::User;
use crate::mfa::challenge::{ChallengeError, PasswordStep};
use crate::mfa::Mfa;
use crate::passwords::Password;
use crate::tokens::claims::Subject;
use crate::tokens::refresh::Pair;
use crate::tokens::Tokens;

/// The built-in client that `/api/token/` issues to (created by the migrations).
pub const SIMPLEJWT_CLIENT: &str = "simplejwt";

pub struct PasswordRequest {
    pub username: String,
    pub password: Password,
    pub scope: Option<String>,
    /// The caller's address, for the per-address failure window.
    pub client_addr: String,
}

/// `grant_type=password` at `/token`, for a client [`super::TokenRequest::parse`] allowed it.
pub async fn grant(
    tokens: &Tokens,
    guard: &LoginGuard,
    client: &Client,
    req: PasswordRequest,
) -> Result<Pair, GrantError> {
    let (username, password) = (req.username, req.password);
    if password.expose().len() > MAX_PASSWORD_BYTES || username.len() > 150 * 4 {
        return Err(GrantError::BadCredentials);
    }
    let scopes = resolve_scope(client, req.scope.as_deref(), &["admin", "offline_access"])?;
    let user = guard
        .check_password(
            &username,
            password,
            &req.client_addr,
            PasswordSurface::PasswordGrant,
        )
        .await?;
    // After the password, so only someone who knows it learns that the account has one
    // (or must have one).
    let id = user.id.clone();
    if tokens
        .db
        .run(move |conn| repo::factors::has_second_factor(conn, &id))
        .await?
    {
        return Err(GrantError::InvalidGrant(
            "this account signs in with a second factor, which the password grant cannot \
             ask for: use the browser sign-in (authorization code flow)"
                .into(),
        ));
    }
    if requires_mfa(tokens, &user, client) {
        return Err(GrantError::InvalidGrant(
            "a second factor is required for this account or client, which the password \
             grant cannot ask for: use the browser sign-in (authorization code flow), which \
             sets one up"
                .into(),
        ));
    }
    if scopes.iter().any(|s| s == "admin") && !user.is_admin {
        return Err(GrantError::InvalidScope(
            "scope admin is only for admin users".into(),
        ));
    }
    let auth = Authentication::new(tokens.clock.now(), Level::Password);
    let subject = user_subject(tokens, &user, client, scopes.join(" "), auth);
    Ok(tokens
        .issue_pair(&subject, client.allows_grant("refresh_token"))
        .await?)
}

/// Why `/api/token/` issued nothing.
#[derive(Debug, thiserror::Error)]
pub enum ObtainError {
    /// An operator disabled the built-in `simplejwt` client.
    #[error("the simplejwt endpoints are disabled")]
    Disabled,
    /// The password was right and a second factor is due: complete the challenge at
    /// `/api/token/mfa/`.
    #[error("a second factor is required")]
    MfaRequired(MfaToken),
    /// The right password of a user a policy requires a second factor of, who has none:
    /// they set one up on the account page first (`account_page`, its URL).
    #[error(
        "this account must set up a second factor before it signs in here: sign in at \
         {account_page} and set up an authenticator app"
    )]
    MfaEnrolmentRequired { account_page: String },
    /// `/api/token/mfa/`: the challenge or the code was refused.
    #[error(transparent)]
    Challenge(#[from] ChallengeError),
    #[error(transparent)]
    Grant(#[from] GrantError),
}

/// A challenge as `/api/token/` hands it out; its `Debug` hides it.
pub struct MfaToken(pub Zeroizing<String>);

impl std::fmt::Debug for MfaToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaToken(<hidden>)")
    }
}

/// The enabled built-in client of `/api/token/`.
async fn simplejwt_client(tokens: &Tokens) -> Result<Client, ObtainError> {
    tokens
        .db
        .run(|conn| repo::clients::find(conn, SIMPLEJWT_CLIENT))
        .await
        .map_err(GrantError::from)?
        .filter(|c| !c.disabled)
        .ok_or(ObtainError::Disabled)
}

/// `POST /api/token/`: a pair for the `simplejwt` client with its registered scopes, or,
/// for a user with a second factor, the challenge to complete at `/api/token/mfa/`.
pub async fn obtain_simplejwt(
    tokens: &Tokens,
    mfa: &Mfa,
    username: &str,
    password: Password,
    client_addr: &str,
) -> Result<Pair, ObtainError> {
    let client = simplejwt_client(tokens).await?;
    let step = mfa
        .password_step(username, password, client_addr, PasswordSurface::SimpleJwt)
        .await
        .map_err(GrantError::from)?;
    let user = match step {
        PasswordStep::Done(user) => user,
        PasswordStep::SecondFactor { token, .. } => {
            return Err(ObtainError::MfaRequired(MfaToken(token)))
        }
    };
    if requires_mfa(tokens, &user, &client) {
        let account_page = format!(
            "{}{}",
            tokens.policy.issuer,
            crate::sso::authorize::ACCOUNT_PAGE
        );
        return Err(ObtainError::MfaEnrolmentRequired { account_page });
    }
    issue_simplejwt(tokens, &client, &user, Level::Password).await
}

/// `POST /api/token/mfa/`: the challenge of `/api/token/` completed with a code of the app or
/// a recovery code, for the pair.
pub async fn complete_simplejwt_mfa(
    tokens: &Tokens,
    mfa: &Mfa,
    mfa_token: &str,
    code: &str,
    client_addr: &str,
) -> Result<Pair, ObtainError> {
    let client = simplejwt_client(tokens).await?;
    let (user, _) = mfa
        .complete_challenge(mfa_token, PasswordSurface::SimpleJwt, code, client_addr)
        .await?;
    issue_simplejwt(tokens, &client, &user, Level::MultiFactor).await
}

async fn issue_simplejwt(
    tokens: &Tokens,
    client: &Client,
    user: &User,
    level: Level,
) -> Result<Pair, ObtainError> {
    let auth = Authentication::new(tokens.clock.now(), level);
    let subject = user_subject(tokens, user, client, client.scopes.join(" "), auth);
    Ok(tokens
        .issue_pair(&subject, true)
        .await
        .map_err(GrantError::from)?)
}

/// Whether a policy requires a second factor of `user` signing in to `client`.
fn requires_mfa(tokens: &Tokens, user: &User, client: &Client) -> bool {
    crate::assurance::mfa_required_by_policy(
        user.require_mfa,
        user.is_admin,
        tokens.policy.mfa_for_admins,
        client.require_mfa,
    )
}

/// Whom a user's tokens are for, and how they signed in.
pub fn user_subject(
    tokens: &Tokens,
    user: &User,
    client: &Client,
    scope: String,
    auth: Authentication,
) -> Subject {
    Subject {
        sub: user.id.clone(),
        user_id: Some(user.user_id().to_string()),
        client_id: client.client_id.clone(),
        scope,
        audience: tokens.policy.default_audience.clone(),
        alg: tokens.access_alg(client),
        auth: Some(auth),
    }
}

#[cfg(test)]
mod tests {
    use crate::grants::testing::{password_fields, refusal, Context, MAX_FAILURES, PASSWORD};
    use crate::grants::TokenFields;

    #[tokio::test]
    async fn each_refusal_of_the_password_grant() {
        let ctx = Context::new().await;
        let long = "x".repeat(1025);
        // (row, use the machine client, fields, the refusal it must get)
        let rows: Vec<(&str, bool, TokenFields, &str)> = vec![
            (
                "a client not registered for the grant",
                true,
                password_fields("alice", PASSWORD, None),
                "unauthorized_client: client is not allowed the password grant",
            ),
            (
                "no username",
                false,
                TokenFields {
                    password: Some(PASSWORD.into()),
                    ..TokenFields::default()
                },
                "invalid_request: username is required",
            ),
            (
                "no password",
                false,
                TokenFields {
                    username: Some("alice".into()),
                    ..TokenFields::default()
                },
                "invalid_request: password is required",
            ),
            (
                "an unknown user",
                false,
                password_fields("nobody", PASSWORD, None),
                "bad_credentials",
            ),
            (
                "a wrong password",
                false,
                password_fields("alice", "not the password", None),
                "bad_credentials",
            ),
            (
                "a password longer than any can be",
                false,
                password_fields("alice", &long, None),
                "bad_credentials",
            ),
            (
                "a scope the client is not registered for",
                false,
                password_fields("alice", PASSWORD, Some("payroll")),
                "invalid_scope: scope \"payroll\" is not registered for this client",
            ),
            (
                "scope admin for a user who is not an admin",
                false,
                password_fields("alice", PASSWORD, Some("admin")),
                "invalid_scope: scope admin is only for admin users",
            ),
        ];
        for (row, machine, fields, expected) in rows {
            let client = if machine {
                &ctx.machine
            } else {
                &ctx.all_grants
            };
            let got = refusal(ctx.issue(client, "password", fields).await);
            assert_eq!(got, expected, "{row}");
        }
        // The right password still works for alice, and for the admin with scope admin.
        let ok = password_fields("root", PASSWORD, Some("admin"));
        assert_eq!(
            refusal(ctx.issue(&ctx.all_grants, "password", ok).await),
            "issued"
        );
    }

    #[tokio::test]
    async fn a_username_is_throttled_after_its_failures_even_with_the_right_password() {
        let ctx = Context::new().await;
        for _ in 0..MAX_FAILURES {
            let wrong = password_fields("root", "not the password", None);
            let got = refusal(ctx.issue(&ctx.all_grants, "password", wrong).await);
            assert_eq!(got, "bad_credentials");
        }
        let right = password_fields("root", PASSWORD, None);
        let got = refusal(ctx.issue(&ctx.all_grants, "password", right).await);
        assert_eq!(got, "throttled");
    }
}
