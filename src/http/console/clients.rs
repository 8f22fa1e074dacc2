//! The console's clients: a page at a time with a prefix search; register (the secret shown
//! once), disable, enable, delete (after a confirmation).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    admin, check_csrf, confirm_delete, failure, list_request, next_link, refusal, render, CsrfForm,
};
use crate::accounts::clients::Client;
use crate::accounts::{NewClientRequest, User};
use crate::domain::split_scope;
use crate::http::error::PageError;
use crate::http::pages::read_form;
use crate::keys::Alg;
use crate::paging::ListRequest;
use crate::state::AppState;

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

pub(super) async fn clients_page(
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
    /// Empty: the default (`ACCESS_TOKEN_ALG`, RS256 for id_tokens).
    access_token_alg: Option<String>,
    id_token_alg: Option<String>,
}

pub(super) async fn add_client(
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
    let alg = |s: Option<String>| match s.as_deref().unwrap_or("") {
        "" => Ok(None),
        s => s.parse::<Alg>().map(Some),
    };
    let (access_token_alg, id_token_alg) =
        match (alg(form.access_token_alg), alg(form.id_token_alg)) {
            (Ok(a), Ok(i)) => (a, i),
            (Err(e), _) | (_, Err(e)) => {
                return Err(PageError::bad_request(format!("{e}.")));
            }
        };
    let request = NewClientRequest {
        client_id: form.client_id.unwrap_or_default(),
        public: form.public.as_deref() == Some("on"),
        redirect_uris: words(form.redirect_uris),
        post_logout_redirect_uris: vec![],
        grants: words(form.grants),
        scopes: words(form.scopes),
        consent: false,
        introspect_any: false,
        access_token_alg,
        id_token_alg,
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

pub(super) async fn confirm_client_action(
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

pub(super) async fn client_action(
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
        "require-mfa" => accounts
            .set_client_require_mfa(&id, true)
            .await
            .map(|_| "A second factor is required for"),
        "no-require-mfa" => accounts
            .set_client_require_mfa(&id, false)
            .await
            .map(|_| "A password alone is enough again for"),
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
