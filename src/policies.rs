//! Each use-case context's narrow policy, built from [`Settings`] in start-up: the use cases
//! read the few settings they need from these and never import `config` (as fosite's flows
//! declare the configuration they read).

use std::time::Duration;

use crate::config::Settings;
use crate::db::alg::AlgSet;
use crate::housekeeping::Retention;
use crate::keys::lifecycle::RotationPolicy;
use crate::keys::manager::KeyPolicy;
use crate::outbox::OutboxPolicy;
use crate::sso::SsoPolicy;
use crate::tokens::TokenPolicy;

fn secs(d: Duration) -> i64 {
    d.as_secs() as i64
}

pub fn token_policy(s: &Settings) -> TokenPolicy {
    TokenPolicy {
        issuer: s.issuer.clone(),
        default_audience: s.default_audience.clone(),
        access_ttl: secs(s.access_ttl),
        refresh_ttl: secs(s.refresh_ttl),
        refresh_max_lifetime: secs(s.refresh_max_lifetime),
        refresh_grace: secs(s.refresh_grace),
        id_token_ttl: secs(s.id_token_ttl),
        leeway: secs(s.leeway),
        access_token_alg: s.access_token_alg,
        mfa_for_admins: s.mfa_for_admins,
    }
}

pub fn key_policy(s: &Settings) -> KeyPolicy {
    KeyPolicy {
        key_size: s.key_size,
        algs: AlgSet::of(&s.signing_algs),
        rotation: RotationPolicy {
            retire_for: s.longest_token_lifetime() + s.leeway,
            jwks_max_age: s.jwks_max_age,
            interval: s.key_rotation_interval,
            propagation: s.key_poll_interval + Duration::from_secs(1),
        },
        poll_interval: s.key_poll_interval,
    }
}

pub fn sso_policy(s: &Settings) -> SsoPolicy {
    SsoPolicy {
        issuer: s.issuer.clone(),
        session_ttl: secs(s.session_ttl),
        code_ttl: secs(s.code_ttl),
        mfa_for_admins: s.mfa_for_admins,
    }
}

/// How long housekeeping keeps each kind of record past its expiry.
pub fn retention(s: &Settings) -> Retention {
    let limits = s.login_throttle;
    Retention {
        leeway: secs(s.leeway),
        access_ttl: secs(s.access_ttl),
        refresh_grace: secs(s.refresh_grace),
        refresh_max_lifetime: secs(s.refresh_max_lifetime),
        // The forgot-password windows share the table.
        throttle_window: [limits, s.reset_throttle]
            .iter()
            .flat_map(|l| [l.per_username.window_secs, l.per_address.window_secs])
            .max()
            .unwrap_or(0),
        audit: secs(s.audit_retention),
    }
}

/// How long the outbox keeps retrying a message (`OUTBOX_GIVE_UP_AFTER`).
pub fn outbox_policy(s: &Settings) -> OutboxPolicy {
    OutboxPolicy {
        give_up_after_secs: secs(s.outbox_give_up_after),
    }
}
