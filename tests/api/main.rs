//! Black-box tests over real HTTP. Each test runs against a fresh SQLite file and again
//! against a fresh PostgreSQL database (when GATEHOUSE_TEST_POSTGRES_URL is set).

mod admin;
mod architecture;
mod attacks;
mod audit;
mod browser;
mod browser_spa;
mod cli;
mod console;
mod cors;
mod data_at_rest;
mod django_import;
mod downstream;
mod hardening;
mod helpers;
mod housekeeping;
mod keys;
mod login_guard;
mod master_key;
mod oauth;
mod observability;
mod oidc_rp;
mod openapi;
mod operator;
mod outage;
mod properties;
mod simplejwt;
mod smoke;
mod sso;
mod stack;
