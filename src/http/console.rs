//! The admin console: server-rendered pages for admin users, signed in through the login page
//! (the SSO session), with the pages' CSRF token and headers. Signing keys (state, age, the
//! next step and when; rotation and emergency rotation behind a confirmation), users and
//! clients (list, add, disable, enable, delete; a new client's secret shown once), and the
//! audit log. Each action calls the same use case as the admin API and the CLI.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::PageError;
use super::pages::{self, csrf_token, csrf_valid, read_form, Cookies};
use crate::accounts::clients::Client;
use crate::accounts::{AccountError, LastAdmin, NewClientRequest, NewUserRequest, User};
use crate::audit::{self, AuditFilter, AuditRecord};
use crate::domain::{split_scope, utc_datetime};
use crate::keys::lifecycle;
use crate::keys::rotation::RotationKind;
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
        AccountError::LastAdmin => Ok((StatusCode::CONFLICT, AccountError::LastAdmin.to_string())),
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
}

#[derive(Template)]
#[template(path = "console_keys.html")]
struct KeysPage<'a> {
    admin: &'a str,
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
    notice: Option<String>,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let policy = state.keys.policy.rotation;
    let keys = state
        .keys
        .list()
        .await
        .map_err(|e| PageError::Internal(e.into()))?
        .iter()
        .rev()
        .map(|k| KeyRow {
            kid: k.kid.clone(),
            state: k.state.as_str(),
            bits: k.bits,
            created: utc_datetime(k.created_at),
            age: age(now - k.created_at),
            next: lifecycle::next_step(k, policy.interval, policy.jwks_max_age)
                .map(|(what, at)| format!("{what} {}", utc_datetime(at)))
                .unwrap_or_else(|| "—".into()),
        })
        .collect();
    let page = KeysPage {
        admin: &admin.username,
        notice,
        keys,
    };
    Ok(render(req, state, StatusCode::OK, |_| page.render()))
}

async fn keys_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    match admin(&state, &req).await? {
        Ok(user) => keys_view(&state, &req, &user, None).await,
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
    let mut notice = format!(
        "Rotated: {} now signs.",
        outcome.current.as_deref().unwrap_or("no key")
    );
    if let Some(w) = &outcome.warning {
        notice.push_str(&format!(" Warning: {w}"));
    }
    keys_view(&state, &req, &user, Some(notice)).await
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
}

async fn users_view(
    state: &AppState,
    req: &HttpRequest,
    admin: &User,
    status: StatusCode,
    notice: Option<String>,
) -> Result<HttpResponse, PageError> {
    let users = state.accounts.list_users().await.map_err(failure)?;
    let rows = users
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
        }
        .render()
    }))
}

async fn users_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    match admin(&state, &req).await? {
        Ok(user) => users_view(&state, &req, &user, StatusCode::OK, None).await,
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
    users_view(&state, &req, &user, status, Some(notice)).await
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
    users_view(&state, &req, &user, status, Some(notice)).await
}

#[derive(Template)]
#[template(path = "console_reset_link.html")]
struct ResetLinkPage<'a> {
    admin: &'a str,
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
            return users_view(&state, &req, &admin_user, status, Some(notice)).await;
        }
    };
    Ok(render(&req, &state, StatusCode::OK, |_csrf| {
        ResetLinkPage {
            admin: &admin_user.username,
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
}

async fn clients_view(
    state: &AppState,
    req: &HttpRequest,
    admin: &User,
    status: StatusCode,
    notice: Option<String>,
    new_secret: Option<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let clients = state.accounts.list_clients().await.map_err(failure)?;
    let mut resp = render(req, state, status, |csrf| {
        ClientsPage {
            admin: &admin.username,
            csrf,
            notice,
            new_secret,
            clients,
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
        Ok(user) => clients_view(&state, &req, &user, StatusCode::OK, None, None).await,
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
            clients_view(&state, &req, &user, StatusCode::OK, Some(notice), shown).await
        }
        Err(e) => {
            let (status, notice) = refusal(e)?;
            clients_view(&state, &req, &user, status, Some(notice), None).await
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
    clients_view(&state, &req, &user, status, Some(notice), None).await
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
    kind: &'a str,
    actor: &'a str,
    records: Vec<AuditRow>,
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct AuditQueryForm {
    kind: Option<String>,
    actor: Option<String>,
    before: Option<String>,
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
        before: q.before,
        limit: Some(50),
        ..Default::default()
    };
    let page = match audit::page(&state.db, filter).await {
        Ok(page) => page,
        Err(audit::AuditError::Invalid(m)) => return Err(PageError::bad_request(m)),
        Err(audit::AuditError::Db(db)) => return Err(db.into()),
    };
    let next_page = page.cursor.map(|cursor| {
        let mut params = vec![("before", cursor)];
        if let Some(k) = &kind {
            params.push(("kind", k.clone()));
        }
        if let Some(a) = &actor {
            params.push(("actor", a.clone()));
        }
        format!(
            "/console/audit?{}",
            serde_urlencoded::to_string(params).unwrap_or_default()
        )
    });
    let view = AuditPage {
        admin: &user.username,
        kind: kind.as_deref().unwrap_or(""),
        actor: actor.as_deref().unwrap_or(""),
        records: page.records.into_iter().map(AuditRow::from).collect(),
        next_page,
    };
    Ok(render(&req, &state, StatusCode::OK, |_| view.render()))
}
