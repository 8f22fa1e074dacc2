//! Registering a client's logout endpoints: the rule for their URIs (https only, unless the
//! issuer itself is plain http on loopback, for development), and the use cases that store
//! and show them.

use super::super::Sso;
use crate::audit::{self, Event, Kind};
use crate::db::repo;
pub use crate::db::repo::logout::LogoutEndpoints;
use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("unknown client")]
    UnknownClient,
    #[error("{0}")]
    Invalid(String),
    /// The client is declared in `CLIENTS_FILE`, whose entry holds its logout endpoints.
    #[error("client {0} is declared in the clients file (CLIENTS_FILE); change it there and apply the file")]
    Managed(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Checks a logout URI by the one rule of [`crate::domain::check_logout_uri`].
pub fn check_uri(uri: &str, issuer: &str, what: &str) -> Result<(), EndpointError> {
    crate::domain::check_logout_uri(uri, issuer, what).map_err(EndpointError::Invalid)
}

impl Sso {
    /// The client's logout endpoints (empty when none are registered).
    pub async fn logout_endpoints(
        &self,
        client_id: &str,
    ) -> Result<LogoutEndpoints, EndpointError> {
        let id = client_id.to_string();
        self.db
            .run(move |conn| {
                if repo::clients::find(conn, &id)?.is_none() {
                    return Err(EndpointError::UnknownClient);
                }
                Ok(
                    repo::logout::endpoints(conn, &id)?.unwrap_or(LogoutEndpoints {
                        client_id: id,
                        ..LogoutEndpoints::default()
                    }),
                )
            })
            .await
    }

    /// The logout endpoints registered for any of `client_ids` (those with none are left out).
    pub async fn logout_endpoints_of(
        &self,
        client_ids: Vec<String>,
    ) -> Result<Vec<LogoutEndpoints>, EndpointError> {
        Ok(self
            .db
            .run(move |conn| repo::logout::endpoints_of(conn, &client_ids))
            .await?)
    }

    /// Registers (or, with no URIs, removes) the client's logout endpoints; audited as a
    /// client update.
    pub async fn set_logout_endpoints(
        &self,
        endpoints: LogoutEndpoints,
    ) -> Result<(), EndpointError> {
        let mut endpoints = endpoints;
        let blank = |u: Option<String>| u.filter(|u| !u.trim().is_empty());
        endpoints.backchannel_logout_uri = blank(endpoints.backchannel_logout_uri);
        endpoints.frontchannel_logout_uri = blank(endpoints.frontchannel_logout_uri);
        if let Some(uri) = &endpoints.backchannel_logout_uri {
            check_uri(uri, &self.issuer, "backchannel_logout_uri")?;
        }
        if let Some(uri) = &endpoints.frontchannel_logout_uri {
            check_uri(uri, &self.issuer, "frontchannel_logout_uri")?;
        }
        crate::domain::check_logout_flags(
            endpoints.backchannel_logout_uri.as_deref(),
            endpoints.backchannel_logout_session_required,
            endpoints.frontchannel_logout_uri.as_deref(),
            endpoints.frontchannel_logout_session_required,
        )
        .map_err(EndpointError::Invalid)?;
        let stored = endpoints.clone();
        self.db
            .write(move |conn| {
                match repo::clients::find(conn, &stored.client_id)? {
                    None => return Err(EndpointError::UnknownClient),
                    Some(c) if c.managed => return Err(EndpointError::Managed(c.client_id)),
                    Some(_) => {}
                }
                repo::logout::set_endpoints(conn, &stored)?;
                Ok(())
            })
            .await?;
        let detail = format!(
            "logout endpoints: back-channel {}, front-channel {}",
            endpoints
                .backchannel_logout_uri
                .as_deref()
                .unwrap_or("none"),
            endpoints
                .frontchannel_logout_uri
                .as_deref()
                .unwrap_or("none"),
        );
        audit::record(
            &self.db,
            &self.clock,
            Event::success(Kind::ClientUpdated, &endpoints.client_id).detail(detail),
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check_uri;

    #[test]
    fn logout_uris_are_https_unless_the_issuer_is_local_http() {
        let ok = |u: &str, iss: &str| check_uri(u, iss, "uri").is_ok();
        assert!(ok("https://rp.example/logout", "https://id.example"));
        assert!(ok("https://rp.example:8443/bc?x=1", "https://id.example"));
        assert!(!ok("http://rp.example/logout", "https://id.example"));
        assert!(!ok("http://rp.example/logout", "http://id.example"));
        assert!(ok("http://127.0.0.1:9000/logout", "http://127.0.0.1:8080"));
        assert!(ok("http://localhost:9000/logout", "http://localhost:8080"));
        assert!(ok("http://rp.test/logout", "http://[::1]:8080"));
        for bad in [
            "/relative",
            "javascript:alert(1)",
            "ftp://rp.example/x",
            "https://user:pw@rp.example/logout",
            "https://rp.example/logout#frag",
            "",
        ] {
            assert!(!ok(bad, "http://127.0.0.1:8080"), "{bad}");
        }
        assert!(!ok(
            &format!("https://rp.example/{}", "a".repeat(2000)),
            "https://id.example"
        ));
    }
}
