//! `CLIENTS_FILE` with `gatehouse` processes: the clients a file declares are created at
//! start and work, a changed file updates them at the next start, `clients apply --dry-run`
//! prints the changes and makes none, an invalid file stops the start (and fails `gatehouse
//! check`) with its line and the reason and changes nothing, and instances starting
//! together apply the file once.

use crate::both_backends;
use crate::helpers::{run_cli, run_cli_env, Backend, CliOutput, ServerProcess, Storage};

both_backends!(
    a_clients_file_creates_clients_at_start_and_a_changed_file_updates_them,
    an_invalid_clients_file_stops_the_start_with_the_line_and_changes_nothing,
    instances_starting_together_apply_the_file_once,
);

const ISSUER: &str = "http://gatehouse.test";
const FIRST_SECRET: &str = "first-billing-secret-from-the-environment";
const SECOND_SECRET: &str = "second-billing-secret-given-as-a-digest";

const FIRST: &str = r#"
[[client]]
id = "billing"
kind = "confidential"
grants = ["client_credentials"]
scopes = ["read", "write"]
secret_env = "BILLING_SECRET"

[[client]]
id = "spa"
kind = "public"
redirect_uris = ["https://spa.example/cb"]
grants = ["authorization_code", "refresh_token"]
scopes = ["openid", "profile"]
"#;

const SECOND: &str = r#"
[[client]]
id = "billing"
kind = "confidential"
grants = ["client_credentials"]
scopes = ["read"]
secret_sha256 = "DIGEST"

[[client]]
id = "reports"
kind = "public"
redirect_uris = ["https://reports.example/cb"]
consent = true
"#;

async fn start(storage: &Storage, name: &str, env: &[(&str, &str)]) -> ServerProcess {
    let mut server = ServerProcess::spawn_with_env(storage, ISSUER, name, env);
    assert!(
        server.ready(&reqwest::Client::new(), 90).await,
        "{name} never got ready:\n{}",
        server.log_text()
    );
    server
}

async fn client_credentials(server: &ServerProcess, id: &str, secret: &str) -> u16 {
    reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `gatehouse client list`, one (id, state) per client.
async fn listed(storage: &Storage) -> Vec<(String, String)> {
    let out = run_cli(storage, &["client", "list"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    out.stdout
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[0].to_string(), cols[2].to_string())
        })
        .collect()
}

/// `text` as the storage's clients file, and its path.
fn written(storage: &Storage, text: &str) -> String {
    let file = storage.dir.path().join("clients.toml");
    std::fs::write(&file, text).unwrap();
    file.to_str().unwrap().to_string()
}

fn shown(out: &CliOutput) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

async fn a_clients_file_creates_clients_at_start_and_a_changed_file_updates_them(backend: Backend) {
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    let path = written(&storage, FIRST);
    let path = path.as_str();
    let env = [
        ("GATEHOUSE_CLIENTS_FILE", path),
        ("BILLING_SECRET", FIRST_SECRET),
    ];
    let mut first = start(&storage, "first", &env).await;
    assert_eq!(
        client_credentials(&first, "billing", FIRST_SECRET).await,
        200
    );
    assert_eq!(client_credentials(&first, "billing", "wrong").await, 401);
    let log = first.log_text();
    assert!(log.contains("create billing (confidential)"), "{log}");
    assert!(log.contains("create spa (public)"), "{log}");
    assert!(!log.contains(FIRST_SECRET), "{log}");
    first.child.kill().await.unwrap();

    let digest = gatehouse::digest::digest_hex(SECOND_SECRET);
    std::fs::write(path, SECOND.replace("DIGEST", &digest)).unwrap();
    let dry = run_cli(&storage, &["clients", "apply", path, "--dry-run"], "").await;
    assert!(dry.status.success(), "{}", shown(&dry));
    let expected = [
        "dry run: nothing is changed",
        "update billing: secret, scopes",
        "create reports (public)",
        "disable spa: no longer declared",
    ];
    for line in expected {
        assert!(dry.stdout.contains(line), "{line} in {}", dry.stdout);
    }
    assert!(!shown(&dry).contains(&digest), "{}", shown(&dry));
    let before = listed(&storage).await;
    assert!(
        before.contains(&("spa".into(), "enabled".into())),
        "{before:?}"
    );
    assert!(!before.iter().any(|(id, _)| id == "reports"), "{before:?}");

    // The second start: the new digest replaces the secret of the environment (no longer set).
    let second = start(&storage, "second", &[("GATEHOUSE_CLIENTS_FILE", path)]).await;
    assert_eq!(
        client_credentials(&second, "billing", FIRST_SECRET).await,
        401
    );
    assert_eq!(
        client_credentials(&second, "billing", SECOND_SECRET).await,
        200
    );
    let after = listed(&storage).await;
    assert!(
        after.contains(&("spa".into(), "disabled".into())),
        "{after:?}"
    );
    assert!(
        after.contains(&("reports".into(), "enabled".into())),
        "{after:?}"
    );

    // Applied again: nothing to do. The released client is the operator's again.
    let again = run_cli(&storage, &["clients", "apply", path], "").await;
    assert!(again.status.success(), "{}", shown(&again));
    assert_eq!(again.stdout.trim(), "unchanged: billing, reports");
    let delete = run_cli(&storage, &["client", "delete", "spa"], "").await;
    assert!(delete.status.success(), "{}", shown(&delete));
    let refused = run_cli(&storage, &["client", "delete", "reports"], "").await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        refused.stderr.contains("declared in the clients file"),
        "{}",
        refused.stderr
    );
}

