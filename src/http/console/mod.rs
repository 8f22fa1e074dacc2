//! The admin console: server-rendered pages for admin users, signed in through the login page
//! (the SSO session), with the pages' CSRF token and headers. Signing keys (state, age, the
//! next step and when; rotation, emergency rotation and revocation of any key with a reason,
//! each behind a confirmation), users and clients (list a page at a time with a prefix
//! search, add, disable, enable, delete; a new client's secret shown once), and the audit
//! log; every page's header signs out. Each action calls the same use case as the admin API
//! and the CLI.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::{key_refusal, PageError};
use super::pages::{self, csrf_token, csrf_valid, read_form, Cookies};
use crate::accounts::clients::Client;
use crate::accounts::{AccountError, LastAdmin, NewClientRequest, NewUserRequest, User};
use crate::audit::{self, AuditFilter, AuditRecord};
use crate::domain::{split_scope, utc_datetime};
use crate::keys::lifecycle;
use crate::keys::manager::MAX_REASON_CHARS;
use crate::keys::rotation::{RotationKind, RotationOutcome};
use crate::paging::ListRequest;
use crate::passwords::Password;
use crate::sso::flow::SessionUser;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use super::resource;
    use web::{get, post};
    cfg.service(resource("/console", "GET").route(get().to(home)))
        .service(resource("/console/keys", "GET").route(get().to(keys_page)))
        .service(
            resource("/console/keys/rotate", "GET, POST")
                .route(get().to(confirm_rotation))
                .route(post().to(rotate)),
        )
        .service(
            resource("/console/keys/{kid}/revoke", "GET, POST")
                .route(get().to(confirm_revocation))
                .route(post().to(revoke)),
        )
        .service(
            resource("/console/users", "GET, POST")
                .route(get().to(users_page))
                .route(post().to(add_user)),
        )
        // Before the generic actions, which would take it for one of theirs.
        .service(resource("/console/users/{name}/reset-link", "POST").route(post().to(reset_link)))
        .service(
            resource("/console/users/{name}/{action}", "GET, POST")
                .route(get().to(confirm_user_action))
                .route(post().to(user_action)),
        )
        .service(
            resource("/console/clients", "GET, POST")
                .route(get().to(clients_page))
                .route(post().to(add_client)),
        )
        .service(
            resource("/console/clients/{id}/{action}", "GET, POST")
                .route(get().to(confirm_client_action))
                .route(post().to(client_action)),
        )
        .service(resource("/console/audit", "GET").route(get().to(audit_page)));
}

fn cookies(state: &AppState) -> Cookies {
    Cookies {
        secure: state.settings.issuer.starts_with("https://"),
    }
}

/// The signed-in admin, or the answer for anybody else: the login page (to come back
/// here) without a session, a 403 page for a user who is not an admin.
async fn admin(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Result<User, HttpResponse>, PageError> {
    let cookie = req
        .cookie(cookies(state).session())
        .map(|c| c.value().to_string());
    Ok(match state.sso.admin_of(cookie.as_deref()).await? {
        SessionUser::Admin(user) => {
            audit::set_actor(&user.username);
            Ok(user)
        }
        SessionUser::NotAdmin => Err(pages::message(
            StatusCode::FORBIDDEN,
            "Admins only",
            "The console is for admin users.",
        )),
        SessionUser::None => {
            let here = match req.query_string() {
                "" => req.path().to_string(),
                q => format!("{}?{q}", req.path()),
            };
            let query = serde_urlencoded::to_string([("return_to", here)]).unwrap_or_default();
            Err(HttpResponse::Found()
                .insert_header((header::LOCATION, format!("/login?{query}")))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
    })
}

/// Renders a console page with the CSRF cookie set when the browser had none.
fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    page: impl FnOnce(&str) -> Result<String, askama::Error>,
) -> HttpResponse {
    let (csrf, set) = csrf_token(req, cookies(state));
    let mut resp = match page(&csrf) {
        Ok(html) => pages::html(status, html),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            pages::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Please try again",
                "Something went wrong on our side.",
            )
        }
    };
    if let Some(c) = set {
        let _ = resp.add_cookie(&c);
    }
    resp
}

