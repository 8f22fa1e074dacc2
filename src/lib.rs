//! Gatehouse: an OAuth2 / OpenID Connect identity provider.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod accounts;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod db;
pub mod django_passwords;
pub mod domain;
pub mod error;
pub mod grants;
pub mod housekeeping;
pub mod http;
pub mod keys;
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod os_user;
pub mod paging;
pub mod passwords;
pub mod sso;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tokens;
