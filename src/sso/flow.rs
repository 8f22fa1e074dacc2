//! The browser's way through sign-on: `/authorize` decides between an error, the login
//! page, the consent page and a code; signing in starts a session; consent is remembered per
//! user, client and scope set.

use super::authorize::{self, AuthParams, AuthRequest, Prompt, Rejection};
use super::step_up::{Assurance, Required};
use super::{code, session, Sso};
use crate::assurance::Level;
use crate::db::repo;
use crate::db::repo::users::User;
use crate::domain::{csp_origin, split_scope, ClientId};
use crate::error::Internal;

const ADMIN_ONLY: &str = "scope admin is only for admin users";

/// What `/authorize` does with a request.
pub enum Authorization {
    /// An error page, or an error sent to the registered redirect URI.
    Rejected(Rejection),
    /// No usable session: sign in, then come back to `return_to`.
    SignIn { return_to: String },
    /// The user has not consented to these scopes for this third-party client yet.
    Consent {
        return_to: String,
        client_id: String,
        /// CSP sources of the client's redirect URIs (the consent ends in a redirect there).
        redirect_origins: Vec<String>,
        username: String,
        scopes: Vec<String>,
    },
    /// A code was issued: send the browser to this URL (code, state, iss).
    Issued { redirect: String },
    /// The session is signed in with a password only and more is asked: the user's second
    /// factor, then back to `return_to`.
    StepUp { return_to: String, user: User },
    /// A policy requires a second factor the user has not set up: enrol, then back.
    Enrol { return_to: String },
}

/// Who a browser's session is, as the admin console asks.
pub enum SessionUser {
    None,
    NotAdmin,
    Admin(User),
    /// An admin whose session is below what a policy requires (`MFA_FOR_ADMINS`, the
    /// user's own): step up, or enrol first.
    AdminNeeds(Assurance, User),
}

/// What a consent decision leads to.
pub enum ConsentOutcome {
    Rejected(Rejection),
    SignIn {
        return_to: String,
    },
    /// Back to `/authorize`, which now finds the consent.
    Continue {
        return_to: String,
    },
}

/// A new session after a successful sign-in.
pub struct SignedIn {
    /// The session cookie's value (only its digest is stored).
    pub cookie: String,
    pub user: User,
}

/// The registered, enabled client a login page is for.
pub struct PageClient {
    pub client_id: String,
    /// CSP sources of its redirect URIs: the sign-in ends in a redirect there.
    pub redirect_origins: Vec<String>,
}

impl Sso {
    /// The client of the authorization request a `return_to` carries, when it is
    /// registered and enabled (the page never names anything else).
    pub async fn page_client(&self, return_to: &str) -> Result<Option<PageClient>, Internal> {
        let Some(id) = authorize::params_of_return_to(return_to).and_then(|p| p.client_id) else {
            return Ok(None);
        };
        if ClientId::parse_stored(&id).is_err() {
            return Ok(None);
        }
        let client = self
            .db
            .run(move |conn| repo::clients::find(conn, &id))
            .await?;
        Ok(client.filter(|c| !c.disabled).map(|c| PageClient {
            redirect_origins: c
                .redirect_uris
                .iter()
                .filter_map(|u| csp_origin(u))
                .collect(),
            client_id: c.client_id,
        }))
    }

    /// The live session behind a cookie and its enabled user (the account page).
    pub async fn session_user(
        &self,
        session_cookie: Option<&str>,
    ) -> Result<Option<(session::Session, User)>, Internal> {
        let Some(cookie) = session_cookie else {
            return Ok(None);
        };
        Ok(session::find(&self.db, cookie, self.clock.now()).await?)
    }

