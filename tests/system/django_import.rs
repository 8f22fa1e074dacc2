//! Moving from Django: `gatehouse user import FILE` with `manage.py dumpdata auth.user`
//! JSON. Users sign in with their old passwords in each of Django's formats, keep their
//! primary key as `user_id`, and get an argon2id hash at their first login; importing again
//! changes nothing; a malformed record is reported with its position and skipped.
//!
//! The dump of the first tests holds hashes made by Django 5.2's own hashers; the last test
//! makes its dump with a real Django project (the venv of `tests/downstream/install.sh`).

use serde_json::{json, Value};

use crate::both_backends;
use crate::downstream::python;
use crate::helpers::{eventually, peek, run_cli, spawn_app, Backend, CliOutput, TestApp};

both_backends!(
    imported_users_sign_in_with_their_django_passwords,
    importing_the_same_file_twice_changes_nothing,
    a_malformed_record_is_reported_with_its_position_and_skipped,
    users_of_a_real_django_project_sign_in_with_their_old_passwords,
    hashes_beyond_the_ceilings_are_skipped_at_import_and_refused_at_login,
    only_superusers_become_admins_unless_staff_is_asked_for,
);

/// Made by Django 5.2's hashers (lower work factors than its defaults) for [`LONG`].
pub(crate) const LONG: &str =
    "lètmein with a long passphrase that goes on and on past seventy-two bytes for bcrypt!!";
pub(crate) const PBKDF2_SHA256: &str =
    "pbkdf2_sha256$1000$QkfidpfLDedyHPcrrF3RnJ$PkWAk+c+CnEBhKBXiKK5cOPrMoEGAcpQm1rVD9IB6DI=";
const PBKDF2_SHA1: &str = "pbkdf2_sha1$1000$Ylh2E45AkrwkEABr8gdLCI$RM+WLVVG+r56v3P5SNrZhl69Hjs=";
const ARGON2: &str = "argon2$argon2id$v=19$m=256,t=1,p=2$VmlWekRhVFRCN3NibEViaVltc0lvaw$/Ia2VHCTDPjTladnLfRnsEYSbS1x5SPAipCBpMDFgl8";
const BCRYPT_SHA256: &str =
    "bcrypt_sha256$$2b$04$kCwbTD.HKKV01ddYsPg/OufZt.kY0UxIsezb4yoxgOr/DQm2QY3IC";
/// Plain bcrypt for `lètmein`.
const BCRYPT: &str = "bcrypt$$2b$04$Vc2JmIHIxsat5PphsJFHuuF8nF4xbrAFtOu3L2gW7eD8cfUWLKNh.";

/// One `dumpdata auth.user` record.
fn user(pk: i64, username: &str, password: &str, extra: Value) -> Value {
    let mut fields = json!({
        "password": password, "last_login": null, "is_superuser": false,
        "username": username, "first_name": "", "last_name": "", "email": "",
        "is_staff": false, "is_active": true, "date_joined": "2021-03-04T05:06:07.089Z",
        "groups": [], "user_permissions": []
    });
    for (k, v) in extra.as_object().unwrap() {
        fields[k] = v.clone();
    }
    json!({ "model": "auth.user", "pk": pk, "fields": fields })
}

fn dump() -> Value {
    json!([
        user(
            3,
            "ada",
            PBKDF2_SHA256,
            json!({"is_superuser": true, "email": "ada@example.com"})
        ),
        user(5, "brian", PBKDF2_SHA1, json!({})),
        user(8, "chidi", ARGON2, json!({"is_staff": true})),
        user(13, "dora", BCRYPT_SHA256, json!({})),
        user(21, "eli", BCRYPT, json!({})),
        user(34, "fay", PBKDF2_SHA256, json!({"is_active": false})),
        user(
            55,
            "gus",
            "!Vq8tsFnkr3yWhz5sTZ0rXH1r4bdqW3Q8UgT2h9hI",
            json!({})
        ),
    ])
}