fn check_csrf(
    state: &AppState,
    req: &HttpRequest,
    submitted: Option<&str>,
) -> Result<(), PageError> {
    if csrf_valid(req, cookies(state), submitted) {
        Ok(())
    } else {
        Err(PageError::Client(
            StatusCode::FORBIDDEN,
            "This form has expired. Please reload the page and try again.".into(),
        ))
    }
}

/// A refused change shown on its page: what was wrong, with the status it deserves; a
/// failure that is not the admin's is the error page.
fn refusal(e: AccountError) -> Result<(StatusCode, String), PageError> {
    match e {
        AccountError::Invalid(m) => Ok((StatusCode::BAD_REQUEST, m)),
        AccountError::Exists(m) => Ok((StatusCode::CONFLICT, format!("{m} already exists"))),
        AccountError::NotFound(m) => Ok((StatusCode::NOT_FOUND, format!("{m} not found"))),
        AccountError::LastAdmin | AccountError::Managed(_) => {
            Ok((StatusCode::CONFLICT, e.to_string()))
        }
        AccountError::Db(db) => Err(db.into()),
        AccountError::Hash(h) => Err(PageError::Internal(h.into())),
    }
}

/// Listing fails only when the database does: the error page.
fn failure(e: AccountError) -> PageError {
    match refusal(e) {
        Ok((status, message)) => PageError::Client(status, message),
        Err(page) => page,
    }
}

async fn home() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/keys"))
        .finish()
}

// ---------------------------------------------------------------------------------------
// Signing keys

struct KeyRow {
    kid: String,
    state: &'static str,
    bits: i32,
    created: String,
    age: String,
    next: String,
    /// Whether the key can still be revoked (it is not already).
    revocable: bool,
}

#[derive(Template)]
#[template(path = "console_keys.html")]
struct KeysPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    notice: Option<String>,
    keys: Vec<KeyRow>,
}

/// `3d 4h`, `5m 2s`: how long ago.
fn age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}m {}s", s / 60, s % 60),
    }
}

async fn keys_view(
    state: &AppState,
    req: &HttpRequest,
    admin: &User,
    status: StatusCode,
    notice: Option<String>,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let records = state
        .keys
        .list()
        .await
        .map_err(|e| PageError::Internal(e.into()))?;
    let rotation_at = lifecycle::scheduled_rotation_at(&records, &state.keys.policy.rotation);
    let keys = records
        .iter()
        .rev()
        .map(|k| KeyRow {
            kid: k.kid.clone(),
            state: k.state.as_str(),
            bits: k.bits,
            created: utc_datetime(k.created_at),
            age: age(now - k.created_at),
            next: lifecycle::next_step(k, rotation_at)
                .map(|(what, at)| format!("{what} {}", utc_datetime(at)))
                .unwrap_or_else(|| "—".into()),
            revocable: k.state != lifecycle::KeyState::Revoked,
        })
        .collect();
    Ok(render(req, state, status, |csrf| {
        KeysPage {
            admin: &admin.username,
            csrf,
            notice,
            keys,
        }
        .render()
    }))
}

async fn keys_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    match admin(&state, &req).await? {
        Ok(user) => keys_view(&state, &req, &user, StatusCode::OK, None).await,
        Err(answer) => Ok(answer),
    }
}

#[derive(Template)]
#[template(path = "console_confirm.html")]
struct ConfirmPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    title: &'a str,
    question: &'a str,
    action: &'a str,
    fields: Vec<(&'a str, &'a str)>,
    confirm: &'a str,
    danger: bool,
    back: &'a str,
}

#[derive(Deserialize)]
struct RotationQuery {
    emergency: Option<String>,
}

