//! The account page (`/account`): the signed-in user's own settings, server-rendered with the
//! login page's session, CSRF token and headers. Without a live session the browser goes to
//! the login page and comes back here.
//!
//! The page is made of sections, one template each under `templates/account/`, included by
//! `templates/account.html`; each section's form posts to a route of its own under
//! `/account/…`, handled in a module of its own here, which answers with the whole page
//! again ([`show`]) carrying its notice or its error.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::error::PageError;
use super::pages::{self, csrf_token, csrf_valid};
use super::sso::cookies;
use zeroize::Zeroizing;

use crate::accounts::User;
use crate::domain::utc_datetime;
use crate::error::Internal;
use crate::mfa::totp_factor::TotpState;
use crate::mfa::MfaError;
use crate::sso::authorize::ACCOUNT_PAGE;
use crate::sso::session::Session;
use crate::state::AppState;

mod email;
mod password;
mod qr;
mod sessions;
mod totp;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use super::resource;
    use web::{get, post};
    cfg.service(resource(ACCOUNT_PAGE, "GET").route(get().to(account_page)))
        .service(resource("/account/password", "POST").route(post().to(password::change)))
        .service(resource("/account/totp", "POST").route(post().to(totp::start)))
        .service(resource("/account/totp/confirm", "POST").route(post().to(totp::confirm)))
        .service(resource("/account/totp/remove", "POST").route(post().to(totp::remove)))
        .service(resource("/account/recovery-codes", "POST").route(post().to(totp::recovery_codes)))
        .service(resource("/account/sessions/end", "POST").route(post().to(sessions::end_one)))
        .service(
            resource("/account/sessions/end-others", "POST").route(post().to(sessions::end_others)),
        )
        .service(resource("/account/email", "POST").route(post().to(email::change)))
        .service(
            resource("/account/offline-access/revoke", "POST")
                .route(post().to(sessions::revoke_offline)),
        )
        .service(resource("/account/email/verification", "POST").route(post().to(email::resend)));
}

/// The page. Each section reads what it needs from here: add a field for a section's data
/// (filled in [`show`]) and include the section's template in `account.html`.
#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    csrf: &'a str,
    user: &'a User,
    /// What the last action did, shown at the top.
    notice: Option<&'a str>,
    /// A refusal, shown in the section (by name) whose form was refused.
    error: Option<(&'a str, &'a str)>,
    /// The password section: the policy's minimum length.
    min_length: usize,
    /// The authenticator-app section: an enrolment in progress, or since when the app is
    /// set up and how many recovery codes are left.
    totp_pending: Option<PendingTotp>,
    totp_since: Option<String>,
    recovery_codes_left: i64,
    /// Recovery codes just made, shown this once.
    recovery_codes: &'a [Zeroizing<String>],
    /// The sessions section: the user's live sessions, this one first.
    sessions: Vec<SessionRow>,
    /// The applications' refresh families, which a logout leaves alone.
    offline: Vec<OfflineRow>,
    /// The email section: mail is configured (a link can be sent again).
    mail: bool,
    /// A policy requires a second factor of the user (`user require-mfa`,
    /// `MFA_FOR_ADMINS`); shown at the top until they have one.
    mfa_required: bool,
    /// Where a sign-in that had to set up a second factor goes on to afterwards.
    next: Option<&'a str>,
}

/// An enrolment in progress as the page shows it: the QR code and the secret as text.
struct PendingTotp {
    qr_svg: Zeroizing<String>,
    secret: Zeroizing<String>,
}

/// One live session as the sessions section shows it.
struct SessionRow {
    sid: String,
    current: bool,
    started: String,
    last_used: String,
    ends: String,
    address: String,
    browser: String,
    applications: String,
}

/// One application's offline access as the section "Apps with offline access" shows it.
struct OfflineRow {
    id: String,
    client_id: String,
    since: String,
    ends: String,
}

impl AccountPage<'_> {
    /// The refusal to show in `section`, if it is that section's.
    fn error_in(&self, section: &str) -> Option<&str> {
        self.error.filter(|(s, _)| *s == section).map(|(_, m)| m)
    }
}

/// The signed-in user and their session, as the account's handlers see them.
pub(super) struct SignedIn {
    pub session: Session,
    pub user: User,
}