async fn import(app: &TestApp, records: &Value) -> CliOutput {
    import_with(app, records, &[]).await
}

async fn import_with(app: &TestApp, records: &Value, options: &[&str]) -> CliOutput {
    let file = app
        .storage
        .dir
        .path()
        .join(format!("dump-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, serde_json::to_vec_pretty(records).unwrap()).unwrap();
    let mut args = vec!["user", "import", file.to_str().unwrap()];
    args.extend(options);
    run_cli(&app.storage, &args, "").await
}

async fn login(app: &TestApp, username: &str, password: &str) -> Option<Value> {
    let resp = app.simplejwt_login(username, password).await;
    match resp.status().as_u16() {
        200 => {
            let body: Value = resp.json().await.unwrap();
            Some(peek(body["access"].as_str().unwrap()).1)
        }
        401 => None,
        other => panic!("{username}: login answered {other}"),
    }
}

async fn stored_hash(app: &TestApp, username: &str) -> String {
    app.state
        .accounts
        .find_user(username)
        .await
        .unwrap()
        .password_hash
}

async fn imported_users_sign_in_with_their_django_passwords(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let out = import(&app, &dump()).await;
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("imported 7 users, 0 already imported and left unchanged, 0 skipped\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("1 imported users have no usable password"),
        "{}",
        out.stdout
    );
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !text.contains("pbkdf2_sha256$"),
            "a hash was printed: {text}"
        );
    }

    for (name, password, pk, admin) in [
        ("ada", LONG, 3, true),
        ("brian", LONG, 5, false),
        ("chidi", LONG, 8, false),
        ("dora", LONG, 13, false),
        ("eli", "lètmein", 21, false),
    ] {
        let before = stored_hash(&app, name).await;
        assert!(!before.starts_with("$argon2id$"), "{name}: {before}");
        assert!(
            login(&app, name, "wrong password").await.is_none(),
            "{name}"
        );
        let claims = login(&app, name, password)
            .await
            .unwrap_or_else(|| panic!("{name} cannot sign in with the Django password"));
        // simplejwt's user_id: the Django primary key, a number as Django wrote it.
        assert_eq!(claims["user_id"], json!(pk), "{name}: {claims}");
        assert_ne!(claims["sub"], json!(pk.to_string()), "sub stays a UUID");
        let user = app.state.accounts.find_user(name).await.unwrap();
        assert_eq!(user.is_admin, admin, "{name}");
        // The first login rewrites the hash as argon2id, and the password still works.
        let rehashed = eventually(30, || async {
            stored_hash(&app, name)
                .await
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        })
        .await;
        assert!(rehashed, "{name}: {}", stored_hash(&app, name).await);
        assert!(
            login(&app, name, password).await.is_some(),
            "{name} after the rehash"
        );
        assert!(
            login(&app, name, "wrong password").await.is_none(),
            "{name}"
        );
    }
    let ada = app.state.accounts.find_user("ada").await.unwrap();
    assert_eq!(ada.email.as_deref(), Some("ada@example.com"));
    assert_eq!(ada.created_at, 1_614_834_367, "date_joined");

    // Inactive in Django: imported disabled. An unusable password: no password login.
    assert!(login(&app, "fay", LONG).await.is_none());
    assert!(app.state.accounts.find_user("fay").await.unwrap().disabled);
    assert!(login(&app, "gus", "gus").await.is_none());
    assert!(
        login(&app, "gus", "!Vq8tsFnkr3yWhz5sTZ0rXH1r4bdqW3Q8UgT2h9hI")
            .await
            .is_none()
    );
    assert!(
        stored_hash(&app, "fay").await.starts_with("pbkdf2_sha256$"),
        "no login, no rehash"
    );
}

