//! Users and clients of a test, created in-process through the services the CLI and the
//! admin API use.

use clap::Parser;
use gatehouse::accounts::{NewClientRequest, NewUserRequest};
use gatehouse::passwords::Password;

use super::{password_grant, TestApp};

impl TestApp {
    /// Creates a user in-process, through the same service the CLI and admin API use.
    pub async fn add_user(&self, name: &str, password: &str, admin: bool) {
        self.state
            .accounts
            .create_user(NewUserRequest {
                username: name.into(),
                email: None,
                password: Password::new(password.into()),
                is_admin: admin,
            })
            .await
            .expect("user add");
    }

    /// Registers a client in-process from `gatehouse client add` arguments (parsed by the
    /// CLI's own parser); returns its secret when confidential.
    pub async fn add_client(&self, args: &[&str]) -> Option<String> {
        use gatehouse::cli::{ClientCommand, Command};
        let argv = ["gatehouse", "client", "add"].iter().chain(args);
        let cli = gatehouse::cli::Cli::try_parse_from(argv).expect("client add arguments");
        let Some(Command::Client(ClientCommand::Add {
            id,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            grants,
            scopes,
            consent,
            introspect_any,
            access_alg,
            id_token_alg,
            ..
        })) = cli.command
        else {
            panic!("not a client add command: {args:?}");
        };
        let (_, secret) = self
            .state
            .accounts
            .create_client(NewClientRequest {
                client_id: id,
                public,
                redirect_uris,
                post_logout_redirect_uris,
                grants,
                scopes,
                consent,
                introspect_any,
                access_token_alg: access_alg,
                id_token_alg,
            })
            .await
            .expect("client add");
        secret
    }

    /// Creates the admin user `root` and the confidential client `adm` (password grant,
    /// scopes `admin openid`) and returns an access token carrying scope `admin`.
    pub async fn admin_token(&self) -> String {
        self.add_user("root", ADMIN_PASSWORD, true).await;
        let secret = self
            .add_client(&["adm", "--grant", "password", "--scope", "admin", "openid"])
            .await
            .expect("adm is confidential");
        let resp = password_grant(
            &self.http,
            &self.address,
            "adm",
            &secret,
            "root",
            ADMIN_PASSWORD,
            "admin",
        )
        .await;
        assert_eq!(resp.status(), 200, "admin token");
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(body["scope"], "admin");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }
}

/// Password of the admin user [`TestApp::admin_token`] creates.
pub const ADMIN_PASSWORD: &str = "root password for tests";