    /// The enabled admin user of a live session, for the admin console.
    pub async fn admin_of(&self, session_cookie: Option<&str>) -> Result<SessionUser, Internal> {
        let Some(cookie) = session_cookie else {
            return Ok(SessionUser::None);
        };
        let (session, user) = match session::find(&self.db, cookie, self.clock.now()).await? {
            Some((s, user)) if user.is_admin => (s, user),
            Some(_) => return Ok(SessionUser::NotAdmin),
            None => return Ok(SessionUser::None),
        };
        let required = Required {
            requested: None,
            by_policy: self.policy_requires_mfa(&user, false),
        };
        Ok(match self.assurance(&session, &user, required).await? {
            Assurance::Enough => SessionUser::Admin(user),
            lacking => SessionUser::AdminNeeds(lacking, user),
        })
    }

    /// Validates the request against its client (looked up by `client_id`).
    async fn validated(
        &self,
        params: &AuthParams,
    ) -> Result<Result<AuthRequest, Rejection>, Internal> {
        let id = match authorize::client_id(params) {
            Ok(id) => id.to_string(),
            Err(r) => return Ok(Err(r)),
        };
        let client = self
            .db
            .run(move |conn| repo::clients::find(conn, &id))
            .await?;
        Ok(authorize::validate(params, client))
    }

    fn redirect_error(
        &self,
        auth: &AuthRequest,
        error: &'static str,
        description: &str,
    ) -> Rejection {
        Rejection::Redirect {
            redirect_uri: auth.redirect_uri.clone(),
            error,
            description: description.into(),
            state: auth.state.clone(),
        }
    }

    /// `GET /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2) for the browser's session cookie.
    pub async fn authorize(
        &self,
        params: &AuthParams,
        session_cookie: Option<&str>,
    ) -> Result<Authorization, Internal> {
        let auth = match self.validated(params).await? {
            Ok(a) => a,
            Err(r) => return Ok(Authorization::Rejected(r)),
        };
        let now = self.clock.now();
        let live = match session_cookie {
            Some(c) => session::find(&self.db, c, now).await?,
            None => None,
        };
        let too_old = |auth_time: i64| auth.max_age.is_some_and(|m| now - auth_time > m);
        let (sess, user) = match live {
            Some((s, u)) if auth.prompt != Prompt::Login && !too_old(s.auth_time) => (s, u),
            _ if auth.prompt == Prompt::None => {
                let r = self.redirect_error(&auth, "login_required", "the user is not signed in");
                return Ok(Authorization::Rejected(r));
            }
            _ => {
                return Ok(Authorization::SignIn {
                    return_to: authorize::return_to(params),
                })
            }
        };
        // RFC 6749 §3.3: the server may refuse a scope; admin is for admin users only.
        if auth.scopes.iter().any(|s| s == "admin") && !user.is_admin {
            let r = self.redirect_error(&auth, "invalid_scope", ADMIN_ONLY);
            return Ok(Authorization::Rejected(r));
        }
        let required = Required {
            requested: auth.acr,
            by_policy: self.policy_requires_mfa(&user, auth.client.require_mfa),
        };
        match self.assurance(&sess, &user, required).await? {
            Assurance::Enough => {}
            _ if auth.prompt == Prompt::None => {
                let r = self.redirect_error(&auth, "login_required", "a second factor is needed");
                return Ok(Authorization::Rejected(r));
            }
            Assurance::StepUp => {
                return Ok(Authorization::StepUp {
                    return_to: authorize::return_to(params),
                    user,
                })
            }
            Assurance::Enrol => {
                return Ok(Authorization::Enrol {
                    return_to: authorize::return_to(params),
                })
            }
            Assurance::Unmet => {
                let r = self.redirect_error(
                    &auth,
                    "unmet_authentication_requirements",
                    "acr_values asks for a second factor, and the user has none set up",
                );
                return Ok(Authorization::Rejected(r));
            }
        }
        if auth.client.consent {
            let (uid, cid) = (user.id.clone(), auth.client.client_id.clone());
            let granted = self
                .db
                .run(move |conn| repo::sessions::find_consent(conn, &uid, &cid))
                .await?;
            let granted: Vec<String> = granted.map(|g| split_scope(&g)).unwrap_or_default();
            let covered = auth.scopes.iter().all(|s| granted.contains(s));
            if !covered || auth.prompt == Prompt::Consent {
                if auth.prompt == Prompt::None {
                    let r = self.redirect_error(
                        &auth,
                        "consent_required",
                        "the user has not consented",
                    );
                    return Ok(Authorization::Rejected(r));
                }
                return Ok(Authorization::Consent {
                    return_to: authorize::return_to(params),
                    client_id: auth.client.client_id.clone(),
                    redirect_origins: auth
                        .client
                        .redirect_uris
                        .iter()
                        .filter_map(|u| csp_origin(u))
                        .collect(),
                    username: user.username.clone(),
                    scopes: auth.scopes.clone(),
                });
            }
        }
        let code = code::issue(
            &self.db,
            &auth,
            &user.id,
            &sess.sid,
            session::authentication(&sess),
            self.code_ttl,
            now,
        )
        .await?;
        let mut out = vec![("code", code.as_str())];
        if let Some(s) = auth.state.as_deref() {
            out.push(("state", s));
        }
        out.push(("iss", self.issuer.as_str()));
        Ok(Authorization::Issued {
            redirect: authorize::redirect_with(&auth.redirect_uri, &out),
        })
    }

