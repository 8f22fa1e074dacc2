//! The context the grant tests run in: a real SQLite file (migrated), one signing key, a
//! manual clock, and the seeded users and clients each table row picks from.

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::login_guard::LoginGuard;
use crate::accounts::{Accounts, NewClientRequest, NewUserRequest, PasswordPolicy};
use crate::assurance::{Authentication, Level};
use crate::clock::Clock;
use crate::db::alg::{Alg, AlgSet};
use crate::db::repo::clients::Client;
use crate::db::{migrate, DatabaseUrl, Db};
use crate::domain::{Limit, LoginLimits};
use crate::keys::encryption::{MasterKey, MasterKeys};
use crate::keys::lifecycle::RotationPolicy;
use crate::keys::manager::{KeyPolicy, Keys};
use crate::keys::rotation;
use crate::keys::store::KeyStore;
use crate::metrics::Metrics;
use crate::passwords::{Hasher, Password};
use crate::sso::authorize::{AuthRequest, Prompt};
use crate::sso::code;
use crate::tokens::{TokenPolicy, Tokens};

use super::{GrantError, TokenFields, TokenRequest};

pub const PASSWORD: &str = "correct horse battery";
/// The redirect URI every client of the context is registered with.
pub const REDIRECT_URI: &str = "https://app.example/cb";
/// How long a code of [`Context::code`] is valid, in seconds.
pub const CODE_TTL: i64 = 60;
/// Failed sign-ins a username may have before the window throttles it.
pub const MAX_FAILURES: i32 = 3;

pub struct Context {
    pub tokens: Tokens,
    pub guard: LoginGuard,
    pub clock: Clock,
    /// Confidential, every grant, scopes `openid profile email offline_access admin api`.
    pub all_grants: Client,
    /// Confidential, registered for `client_credentials` only.
    pub machine: Client,
    /// Public, `authorization_code` and `refresh_token`.
    pub public: Client,
    /// The user id of `alice`.
    pub alice: String,
    _dir: tempfile::TempDir,
}

async fn client(accounts: &Accounts, id: &str, public: bool, grants: &[&str]) -> Client {
    let scopes = "openid profile email offline_access admin api";
    let (client, _) = accounts
        .create_client(NewClientRequest {
            client_id: id.into(),
            public,
            redirect_uris: vec![REDIRECT_URI.into()],
            post_logout_redirect_uris: vec![],
            grants: grants.iter().map(|g| g.to_string()).collect(),
            scopes: scopes.split(' ').map(str::to_string).collect(),
            consent: false,
            introspect_any: false,
            access_token_alg: None,
            id_token_alg: None,
        })
        .await
        .expect("client");
    client
}

impl Context {
    pub async fn new() -> Context {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("grants.db").to_string_lossy().into_owned();
        let db = Db::new(&DatabaseUrl::Sqlite(path), 2, Duration::from_secs(5)).expect("db");
        db.run(migrate::run_pending).await.expect("migrations");
        let clock = Clock::manual(1_800_000_000);
        let store = Arc::new(KeyStore::new(MasterKeys {
            current: MasterKey::generate(),
            previous: None,
        }));
        let keys = Keys {
            db: db.clone(),
            store: store.clone(),
            policy: KeyPolicy {
                key_size: 2048,
                algs: AlgSet::of(&[Alg::Rs256]),
                rotation: RotationPolicy {
                    retire_for: Duration::from_secs(86_400),
                    jwks_max_age: Duration::from_secs(300),
                    interval: Duration::from_secs(30 * 86_400),
                    propagation: Duration::from_secs(3),
                },
                poll_interval: Duration::from_secs(2),
            },
            clock: clock.clone(),
            generator: rotation::generator(),
        };
        keys.ensure_keys().await.expect("a signing key");
        keys.reload().await.expect("key set");
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        let policy = TokenPolicy {
            issuer: "https://id.example".into(),
            default_audience: "https://id.example".into(),
            access_ttl: 300,
            refresh_ttl: 3600,
            refresh_max_lifetime: 86_400,
            refresh_grace: 0,
            id_token_ttl: 3600,
            leeway: 0,
            access_token_alg: Alg::Rs256,
            mfa_for_admins: false,
        };
        let tokens = Tokens::new(db.clone(), store, policy, clock.clone(), metrics.clone());
        let accounts = Accounts::new(
            db,
            Hasher::new(1),
            clock.clone(),
            PasswordPolicy::default(),
            AlgSet::of(&[Alg::Rs256]),
        );
        let mut ids = Vec::new();
        for (username, is_admin) in [("alice", false), ("root", true)] {
            let user = accounts
                .create_user(NewUserRequest {
                    username: username.into(),
                    email: None,
                    password: Password::new(PASSWORD.into()),
                    is_admin,
                })
                .await
                .expect("user");
            ids.push(user.id);
        }
        let every = [
            "password",
            "refresh_token",
            "client_credentials",
            "authorization_code",
        ];
        let all_grants = client(&accounts, "all-grants", false, &every).await;
        let machine = client(&accounts, "machine", false, &["client_credentials"]).await;
        let public = client(
            &accounts,
            "public-app",
            true,
            &["authorization_code", "refresh_token"],
        )
        .await;
        let limit = Limit {
            max_failures: MAX_FAILURES,
            window_secs: 900,
        };
        let limits = LoginLimits {
            per_username: limit,
            per_address: Limit {
                max_failures: 1000,
                window_secs: 900,
            },
        };
        Context {
            tokens,
            guard: LoginGuard::new(accounts, limits, metrics),
            clock,
            all_grants,
            machine,
            public,
            alice: ids.swap_remove(0),
            _dir: dir,
        }
    }

