//! The HTTP surface: handlers parse, call the domain, and shape the reply.

pub mod admin;
pub mod bearer;
pub mod body;
pub mod client_addr;
pub mod client_auth;
pub mod code_grant;
pub mod discovery;
pub mod error;
pub mod health;
pub mod oauth;
pub mod pages;
pub mod simplejwt;
pub mod sso;
pub mod userinfo;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/.well-known/jwks.json", web::get().to(health::jwks))
        .route("/.well-known/jwks.json", web::head().to(health::jwks))
        .route(
            "/.well-known/openid-configuration",
            web::get().to(discovery::discovery),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            web::get().to(discovery::discovery),
        )
        .route("/authorize", web::get().to(sso::authorize))
        .route("/login", web::get().to(sso::login_page))
        .route("/login", web::post().to(sso::login))
        .route("/consent", web::post().to(sso::consent))
        .route("/logout", web::get().to(sso::logout))
        .route("/logout", web::post().to(sso::logout_confirmed))
        .route("/assets/gatehouse.css", web::get().to(sso::stylesheet))
        .route("/token", web::post().to(oauth::token))
        .route("/revoke", web::post().to(oauth::revoke))
        .route("/introspect", web::post().to(oauth::introspect))
        .route("/userinfo", web::get().to(userinfo::userinfo))
        .route("/userinfo", web::post().to(userinfo::userinfo))
        .route("/api/token/", web::post().to(simplejwt::obtain))
        .route("/api/token/refresh/", web::post().to(simplejwt::refresh))
        .route("/api/token/verify/", web::post().to(simplejwt::verify))
        .route(
            "/api/token/blacklist/",
            web::post().to(simplejwt::blacklist),
        )
        .configure(admin::routes);
}