/// The live session's user, or the answer for a browser without one: the login page, to
/// come back here.
async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Result<SignedIn, HttpResponse>, PageError> {
    let cookie = req
        .cookie(cookies(state).session())
        .map(|c| c.value().to_string());
    Ok(match state.sso.session_user(cookie.as_deref()).await? {
        Some((session, user)) => {
            crate::audit::set_actor(&user.username);
            Ok(SignedIn { session, user })
        }
        None => {
            let query =
                serde_urlencoded::to_string([("return_to", ACCOUNT_PAGE)]).unwrap_or_default();
            Err(HttpResponse::Found()
                .insert_header((header::LOCATION, format!("/login?{query}")))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
    })
}

/// The outcome of a section's form, to show on the page.
#[derive(Default)]
pub(super) struct Outcome<'a> {
    pub notice: Option<&'a str>,
    pub error: Option<(&'a str, &'a str)>,
    /// Recovery codes just made, to show once.
    pub recovery_codes: Vec<Zeroizing<String>>,
}

/// A safe `return_to` to go on to after an enrolment (never the account page itself).
pub(super) fn next_of(return_to: Option<&str>) -> Option<&str> {
    match crate::sso::authorize::safe_return_to(return_to) {
        "" | ACCOUNT_PAGE => None,
        next => Some(next),
    }
}

/// The whole page for `who`, with the CSRF cookie set when the browser had none.
pub(super) async fn show(
    state: &AppState,
    req: &HttpRequest,
    who: &SignedIn,
    status: StatusCode,
    outcome: Outcome<'_>,
) -> Result<HttpResponse, PageError> {
    show_then(state, req, who, status, outcome, None).await
}

/// [`show`], for a sign-in that set up a second factor on its way to `next`.
pub(super) async fn show_then(
    state: &AppState,
    req: &HttpRequest,
    who: &SignedIn,
    status: StatusCode,
    outcome: Outcome<'_>,
    next: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (csrf, set) = csrf_token(req, cookies(state));
    let (mut totp_pending, mut totp_since, mut recovery_codes_left) = (None, None, 0);
    match state.mfa.totp_state(&who.user).await {
        Ok(TotpState::None) => {}
        Ok(TotpState::Pending(enrolment)) => {
            totp_pending = qr::svg(&enrolment.uri).map(|qr_svg| PendingTotp {
                qr_svg,
                secret: enrolment.secret,
            });
        }
        Ok(TotpState::Enabled {
            since,
            recovery_codes_left: left,
        }) => {
            totp_since = Some(utc_datetime(since));
            recovery_codes_left = left;
        }
        Err(MfaError::Internal(e)) => return Err(e.into()),
        Err(other) => return Err(PageError::Internal(Internal::Broken(Box::new(other)))),
    }
    let mut sessions: Vec<SessionRow> = state
        .sso
        .user_sessions(&who.user.username)
        .await
        .map_err(sessions::failure)?
        .into_iter()
        .map(|s| SessionRow {
            current: s.sid == who.session.sid,
            started: utc_datetime(s.created_at),
            last_used: utc_datetime(s.last_used_at),
            ends: utc_datetime(s.expires_at),
            address: s.address.unwrap_or_else(|| "-".into()),
            browser: s.browser.unwrap_or_else(|| "-".into()),
            applications: s
                .clients
                .iter()
                .map(|c| c.client_id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            sid: s.sid,
        })
        .collect();
    sessions.sort_by_key(|s| !s.current);
    let offline = state
        .sso
        .offline_grants(&who.user.username)
        .await
        .map_err(sessions::failure)?
        .into_iter()
        .map(|g| OfflineRow {
            id: g.id,
            client_id: g.client_id,
            since: utc_datetime(g.created_at),
            ends: utc_datetime(g.expires_at),
        })
        .collect();
    let page = AccountPage {
        sessions,
        offline,
        csrf: &csrf,
        user: &who.user,
        notice: outcome.notice,
        error: outcome.error,
        min_length: state.accounts.policy.min_length,
        totp_pending,
        totp_since,
        recovery_codes_left,
        recovery_codes: &outcome.recovery_codes,
        mail: state.settings.smtp.is_some(),
        mfa_required: state.sso.policy_requires_mfa(&who.user, false),
        next,
    };
    let mut resp = pages::render(status, &page);
    if let Some(c) = set {
        let _ = resp.add_cookie(&c);
    }
    Ok(resp)
}

/// A section's posted CSRF token, checked against the browser's cookie: a stale form is
/// refused in its section, nothing done.
pub(super) fn form_expired(state: &AppState, req: &HttpRequest, submitted: Option<&str>) -> bool {
    !csrf_valid(req, cookies(state), submitted)
}

/// `GET /account`.
async fn account_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let who = match signed_in(&state, &req).await? {
        Ok(who) => who,
        Err(to_login) => return Ok(to_login),
    };
    #[derive(serde::Deserialize)]
    struct Query {
        return_to: Option<String>,
    }
    let q: Option<Query> = serde_urlencoded::from_str(req.query_string()).ok();
    let next = next_of(q.as_ref().and_then(|q| q.return_to.as_deref()));
    show_then(&state, &req, &who, StatusCode::OK, Outcome::default(), next).await
}