    /// Parses and issues one request, as `POST /token` does after client authentication.
    pub async fn issue(
        &self,
        client: &Client,
        grant_type: &str,
        fields: TokenFields,
    ) -> Result<super::Issued, GrantError> {
        let request = TokenRequest::parse(grant_type, client, fields, "192.0.2.1".into())?;
        super::issue(&self.tokens, &self.guard, client, request).await
    }

    /// An authorization code of `alice` for `client`, as the sign-in issues it: for
    /// [`REDIRECT_URI`] and `scope`, bound to the PKCE `challenge`, issued `age` seconds ago
    /// and valid for [`CODE_TTL`].
    pub async fn code(
        &self,
        client: &Client,
        scope: &str,
        challenge: Option<&str>,
        age: i64,
    ) -> String {
        let request = AuthRequest {
            client: client.clone(),
            redirect_uri: REDIRECT_URI.into(),
            scopes: scope.split(' ').map(str::to_string).collect(),
            state: None,
            nonce: None,
            code_challenge: challenge.map(str::to_string),
            prompt: Prompt::Default,
            max_age: None,
            acr: None,
        };
        let issued_at = self.clock.now() - age;
        code::issue(
            &self.tokens.db,
            &request,
            &self.alice,
            "a-session",
            Authentication::new(issued_at, Level::Password),
            CODE_TTL,
            issued_at,
        )
        .await
        .expect("a code")
    }

    /// A refresh token of `alice` issued to `client` by the password grant.
    pub async fn refresh_token_of(&self, client: &Client) -> String {
        let issued = self
            .issue(client, "password", password_fields("alice", PASSWORD, None))
            .await
            .expect("a pair");
        issued.pair.refresh.expect("a refresh token")
    }
}

pub fn password_fields(username: &str, password: &str, scope: Option<&str>) -> TokenFields {
    TokenFields {
        username: Some(username.into()),
        password: Some(password.into()),
        scope: scope.map(str::to_string),
        ..TokenFields::default()
    }
}

/// The refusal as a row names it: the RFC 6749 §5.2 error and its description.
pub fn refusal(result: Result<super::Issued, GrantError>) -> String {
    match result {
        Ok(_) => "issued".into(),
        Err(GrantError::InvalidRequest(d)) => format!("invalid_request: {d}"),
        Err(GrantError::InvalidGrant(d)) => format!("invalid_grant: {d}"),
        Err(GrantError::InvalidScope(d)) => format!("invalid_scope: {d}"),
        Err(GrantError::UnauthorizedClient(d)) => format!("unauthorized_client: {d}"),
        Err(GrantError::UnsupportedGrantType(d)) => format!("unsupported_grant_type: {d}"),
        Err(GrantError::BadCredentials) => "bad_credentials".into(),
        Err(GrantError::Throttled(_)) => "throttled".into(),
        Err(GrantError::Refresh(r)) => format!("refresh: {r}"),
        Err(GrantError::Internal(i)) => format!("internal: {}", i.chain()),
    }
}