async fn an_invalid_clients_file_stops_the_start_with_the_line_and_changes_nothing(
    backend: Backend,
) {
    let Some(storage) = Storage::new(backend) else {
        return;
    };
    let path = written(&storage, "");
    let path = path.as_str();
    let valid = "[[client]]\nid = \"first\"\nkind = \"public\"\nredirect_uris = [\"https://first.example/cb\"]\n";
    let confidential =
        "[[client]]\nid = \"second\"\nkind = \"confidential\"\ngrants = [\"client_credentials\"]\n";
    let clear = "clear-text-secret-in-the-file";
    let cases = [
        (
            format!("{valid}secret = \"{clear}\"\n"),
            5,
            "unknown field `secret`",
        ),
        (
            format!("{valid}{valid}"),
            6,
            "client first is declared twice (first at line 2)",
        ),
        (
            valid.replace(
                "https://first.example/cb",
                "https://first.example/cb#fragment",
            ),
            4,
            "https://first.example/cb#fragment",
        ),
        (
            valid.replace("\"first\"", "\"../first\""),
            2,
            "client id \"../first\"",
        ),
        (
            format!("{valid}{confidential}secret_env = \"GATEHOUSE_TEST_UNSET_SECRET\"\n"),
            9,
            "environment variable GATEHOUSE_TEST_UNSET_SECRET is not set",
        ),
    ];
    for (text, line, reason) in &cases {
        std::fs::write(path, text).unwrap();
        let serve = run_cli_env(
            &storage,
            &["serve"],
            "",
            &[
                ("GATEHOUSE_CLIENTS_FILE", path),
                ("GATEHOUSE_BIND", "127.0.0.1:0"),
            ],
        )
        .await;
        let apply = run_cli(&storage, &["clients", "apply", path], "").await;
        for out in [serve, apply] {
            assert_eq!(out.status.code(), Some(1), "{text}: {}", shown(&out));
            let expected = format!("error: {path}:{line}: ");
            assert!(
                out.stderr.starts_with(&expected),
                "{expected} in {}",
                out.stderr
            );
            assert!(out.stderr.contains(reason), "{reason} in {}", out.stderr);
            assert!(!shown(&out).contains(clear), "{}", shown(&out));
        }
        let check = run_cli_env(
            &storage,
            &["check"],
            "",
            &[("GATEHOUSE_CLIENTS_FILE", path)],
        )
        .await;
        assert_eq!(check.status.code(), Some(1), "{}", shown(&check));
        let expected = format!("PROBLEM  clients file: {path}:{line}: ");
        assert!(
            check.stdout.contains(&expected),
            "{expected} in {}",
            check.stdout
        );
    }
    let clients = listed(&storage).await;
    assert!(
        clients.iter().all(|(id, _)| id == "simplejwt"),
        "nothing was applied: {clients:?}"
    );
}

async fn instances_starting_together_apply_the_file_once(backend: Backend) {
    let Some(storage) = Storage::migrated(backend) else {
        return;
    };
    let path = written(&storage, FIRST);
    let path = path.as_str();
    let env = [
        ("GATEHOUSE_CLIENTS_FILE", path),
        ("BILLING_SECRET", FIRST_SECRET),
    ];
    let mut a = ServerProcess::spawn_with_env(&storage, ISSUER, "a", &env);
    let mut b = ServerProcess::spawn_with_env(&storage, ISSUER, "b", &env);
    let http = reqwest::Client::new();
    assert!(a.ready(&http, 90).await, "a:\n{}", a.log_text());
    assert!(b.ready(&http, 90).await, "b:\n{}", b.log_text());
    for server in [&a, &b] {
        assert_eq!(
            client_credentials(server, "billing", FIRST_SECRET).await,
            200
        );
    }
    let audit = run_cli(
        &storage,
        &["audit", "--kind", "client.created", "--json"],
        "",
    )
    .await;
    assert!(audit.status.success(), "{}", audit.stderr);
    let mut created: Vec<String> = audit
        .stdout
        .lines()
        .map(|l| {
            let record: serde_json::Value = serde_json::from_str(l).unwrap();
            record["subject"].as_str().unwrap().to_string()
        })
        .collect();
    created.sort();
    assert_eq!(created, ["billing", "spa"], "each created once");
}