async fn confirm_rotation(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let q: RotationQuery = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| PageError::bad_request("The rotation request is malformed."))?;
    let emergency = q.emergency.as_deref() == Some("1");
    let (title, question) = if emergency {
        (
            "Emergency rotation",
            "The current key is revoked at once: every token it signed stops verifying now, \
             and the pre-published next key takes over. Use it when the current key may have leaked.",
        )
    } else {
        (
            "Rotate signing keys",
            "The next key starts signing; the current key retires and stays published until \
             every token it signed has expired; a new next key is published.",
        )
    };
    Ok(render(&req, &state, StatusCode::OK, |csrf| {
        ConfirmPage {
            admin: &user.username,
            csrf,
            title,
            question,
            action: "/console/keys/rotate",
            fields: vec![("emergency", if emergency { "1" } else { "0" })],
            confirm: if emergency {
                "Revoke the current key"
            } else {
                "Rotate"
            },
            danger: emergency,
            back: "/console/keys",
        }
        .render()
    }))
}

#[derive(Deserialize)]
struct RotationForm {
    csrf: Option<String>,
    emergency: Option<String>,
}

async fn rotate(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: RotationForm = read_form(&req, payload, "rotation").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let kind = if form.emergency.as_deref() == Some("1") {
        RotationKind::Emergency
    } else {
        RotationKind::Manual
    };
    let outcome = state
        .keys
        .rotate(kind)
        .await
        .map_err(|e| PageError::Internal(e.into()))?;
    let notice = format!("Rotated: {}", signs_now(&outcome));
    keys_view(&state, &req, &user, StatusCode::OK, Some(notice)).await
}

/// Which key signs now and since when it is published, and any warning.
fn signs_now(outcome: &RotationOutcome) -> String {
    let mut said = format!(
        "{} now signs (published {}).",
        outcome.current.as_deref().unwrap_or("no key"),
        outcome
            .current_published_at
            .map(utc_datetime)
            .unwrap_or_else(|| "—".into())
    );
    if let Some(w) = &outcome.warning {
        said.push_str(&format!(" Warning: {w}"));
    }
    said
}

#[derive(Template)]
#[template(path = "console_revoke.html")]
struct RevokePage<'a> {
    admin: &'a str,
    csrf: &'a str,
    kid: &'a str,
    state: &'a str,
    max_reason: usize,
}

async fn confirm_revocation(
    state: web::Data<AppState>,
    req: HttpRequest,
    kid: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let records = state
        .keys
        .list()
        .await
        .map_err(|e| PageError::Internal(e.into()))?;
    let Some(key) = records.iter().find(|k| k.kid == *kid) else {
        return keys_view(
            &state,
            &req,
            &user,
            StatusCode::NOT_FOUND,
            Some(format!("No signing key has the kid {kid}.")),
        )
        .await;
    };
    Ok(render(&req, &state, StatusCode::OK, |csrf| {
        RevokePage {
            admin: &user.username,
            csrf,
            kid: &key.kid,
            state: key.state.as_str(),
            max_reason: MAX_REASON_CHARS,
        }
        .render()
    }))
}

#[derive(Deserialize)]
struct RevocationForm {
    csrf: Option<String>,
    reason: Option<String>,
}

async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    kid: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: RevocationForm = read_form(&req, payload, "revocation").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let (status, notice) = match state
        .keys
        .revoke(&kid, form.reason.as_deref().unwrap_or(""))
        .await
    {
        Ok(outcome) => (
            StatusCode::OK,
            format!("Revoked {kid}: {}", signs_now(&outcome)),
        ),
        Err(e) => match key_refusal(&e) {
            Some((status, _)) => (status, format!("Not revoked: {e}.")),
            None => return Err(PageError::Internal(e.into())),
        },
    };
    keys_view(&state, &req, &user, status, Some(notice)).await
}

// ---------------------------------------------------------------------------------------
// Users

struct UserRow {
    username: String,
    email: String,
    is_admin: bool,
    disabled: bool,
    created: String,
}

#[derive(Template)]
#[template(path = "console_users.html")]
struct UsersPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    notice: Option<String>,
    users: Vec<UserRow>,
    /// The search box's text.
    prefix: &'a str,
    next_page: Option<String>,
}

