//! OIDC Core §5.3 userinfo: the claims the token's scopes allow.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::bearer;
use super::body;
use super::error::ApiError;
use crate::state::AppState;

#[derive(serde::Deserialize)]
struct Form {
    access_token: Option<String>,
}

pub async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // RFC 6750 §2.2: a POST may carry the token in a form body instead of the header.
    let form_token =
        if req.method() == actix_web::http::Method::POST && bearer::header_token(&req).is_none() {
            let bytes = body::read(&req, payload)
                .await
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            body::parse::<Form>(&req, &bytes, true)
                .map_err(|e| ApiError::bad_request(e.to_string()))?
                .access_token
        } else {
            None
        };
    let token = bearer::header_token(&req)
        .map(str::to_string)
        .or(form_token);
    let auth = bearer::authenticate(&state, token.as_deref()).await?;
    let Some(user) = &auth.user else {
        return Err(ApiError::invalid_token(
            "the token has no user (client_credentials)",
        ));
    };
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
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}
