//! The JSON admin API under /admin: who may call it, keys, users, clients, hostile bodies.

use serde_json::Value;

use crate::helpers::TestApp;

mod access;
mod clients;
mod hostile;
mod keys;
mod paging;
mod users;

impl TestApp {
    async fn admin_get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    async fn admin_post(&self, token: &str, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    async fn admin_post_raw(
        &self,
        token: &str,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    async fn admin_delete(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    async fn client_credentials(&self, client_id: &str, secret: &str) -> reqwest::Response {
        self.http
            .post(self.url("/token"))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("request")
    }
}

pub(super) async fn json_of(resp: reqwest::Response) -> Value {
    resp.json().await.expect("a JSON body")
}

/// An admin API error: `status`, a JSON body with exactly `error` and a description.
pub(super) async fn assert_error(
    resp: reqwest::Response,
    status: u16,
    error: &str,
    what: &str,
) -> Value {
    assert_eq!(resp.status().as_u16(), status, "{what}");
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(ctype.starts_with("application/json"), "{what}: {ctype}");
    let body = json_of(resp).await;
    assert_eq!(body["error"], error, "{what}: {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
    body
}