/// The listing a console page asks for in its query (`?prefix=&after=&limit=`).
fn list_request(req: &HttpRequest) -> Result<ListRequest, PageError> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|_| PageError::bad_request("The list query is malformed."))
}

/// `path?params`: the link to the next page, keeping the page's other parameters.
fn page_link(path: &str, next: Option<String>, mut params: Vec<(&str, String)>) -> Option<String> {
    params.retain(|(_, v)| !v.is_empty());
    params.push(("after", next?));
    Some(format!(
        "{path}?{}",
        serde_urlencoded::to_string(params).unwrap_or_default()
    ))
}

/// The next-page link of a listing asked for with `request`.
fn next_link(path: &str, request: &ListRequest, next: Option<String>) -> Option<String> {
    let mut params = vec![("prefix", request.prefix.clone().unwrap_or_default())];
    if let Some(limit) = request.limit {
        params.push(("limit", limit.to_string()));
    }
    page_link(path, next, params)
}

async fn users_view(
    state: &AppState,
    req: &HttpRequest,
    admin: &User,
    status: StatusCode,
    notice: Option<String>,
    request: ListRequest,
) -> Result<HttpResponse, PageError> {
    let page = state
        .accounts
        .list_users(request.clone())
        .await
        .map_err(failure)?;
    let next_page = next_link("/console/users", &request, page.next);
    let rows = page
        .items
        .into_iter()
        .map(|u| UserRow {
            created: utc_datetime(u.created_at),
            email: u.email.unwrap_or_default(),
            username: u.username,
            is_admin: u.is_admin,
            disabled: u.disabled,
        })
        .collect();
    Ok(render(req, state, status, |csrf| {
        UsersPage {
            admin: &admin.username,
            csrf,
            notice,
            users: rows,
            prefix: request.prefix.as_deref().unwrap_or(""),
            next_page,
        }
        .render()
    }))
}

async fn users_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    match admin(&state, &req).await? {
        Ok(user) => {
            let request = list_request(&req)?;
            users_view(&state, &req, &user, StatusCode::OK, None, request).await
        }
        Err(answer) => Ok(answer),
    }
}

#[derive(Deserialize)]
struct NewUserForm {
    csrf: Option<String>,
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    admin: Option<String>,
}

async fn add_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: NewUserForm = read_form(&req, payload, "user").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let request = NewUserRequest {
        username: form.username.unwrap_or_default(),
        email: form.email.filter(|e| !e.trim().is_empty()),
        password: Password::new(form.password.unwrap_or_default()),
        is_admin: form.admin.as_deref() == Some("on"),
    };
    let (status, notice) = match state.accounts.create_user(request).await {
        Ok(created) => (StatusCode::OK, format!("Added {}.", created.username)),
        Err(e) => refusal(e)?,
    };
    let first = ListRequest::default();
    users_view(&state, &req, &user, status, Some(notice), first).await
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

/// The confirmation before a delete (the only user and client action that cannot be undone).
async fn confirm_delete(
    state: &AppState,
    req: &HttpRequest,
    what: &str,
    name: &str,
    list: &str,
) -> Result<HttpResponse, PageError> {
    let user = match admin(state, req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let question = format!("Delete {what} {name}? This cannot be undone.");
    // Back where it was shown: the list page wrote the name into that path percent-encoded.
    let action = req.path().to_string();
    Ok(render(req, state, StatusCode::OK, |csrf| {
        ConfirmPage {
            admin: &user.username,
            csrf,
            title: "Delete",
            question: &question,
            action: &action,
            fields: vec![],
            confirm: "Delete",
            danger: true,
            back: list,
        }
        .render()
    }))
}

async fn confirm_user_action(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (name, action) = path.into_inner();
    if action != "delete" {
        return Err(PageError::Client(
            StatusCode::NOT_FOUND,
            "No such page.".into(),
        ));
    }
    confirm_delete(&state, &req, "user", &name, "/console/users").await
}

async fn user_action(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: CsrfForm = read_form(&req, payload, "action").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let (name, action) = path.into_inner();
    let accounts = &state.accounts;
    let done = match action.as_str() {
        "disable" => accounts
            .set_user_disabled(&name, true, LastAdmin::Keep)
            .await
            .map(|_| "Disabled"),
        "enable" => accounts
            .set_user_disabled(&name, false, LastAdmin::Keep)
            .await
            .map(|_| "Enabled"),
        "delete" => accounts
            .delete_user(&name, LastAdmin::Keep)
            .await
            .map(|()| "Deleted"),
        _ => {
            return Err(PageError::Client(
                StatusCode::NOT_FOUND,
                "No such action.".into(),
            ))
        }
    };
    let (status, notice) = match done {
        Ok(verb) => (StatusCode::OK, format!("{verb} {name}.")),
        Err(e) => refusal(e)?,
    };
    let first = ListRequest::default();
    users_view(&state, &req, &user, status, Some(notice), first).await
}

#[derive(Template)]
#[template(path = "console_reset_link.html")]
struct ResetLinkPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    username: &'a str,
    url: &'a str,
    expires: &'a str,
}

