//! The HTTP surface: handlers parse the request, call one use case, and shape the reply.

pub mod account;
pub mod account_api;
pub mod admin;
pub mod admin_mfa;
pub mod admin_sessions;
pub mod body;
pub mod client_addr;
pub mod client_auth;
pub mod console;
pub mod cors;
pub mod discovery;
pub mod error;
pub mod forgot;
pub mod health;
pub mod middleware;
pub mod oauth;
pub mod openapi;
pub mod pages;
pub mod reset;
pub mod schemas;
pub mod simplejwt;
pub mod sso;
pub mod userinfo;
pub mod verify_email;

use actix_web::http::header;
use actix_web::{web, HttpResponse, Resource};

/// A path whose other methods get 405 with `Allow` (RFC 9110 §15.5.6) instead of a 404.
/// `allow` lists the methods routed below it.
pub(crate) fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, allow))
            .json(schemas::ErrorBody {
                error: "method_not_allowed",
                error_description: format!("this endpoint accepts {allow}"),
            })
    }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    use cors::Cors;
    use web::{get, head, post};
    let preflight = || web::route().method(actix_web::http::Method::OPTIONS);
    cfg.service(resource("/healthz", "GET").route(get().to(health::healthz)))
        .service(resource("/readyz", "GET").route(get().to(health::readyz)))
        .service(resource("/metrics", "GET").route(get().to(health::metrics)))
        .service(
            resource("/.well-known/jwks.json", "GET, HEAD")
                .route(get().to(health::jwks))
                .route(head().to(health::jwks))
                .route(preflight().to(cors::public_preflight)),
        )
        .service(
            resource("/.well-known/openid-configuration", "GET")
                .route(get().to(discovery::discovery))
                .route(preflight().to(cors::public_preflight)),
        )
        .service(
            resource("/.well-known/oauth-authorization-server", "GET")
                .route(get().to(discovery::discovery))
                .route(preflight().to(cors::public_preflight)),
        )
        .service(resource("/openapi.json", "GET").route(get().to(openapi::openapi)))
        .service(resource("/authorize", "GET").route(get().to(sso::authorize)))
        .service(
            resource("/login", "GET, POST")
                .route(get().to(sso::login_page))
                .route(post().to(sso::login)),
        )
        .service(resource("/login/mfa", "POST").route(post().to(sso::login_mfa::complete)))
        .service(
            resource("/reset", "GET, POST")
                .route(get().to(reset::reset_page))
                .route(post().to(reset::reset)),
        )
        .service(
            resource("/forgot", "GET, POST")
                .route(get().to(forgot::forgot_page))
                .route(post().to(forgot::forgot)),
        )
        .service(
            resource("/verify-email", "GET, POST")
                .route(get().to(verify_email::verify_page))
                .route(post().to(verify_email::verify)),
        )
        .service(resource("/consent", "POST").route(post().to(sso::consent)))
        .service(
            resource("/logout", "GET, POST")
                .route(get().to(sso::logout))
                .route(post().to(sso::logout_confirmed)),
        )
        .service(resource("/assets/gatehouse.css", "GET").route(get().to(sso::stylesheet)))
        .service(
            resource("/token", "POST")
                .route(post().to(oauth::token))
                .wrap(Cors::allow("POST")),
        )
        .service(
            resource("/revoke", "POST")
                .route(post().to(oauth::revoke))
                .wrap(Cors::allow("POST")),
        )
        .service(resource("/introspect", "POST").route(post().to(oauth::introspect)))
        .service(
            resource("/userinfo", "GET, POST")
                .route(get().to(userinfo::userinfo))
                .route(post().to(userinfo::userinfo_post))
                .wrap(Cors::allow("GET, POST")),
        )
        .service(
            resource("/api/token/", "POST")
                .route(post().to(simplejwt::obtain))
                .wrap(Cors::allow("POST")),
        )
        .service(
            resource("/api/account/totp/", "POST, DELETE")
                .route(post().to(account_api::start))
                .route(web::delete().to(account_api::remove))
                .wrap(Cors::allow("POST, DELETE")),
        )
        .service(
            resource("/api/account/totp/confirm/", "POST")
                .route(post().to(account_api::confirm))
                .wrap(Cors::allow("POST")),
        )
        .service(
            resource("/api/token/mfa/", "POST")
                .route(post().to(simplejwt::obtain_mfa))
                .wrap(Cors::allow("POST")),
        )
        .service(
            resource("/api/token/refresh/", "POST")
                .route(post().to(simplejwt::refresh))
                .wrap(Cors::allow("POST")),
        )
        .service(
            resource("/api/token/verify/", "POST")
                .route(post().to(simplejwt::verify))
                .wrap(Cors::allow("POST")),
        )
        .service(
            resource("/api/token/blacklist/", "POST")
                .route(post().to(simplejwt::blacklist))
                .wrap(Cors::allow("POST")),
        )
        .configure(account::routes)
        .configure(admin::routes)
        .configure(admin_sessions::routes)
        .configure(admin_mfa::routes)
        .configure(console::routes);
}
