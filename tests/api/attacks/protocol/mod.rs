//! Protocol attacks on the browser and token flows: authorization-code injection, mix-up
//! (RFC 9207 `iss`), open redirects through every redirecting parameter, `state` and
//! `nonce` round trips, client-secret guessing, session fixation, login and logout CSRF, and
//! the headers every HTML page carries (framing, caching, referrer).
//!
//! By subject: `codes` (code injection, mix-up, unsupported response types), `redirects`
//! (open redirects, `state` and `nonce`), `sessions` (client-secret guessing, session fixation,
//! CSRF) and `pages` (the headers of every HTML page).

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::snapshot;
use crate::both_backends;
use crate::helpers::{peek, spawn_app, spawn_app_with, status_json, Backend, TestApp};
use crate::sso::{
    authorize_url, browser, exchange, hidden, location, query_param, setup, sign_in, REDIRECT,
    VERIFIER,
};

mod codes;
mod pages;
mod redirects;
mod sessions;

const ALICE: &str = "alice-password-1";