/// A user's password reset link, shown once on a page of its own.
async fn reset_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let admin_user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: CsrfForm = read_form(&req, payload, "action").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let link = match state.accounts.issue_reset_link(&path, None).await {
        Ok(link) => link,
        Err(e) => {
            let (status, notice) = refusal(e)?;
            let first = ListRequest::default();
            return users_view(&state, &req, &admin_user, status, Some(notice), first).await;
        }
    };
    Ok(render(&req, &state, StatusCode::OK, |csrf| {
        ResetLinkPage {
            admin: &admin_user.username,
            csrf,
            username: &path,
            url: &link.url(&state.settings.issuer),
            expires: &utc_datetime(link.expires_at),
        }
        .render()
    }))
}

// ---------------------------------------------------------------------------------------
// Clients

#[derive(Template)]
#[template(path = "console_clients.html")]
struct ClientsPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    notice: Option<String>,
    /// (client id, secret) of a client registered by this very request.
    new_secret: Option<(String, String)>,
    clients: Vec<Client>,
    /// The search box's text.
    prefix: &'a str,
    next_page: Option<String>,
}

async fn clients_view(
    state: &AppState,
    req: &HttpRequest,
    admin: &User,
    status: StatusCode,
    notice: Option<String>,
    new_secret: Option<(String, String)>,
    request: ListRequest,
) -> Result<HttpResponse, PageError> {
    let page = state
        .accounts
        .list_clients(request.clone())
        .await
        .map_err(failure)?;
    let next_page = next_link("/console/clients", &request, page.next);
    let mut resp = render(req, state, status, |csrf| {
        ClientsPage {
            admin: &admin.username,
            csrf,
            notice,
            new_secret,
            clients: page.items,
            prefix: request.prefix.as_deref().unwrap_or(""),
            next_page,
        }
        .render()
    });
    // The page may hold a secret: never cached (pages are no-store already), never referred.
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

async fn clients_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    match admin(&state, &req).await? {
        Ok(user) => {
            let request = list_request(&req)?;
            clients_view(&state, &req, &user, StatusCode::OK, None, None, request).await
        }
        Err(answer) => Ok(answer),
    }
}

#[derive(Deserialize)]
struct NewClientForm {
    csrf: Option<String>,
    client_id: Option<String>,
    redirect_uris: Option<String>,
    grants: Option<String>,
    scopes: Option<String>,
    public: Option<String>,
}

async fn add_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: NewClientForm = read_form(&req, payload, "client").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let words = |s: Option<String>| split_scope(s.as_deref().unwrap_or(""));
    let request = NewClientRequest {
        client_id: form.client_id.unwrap_or_default(),
        public: form.public.as_deref() == Some("on"),
        redirect_uris: words(form.redirect_uris),
        post_logout_redirect_uris: vec![],
        grants: words(form.grants),
        scopes: words(form.scopes),
        consent: false,
        introspect_any: false,
    };
    match state.accounts.create_client(request).await {
        Ok((client, secret)) => {
            let notice = format!("Registered {}.", client.client_id);
            let shown = secret.map(|s| (client.client_id.clone(), s));
            let first = ListRequest::default();
            clients_view(
                &state,
                &req,
                &user,
                StatusCode::OK,
                Some(notice),
                shown,
                first,
            )
            .await
        }
        Err(e) => {
            let (status, notice) = refusal(e)?;
            let first = ListRequest::default();
            clients_view(&state, &req, &user, status, Some(notice), None, first).await
        }
    }
}

