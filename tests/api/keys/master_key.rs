//! A different master key is refused with a plain message.

use super::*;

both_backends!(a_different_master_key_is_refused_with_a_plain_message,);

async fn a_different_master_key_is_refused_with_a_plain_message(backend: Backend) {
    let Some(app) = spawn_app_first_start(backend).await else {
        return;
    };
    let path = app.storage.master_key_file();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("the master key file was created")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "master key file mode {:o}",
            mode & 0o777
        );
    }
    let right = std::fs::read_to_string(&path).unwrap().trim().to_string();
    let other = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let keys_before = app.stored_keys().await;

    let plain_refusal = |out: &crate::helpers::CliOutput, what: &str| {
        assert!(
            !out.status.success(),
            "{what} succeeded with a wrong master key"
        );
        assert!(
            out.stderr.to_lowercase().contains("master key"),
            "{what}: the message names the master key: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
        assert!(!out.stderr.contains(&other), "{what} echoed the key");
        assert!(!out.stderr.contains(&right), "{what} echoed the key");
    };

    let out = run_cli_env(
        &app.storage,
        &["keys", "list"],
        "",
        &[("GATEHOUSE_MASTER_KEY", &other)],
    )
    .await;
    plain_refusal(&out, "keys list");

    // `serve` refuses to start (and exits rather than serving).
    let serve = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        run_cli_env(
            &app.storage,
            &["serve"],
            "",
            &[
                ("GATEHOUSE_MASTER_KEY", &other),
                ("GATEHOUSE_BIND", "127.0.0.1:0"),
            ],
        ),
    )
    .await
    .expect("serve with a wrong master key exits instead of serving");
    plain_refusal(&serve, "serve");

    // A master key that is not 32 bytes of base64 is refused without being echoed.
    for bad in ["c2hvcnQ=", "not base64 at all!"] {
        let out = run_cli_env(
            &app.storage,
            &["keys", "list"],
            "",
            &[("GATEHOUSE_MASTER_KEY", bad)],
        )
        .await;
        assert!(!out.status.success());
        assert!(
            out.stderr.contains("GATEHOUSE_MASTER_KEY"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains(bad), "{}", out.stderr);
    }

    // A wrong key in a file is refused the same way.
    let wrong_file = app.storage.dir.path().join("other.key");
    std::fs::write(&wrong_file, format!("{other}\n")).unwrap();
    let out = run_cli_env(
        &app.storage,
        &["keys", "rotate"],
        "",
        &[("GATEHOUSE_MASTER_KEY_FILE", wrong_file.to_str().unwrap())],
    )
    .await;
    plain_refusal(&out, "keys rotate");

    // A missing file is not silently replaced by a new key once keys are sealed.
    let missing = app.storage.dir.path().join("gone").join("master.key");
    let out = run_cli_env(
        &app.storage,
        &["keys", "list"],
        "",
        &[("GATEHOUSE_MASTER_KEY_FILE", missing.to_str().unwrap())],
    )
    .await;
    plain_refusal(&out, "keys list without the key file");
    assert!(!missing.exists(), "a new master key file was created");

    // Nothing was changed by the refused attempts; the right key, as a variable, works.
    let out = run_cli_env(
        &app.storage,
        &["keys", "list"],
        "",
        &[("GATEHOUSE_MASTER_KEY", &right)],
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(app.stored_keys().await, keys_before);
    let jwks = app.jwks().await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 3);
}