async fn importing_the_same_file_twice_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    assert!(import(&app, &dump()).await.status.success());
    assert!(login(&app, "ada", LONG).await.is_some());
    eventually(30, || async {
        stored_hash(&app, "ada").await.starts_with("$argon2id$")
    })
    .await;
    let users = |app: &TestApp| {
        let accounts = app.state.accounts.clone();
        async move {
            accounts
                .list_users(gatehouse::paging::ListRequest {
                    limit: Some(gatehouse::paging::MAX_LIMIT),
                    ..Default::default()
                })
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|u| {
                    (
                        u.username.clone(),
                        u.id.clone(),
                        u.password_hash.clone(),
                        u.disabled,
                        u.is_admin,
                        u.updated_at,
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let before = users(&app).await;
    let out = import(&app, &dump()).await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("imported 0 users, 7 already imported and left unchanged, 0 skipped"),
        "{}",
        out.stdout
    );
    assert_eq!(
        users(&app).await,
        before,
        "a second import changed something"
    );
    // Ada's password stays the one she signed in with (not reverted to the Django hash).
    assert!(login(&app, "ada", LONG).await.is_some());
    // Each user's arrival is on the audit trail once, with the Django primary key.
    let out = app
        .cli(&["audit", "--json", "--kind", "user.imported"], "")
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    let imported: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(imported.len(), 7, "{}", out.stdout);
    assert!(imported
        .iter()
        .any(|r| r["subject"] == "ada" && r["detail"].as_str().unwrap().starts_with("django pk")));
}

async fn a_malformed_record_is_reported_with_its_position_and_skipped(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("zoe", "zoe's own password", false).await;
    let records = json!([
        user(1, "ann", PBKDF2_SHA256, json!({})),
        user(2, "has space", PBKDF2_SHA256, json!({})),
        {"model": "auth.user", "fields": {"username": "nopk", "password": PBKDF2_SHA256}},
        user(4, "md5user", "md5$salt$0123456789abcdef0123456789abcdef", json!({})),
        user(5, "zoe", PBKDF2_SHA256, json!({})),
        "not a record",
        user(1, "ann2", PBKDF2_SHA256, json!({})),
        user(8, "bea", ARGON2, json!({"is_staff": "yes"})),
        user(9, "cal", ARGON2, json!({})),
    ]);
    let out = import(&app, &records).await;
    assert_eq!(out.status.code(), Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("imported 2 users, 0 already imported and left unchanged, 7 skipped"),
        "{}",
        out.stdout
    );
    let expected = [
        "record 2: \"has space\": username may contain only",
        "record 3: no \"pk\"",
        "record 4: password: Django's \"md5\" hasher is not supported",
        "record 5: user zoe exists and was not imported from Django",
        "record 6: no \"fields\" object",
        "record 7: pk 1 was imported as user ann",
        "record 8: \"is_staff\" is not true or false (pk 8)",
    ];
    for line in expected {
        assert!(
            out.stderr.contains(line),
            "missing {line:?} in:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stderr.contains("error: 7 of 9 records were skipped"),
        "{}",
        out.stderr
    );
    assert!(login(&app, "ann", LONG).await.is_some());
    assert!(login(&app, "cal", LONG).await.is_some());
    assert!(
        login(&app, "zoe", "zoe's own password").await.is_some(),
        "zoe untouched"
    );
    assert!(login(&app, "zoe", LONG).await.is_none());

    // A file that is not a dump at all: one plain error, nothing imported.
    let file = app.storage.dir.path().join("broken.json");
    std::fs::write(&file, "[{\"model\": ").unwrap();
    let out = run_cli(
        &app.storage,
        &["user", "import", file.to_str().unwrap()],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("is not JSON") && out.stderr.contains("dumpdata"),
        "{}",
        out.stderr
    );
}

/// A throwaway Django project made with the venv's Django, its users created by Django's
/// own hashers at their default work factors, and `manage.py dumpdata auth.user`; made
/// once per test process.
async fn real_django_dump() -> Option<&'static Value> {
    static DUMP: tokio::sync::OnceCell<Option<Value>> = tokio::sync::OnceCell::const_new();
    DUMP.get_or_init(|| async {
        let python = python()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/downstream/django_dump.py");
        let out = tokio::process::Command::new(&python)
            .arg(&script)
            .arg(dir.path())
            .output()
            .await
            .expect("python runs");
        assert!(
            out.status.success(),
            "django_dump.py failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let dump = std::fs::read_to_string(dir.path().join("dump.json")).expect("dump.json");
        Some(serde_json::from_str(&dump).expect("dumpdata writes JSON"))
    })
    .await
    .as_ref()
}

async fn users_of_a_real_django_project_sign_in_with_their_old_passwords(backend: Backend) {
    let Some(dump) = real_django_dump().await else {
        return;
    };
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let out = import(&app, dump).await;
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    // The users django_dump.py made: (username, password, Django hasher, admin, active).
    let expected = [
        (
            "ada",
            "ada's Django password",
            "pbkdf2_sha256$1000000$",
            true,
            true,
        ),
        (
            "brian",
            "brian's Django password",
            "argon2$argon2id$",
            false,
            true,
        ),
        (
            "chidi",
            "chidi's Django password",
            "bcrypt_sha256$$2b$12$",
            false,
            true,
        ),
        (
            "dora",
            "dora's Django password",
            "pbkdf2_sha1$1000000$",
            false,
            true,
        ),
        (
            "eli",
            "eli's Django password",
            "pbkdf2_sha256$",
            false,
            false,
        ),
    ];
    let records = dump.as_array().unwrap();
    for (name, password, prefix, admin, active) in expected {
        let record = records
            .iter()
            .find(|r| r["fields"]["username"] == name)
            .unwrap_or_else(|| panic!("{name} not in the dump"));
        let pk = record["pk"].as_i64().expect("an integer pk");
        assert!(
            record["fields"]["password"]
                .as_str()
                .unwrap()
                .starts_with(prefix),
            "{name}: {}",
            record["fields"]["password"]
        );
        let user = app.state.accounts.find_user(name).await.unwrap();
        assert_eq!((user.is_admin, user.disabled), (admin, !active), "{name}");
        assert_eq!(user.user_id(), pk.to_string(), "{name}");
        if !active {
            assert!(
                login(&app, name, password).await.is_none(),
                "{name} is inactive"
            );
            continue;
        }
        let claims = login(&app, name, password)
            .await
            .unwrap_or_else(|| panic!("{name} cannot sign in with the Django password"));
        assert_eq!(claims["user_id"], json!(pk), "{name}");
        assert!(
            login(&app, name, "not the password").await.is_none(),
            "{name}"
        );
        let rehashed = eventually(60, || async {
            stored_hash(&app, name)
                .await
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        })
        .await;
        assert!(rehashed, "{name} was not rehashed");
        assert!(
            login(&app, name, password).await.is_some(),
            "{name} after the rehash"
        );
    }
    // The deleted user's pk is a gap, and an unusable password stays unusable.
    assert!(login(&app, "gus", "gus").await.is_none());
}

/// A PBKDF2-SHA256 hash of `password` in Django's format.
fn pbkdf2_sha256(password: &str, iterations: u32, salt: &str) -> String {
    use base64::Engine;
    let mut out = [0u8; 32];
    aws_lc_rs::pbkdf2::derive(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(iterations).unwrap(),
        salt.as_bytes(),
        password.as_bytes(),
        &mut out,
    );
    let hash = base64::engine::general_purpose::STANDARD.encode(out);
    format!("pbkdf2_sha256${iterations}${salt}${hash}")
}

/// The review's hashes (27 s and 1 GiB per check) and those just past each ceiling are
/// reported by position and skipped; Django's own defaults are imported. A hash past a
/// ceiling already stored (by an older Gatehouse) is refused at login, right password or
/// not, instead of being computed.
async fn hashes_beyond_the_ceilings_are_skipped_at_import_and_refused_at_login(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let long_pbkdf2 = format!(
        "pbkdf2_sha256$20000000$salt${}",
        "A".repeat(3200 / 3 * 4 + 4)
    );
    let records = json!([
        user(1, "ann", PBKDF2_SHA256, json!({})),
        user(2, "bo", &long_pbkdf2, json!({})),
        user(
            3,
            "cy",
            "argon2$argon2id$v=19$m=1048576,t=4,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            json!({})
        ),
        user(4, "di", &pbkdf2_sha256("x", 2_000_001, "salt"), json!({})),
        user(
            5,
            "ed",
            "bcrypt_sha256$$2b$14$kCwbTD.HKKV01ddYsPg/OufZt.kY0UxIsezb4yoxgOr/DQm2QY3IC",
            json!({})
        ),
        user(
            6,
            "flo",
            "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            json!({})
        ),
    ]);
    let out = import(&app, &records).await;
    assert_eq!(out.status.code(), Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("imported 2 users, 0 already imported and left unchanged, 4 skipped"),
        "{}",
        out.stdout
    );
    for line in [
        "record 2: password: 20000000 PBKDF2 iterations is more than the 2000000 allowed (pk 2)",
        "record 3: password: argon2 with m=1048576 KiB, t=4 is more work than allowed",
        "record 4: password: 2000001 PBKDF2 iterations is more than the 2000000 allowed (pk 4)",
        "record 5: password: bcrypt cost 14 is outside 4..=13 (pk 5)",
    ] {
        assert!(
            out.stderr.contains(line),
            "missing {line:?} in:\n{}",
            out.stderr
        );
    }
    assert!(login(&app, "ann", LONG).await.is_some());

    // A stored hash past the ceiling, with ann's right password: refused, not computed.
    let ann = app.state.accounts.find_user("ann").await.unwrap();
    let over = pbkdf2_sha256(LONG, 2_000_001, "QkfidpfLDedyHPcrrF3RnJ");
    let now = app.state.clock.now();
    app.state
        .db
        .write(move |conn| gatehouse::db::repo::users::set_password_hash(conn, &ann.id, &over, now))
        .await
        .unwrap();
    assert!(
        login(&app, "ann", LONG).await.is_none(),
        "a hash past the ceiling was computed"
    );
    assert!(stored_hash(&app, "ann")
        .await
        .starts_with("pbkdf2_sha256$2000001$"));
}

/// Django's staff are not Gatehouse admins unless the import is told so.
async fn only_superusers_become_admins_unless_staff_is_asked_for(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let records = |offset: i64| {
        json!([
            user(
                offset + 1,
                &format!("super{offset}"),
                "!",
                json!({"is_superuser": true})
            ),
            user(
                offset + 2,
                &format!("staff{offset}"),
                "!",
                json!({"is_staff": true})
            ),
            user(
                offset + 3,
                &format!("both{offset}"),
                "!",
                json!({"is_staff": true, "is_superuser": true})
            ),
            user(offset + 4, &format!("plain{offset}"), "!", json!({})),
        ])
    };
    let admins = |offset: i64| {
        let accounts = app.state.accounts.clone();
        async move {
            let mut admins = Vec::new();
            for name in ["super", "staff", "both", "plain"] {
                let user = accounts
                    .find_user(&format!("{name}{offset}"))
                    .await
                    .unwrap();
                admins.push(user.is_admin);
            }
            admins
        }
    };
    let out = import(&app, &records(0)).await;
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(admins(0).await, [true, false, true, false]);
    let out = import_with(&app, &records(10), &["--admins-from", "staff"]).await;
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(admins(10).await, [true, true, true, false]);
    let out = import_with(&app, &records(20), &["--admins-from", "everyone"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("superuser") && out.stderr.contains("staff"),
        "{}",
        out.stderr
    );
}