async fn confirm_client_action(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, action) = path.into_inner();
    if action != "delete" {
        return Err(PageError::Client(
            StatusCode::NOT_FOUND,
            "No such page.".into(),
        ));
    }
    confirm_delete(&state, &req, "client", &id, "/console/clients").await
}

async fn client_action(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let form: CsrfForm = read_form(&req, payload, "action").await?;
    check_csrf(&state, &req, form.csrf.as_deref())?;
    let (id, action) = path.into_inner();
    let accounts = &state.accounts;
    let done = match action.as_str() {
        "disable" => accounts
            .set_client_disabled(&id, true)
            .await
            .map(|_| "Disabled"),
        "enable" => accounts
            .set_client_disabled(&id, false)
            .await
            .map(|_| "Enabled"),
        "delete" => accounts.delete_client(&id).await.map(|()| "Deleted"),
        _ => {
            return Err(PageError::Client(
                StatusCode::NOT_FOUND,
                "No such action.".into(),
            ))
        }
    };
    let (status, notice) = match done {
        Ok(verb) => (StatusCode::OK, format!("{verb} {id}.")),
        Err(e) => refusal(e)?,
    };
    let first = ListRequest::default();
    clients_view(&state, &req, &user, status, Some(notice), None, first).await
}

// ---------------------------------------------------------------------------------------
// Audit log

struct AuditRow {
    at: String,
    kind: String,
    outcome: String,
    actor: String,
    subject: String,
    client_addr: String,
    detail: String,
}

impl From<AuditRecord> for AuditRow {
    fn from(r: AuditRecord) -> Self {
        AuditRow {
            at: utc_datetime(r.at),
            kind: r.kind,
            outcome: r.outcome,
            actor: r.actor.unwrap_or_default(),
            subject: r.subject.unwrap_or_default(),
            client_addr: r.client_addr.unwrap_or_default(),
            detail: r.detail.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console_audit.html")]
struct AuditPage<'a> {
    admin: &'a str,
    csrf: &'a str,
    kind: &'a str,
    actor: &'a str,
    records: Vec<AuditRow>,
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct AuditQueryForm {
    kind: Option<String>,
    actor: Option<String>,
    #[serde(alias = "before")]
    after: Option<String>,
}

async fn audit_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let user = match admin(&state, &req).await? {
        Ok(user) => user,
        Err(answer) => return Ok(answer),
    };
    let q: AuditQueryForm = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| PageError::bad_request("The audit query is malformed."))?;
    let kind = q.kind.filter(|k| !k.is_empty());
    let actor = q.actor.filter(|a| !a.is_empty());
    let filter = AuditFilter {
        kind: kind.clone(),
        actor: actor.clone(),
        after: q.after,
        ..Default::default()
    };
    let page = match audit::page(&state.db, filter).await {
        Ok(page) => page,
        Err(audit::AuditError::Invalid(m)) => return Err(PageError::bad_request(m)),
        Err(audit::AuditError::Db(db)) => return Err(db.into()),
    };
    let next_page = page_link(
        "/console/audit",
        page.next,
        vec![
            ("kind", kind.clone().unwrap_or_default()),
            ("actor", actor.clone().unwrap_or_default()),
        ],
    );
    Ok(render(&req, &state, StatusCode::OK, |csrf| {
        AuditPage {
            admin: &user.username,
            csrf,
            kind: kind.as_deref().unwrap_or(""),
            actor: actor.as_deref().unwrap_or(""),
            records: page.records.into_iter().map(AuditRow::from).collect(),
            next_page,
        }
        .render()
    }))
}