    /// A new session for a user who has passed every step of the sign-in (the password, and
    /// the second factor when they have one); the browser's old session (if any) ends, so a
    /// session id is never carried across a sign-in (fixation).
    pub async fn start_session(
        &self,
        user: User,
        old_cookie: Option<&str>,
        level: Level,
        origin: &session::Origin,
    ) -> Result<SignedIn, Internal> {
        let now = self.clock.now();
        if let Some(old) = old_cookie {
            if session::end(&self.db, old, now).await? {
                self.outbox.wake();
            }
        }
        let (cookie, _) =
            session::create(&self.db, &user.id, level, self.session_ttl, now, origin).await?;
        Ok(SignedIn { cookie, user })
    }

    /// After a second factor: the browser's live session of the same user is raised in
    /// place (a step-up keeps its `sid`, so its applications stay signed in; its cookie value
    /// changes), anything else is replaced by a new multi-factor session.
    pub async fn second_factor_session(
        &self,
        user: User,
        old_cookie: Option<&str>,
        origin: &session::Origin,
    ) -> Result<SignedIn, Internal> {
        let now = self.clock.now();
        if let Some(old) = old_cookie {
            let raised = session::raise(&self.db, old, &user.id, Level::MultiFactor, now).await?;
            if let Some(cookie) = raised {
                return Ok(SignedIn { cookie, user });
            }
        }
        self.start_session(user, old_cookie, Level::MultiFactor, origin)
            .await
    }

    /// `POST /consent`: remembers an allowed scope set, or sends `access_denied`.
    pub async fn consent(
        &self,
        return_to: &str,
        session_cookie: Option<&str>,
        allowed: bool,
    ) -> Result<ConsentOutcome, Internal> {
        let Some(params) = authorize::params_of_return_to(return_to) else {
            let malformed = Rejection::Page("The authorization request is malformed.".into());
            return Ok(ConsentOutcome::Rejected(malformed));
        };
        let auth = match self.validated(&params).await? {
            Ok(a) => a,
            Err(r) => return Ok(ConsentOutcome::Rejected(r)),
        };
        let now = self.clock.now();
        let live = session::find(&self.db, session_cookie.unwrap_or_default(), now).await?;
        let Some((_, user)) = live else {
            return Ok(ConsentOutcome::SignIn {
                return_to: return_to.to_string(),
            });
        };
        if !allowed {
            let r = self.redirect_error(&auth, "access_denied", "the user denied access");
            return Ok(ConsentOutcome::Rejected(r));
        }
        let (uid, cid, scope) = (
            user.id.clone(),
            auth.client.client_id.clone(),
            auth.scopes.join(" "),
        );
        self.db
            .write(move |conn| repo::sessions::store_consent(conn, &uid, &cid, &scope, now))
            .await?;
        Ok(ConsentOutcome::Continue {
            return_to: return_to.to_string(),
        })
    }
}
