//! The console's signing keys: the list with each key's next step, rotation (scheduled or
//! emergency) and revocation by kid, each behind a confirmation.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{admin, check_csrf, render, ConfirmPage};
use crate::accounts::User;
use crate::domain::utc_datetime;
use crate::http::error::{key_refusal, PageError};
use crate::http::pages::read_form;
use crate::keys::lifecycle;
use crate::keys::manager::MAX_REASON_CHARS;
use crate::keys::rotation::{RotationKind, RotationOutcome};
use crate::keys::Alg;
use crate::state::AppState;

struct KeyRow {
    kid: String,
    alg: &'static str,
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
    /// `SIGNING_ALGS`, each with its own rotation links when there are several.
    algs: Vec<&'static str>,
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
    // Each algorithm's line has its own schedule.
    let rotation_at = |alg| {
        let line = crate::keys::rotation::of_alg(&records, alg);
        lifecycle::scheduled_rotation_at(&line, &state.keys.policy.rotation)
    };
    let keys = records
        .iter()
        .rev()
        .map(|k| KeyRow {
            kid: k.kid.clone(),
            alg: k.alg.as_str(),
            state: k.state.as_str(),
            bits: k.bits,
            created: utc_datetime(k.created_at),
            age: age(now - k.created_at),
            next: lifecycle::next_step(k, rotation_at(k.alg))
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
            algs: state.keys.policy.algs.iter().map(Alg::as_str).collect(),
        }
        .render()
    }))
}

pub(super) async fn keys_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    match admin(&state, &req).await? {
        Ok(user) => keys_view(&state, &req, &user, StatusCode::OK, None).await,
        Err(answer) => Ok(answer),
    }
}

#[derive(Deserialize)]
struct RotationQuery {
    emergency: Option<String>,
    #[serde(default, deserialize_with = "alg_or_all")]
    alg: Option<Alg>,
}

pub(super) async fn confirm_rotation(
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
    // Which line: one algorithm's, or every algorithm's of SIGNING_ALGS.
    let which = match q.alg {
        Some(alg) => format!(" Only the {alg} keys change."),
        None if state.keys.policy.algs.iter().count() > 1 => {
            " Every algorithm's keys change.".to_string()
        }
        None => String::new(),
    };
    let question = format!("{question}{which}");
    let question = question.as_str();
    Ok(render(&req, &state, StatusCode::OK, |csrf| {
        ConfirmPage {
            admin: &user.username,
            csrf,
            title,
            question,
            action: "/console/keys/rotate",
            fields: vec![
                ("emergency", if emergency { "1" } else { "0" }),
                ("alg", q.alg.map(Alg::as_str).unwrap_or("")),
            ],
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
    /// One algorithm's line; every line without it.
    #[serde(default, deserialize_with = "alg_or_all")]
    alg: Option<Alg>,
}

/// A form's `alg`: empty (or absent) means every algorithm.
fn alg_or_all<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Alg>, D::Error> {
    let s = String::deserialize(d)?;
    match s.as_str() {
        "" => Ok(None),
        s => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

pub(super) async fn rotate(
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
    let (status, notice) = match state.keys.rotate(form.alg, kind).await {
        Ok(outcomes) => (
            StatusCode::OK,
            outcomes
                .iter()
                .map(|o| format!("Rotated: {}", signs_now(o)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Err(e) => match key_refusal(&e) {
            Some((status, _)) => (status, format!("Not rotated: {e}.")),
            None => return Err(PageError::Internal(e.into())),
        },
    };
    keys_view(&state, &req, &user, status, Some(notice)).await
}

/// Which key signs now and since when it is published, and any warning.
fn signs_now(outcome: &RotationOutcome) -> String {
    let mut said = format!(
        "{} now signs (published {}){}.",
        outcome.current.as_deref().unwrap_or("no key"),
        outcome
            .current_published_at
            .map(utc_datetime)
            .unwrap_or_else(|| "—".into()),
        outcome.alg.map(|a| format!(" for {a}")).unwrap_or_default(),
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

pub(super) async fn confirm_revocation(
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

pub(super) async fn revoke(
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
