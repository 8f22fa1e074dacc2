//! Query plans that a load run once caught going wrong, checked on the real database: a
//! regression here shows in a test, not only in a benchmark.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use gatehouse::db::repo::liveness::{
    liveness_among, AccessToken, EnabledHolders, Holders, Liveness,
};
use gatehouse::db::DbError;

use crate::helpers::{spawn_app, Backend};

/// Sequential and index scans of `tables` (quoted names, comma-separated) that this
/// connection has not yet flushed to the shared counts: this transaction's, and also those of
/// the connection's earlier transactions of the last second (PostgreSQL 15 flushes at most once
/// a second, when idle), such as a start-up query on the same pooled connection. Take a
/// difference of two readings in one transaction.
fn scans(conn: &mut gatehouse::db::DbConn, tables: &str) -> Result<(i64, i64), DbError> {
    let mut count = |column: &str| {
        diesel::select(diesel::dsl::sql::<BigInt>(&format!(
            "(SELECT sum({column})::bigint FROM pg_stat_xact_user_tables \
             WHERE relname IN ({tables}))"
        )))
        .get_result::<i64>(conn)
        .map_err(DbError::from_diesel)
    };
    Ok((count("seq_scan")?, count("idx_scan")?))
}

/// The verification batch's liveness read under PostgreSQL's generic plan (what a prepared
/// statement gets after five executions) on a young installation: a few thousand users,
/// clients and refresh records, a fifth of their families revoked (logouts, password changes,
/// reuse). Every table it reads is probed by index. For the revocation part the
/// `IN (SELECT json_array_elements_text(…))` form was planned as a hash semi-join over a
/// sequential scan of `refresh_tokens` (the function guessed at 100 rows), so every batch read
/// the whole table; with few revoked families the planner starts from those instead, which is
/// why the test revokes many.
#[tokio::test]
async fn the_batched_liveness_read_probes_its_tables_by_index_under_a_generic_plan() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    app.state
        .db
        .write(|conn| {
            conn.batch_execute(
                "INSERT INTO refresh_families (id, client_id, user_id, created_at, expires_at)
                 SELECT 'plan-family-' || i, 'simplejwt', NULL, 0, 4000000000
                 FROM generate_series(1, 5000) AS i;
                 INSERT INTO refresh_tokens (jti_hash, family_id, issued_at, expires_at,
                                             access_jti_hash)
                 SELECT 'plan-rt-' || i, 'plan-family-' || i, 0, 4000000000, 'plan-at-' || i
                 FROM generate_series(1, 5000) AS i;
                 UPDATE refresh_families SET revoked_at = 1, revoked_why = 'test'
                 WHERE id LIKE 'plan-family-1%' OR id = 'plan-family-7';
                 INSERT INTO users (id, username, password_hash, disabled, created_at,
                                    updated_at)
                 SELECT 'plan-user-' || i, 'plan-user-' || i, '!', i % 5 = 0, 0, 0
                 FROM generate_series(1, 5000) AS i;
                 INSERT INTO clients (id, is_public, redirect_uris, post_logout_redirect_uris,
                                      grants, scopes, disabled, created_at)
                 SELECT 'plan-client-' || i, FALSE, '[]', '[]', 'client_credentials', 'api',
                        i % 5 = 0, 0
                 FROM generate_series(1, 5000) AS i;
                 ANALYZE refresh_families; ANALYZE refresh_tokens; ANALYZE users;
                 ANALYZE clients;",
            )
            .map_err(DbError::from_diesel)
        })
        .await
        .expect("seed refresh records");

    // (access token, user, client): live; revoked with its family; revoked, though its
    // user is disabled; a disabled user; a client_credentials token of a disabled client;
    // an unknown token of an unknown client.
    let tokens: Vec<AccessToken> = [
        (3, Some(3), 3),
        (7, Some(3), 3),
        (1500, Some(5), 3),
        (6000, Some(10), 3),
        (6001, None, 15),
        (6002, None, 9999),
    ]
    .iter()
    .map(|&(token, user, client)| AccessToken {
        jti_hash: format!("plan-at-{token}"),
        holders: Holders {
            user: user.map(|u: i32| format!("plan-user-{u}")),
            client: format!("plan-client-{client}"),
        },
    })
    .collect();
    let (answers, scans, again) = app
        .state
        .db
        .write(move |conn| {
            conn.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")
                .map_err(DbError::from_diesel)?;
            let tables = [
                "refresh_tokens",
                "revoked_access_tokens",
                "users",
                "clients",
            ];
            let mut before = Vec::new();
            for table in tables {
                before.push(scans(conn, &format!("'{table}'"))?);
            }
            let mut known = EnabledHolders::default();
            let answers = liveness_among(conn, &tokens, &mut known)?;
            let mut read = Vec::new();
            for (table, (seq_before, index_before)) in tables.into_iter().zip(before) {
                let (seq, index) = scans(conn, &format!("'{table}'"))?;
                read.push((table, seq - seq_before, index - index_before));
            }
            // The live token again: its user and client are known to be enabled now.
            let holders_before = scans(conn, "'users', 'clients'")?;
            let again = liveness_among(conn, &tokens[..1], &mut known)?;
            let holders_after = scans(conn, "'users', 'clients'")?;
            assert_eq!(again, [Liveness::Live], "the live token, from the view");
            let holder_reads = (
                holders_after.0 - holders_before.0,
                holders_after.1 - holders_before.1,
            );
            Ok::<_, DbError>((answers, read, holder_reads))
        })
        .await
        .expect("the liveness read");

    use Liveness::*;
    assert_eq!(
        answers,
        [Live, Revoked, Revoked, UserGone, ClientGone, ClientGone],
        "the answers themselves"
    );
    for (table, seq_scans, index_scans) in scans {
        assert_eq!(seq_scans, 0, "a sequential scan of {table}");
        assert!(index_scans > 0, "{table} was not read at all");
    }
    assert_eq!(
        again,
        (0, 0),
        "users or clients read again for a known live token"
    );
}

/// The admin lists at scale (issue 22): the first page, a page after a cursor and a prefix
/// search of usernames, emails and client ids each read `users` or `clients` by index on
/// PostgreSQL, whatever the database's collation (the columns are `COLLATE "C"`), never by
/// a sequential scan of the whole table.
#[tokio::test]
async fn the_admin_lists_read_users_and_clients_by_index() {
    use gatehouse::db::repo::keyset::PageQuery;
    use gatehouse::db::repo::{clients, users};
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    app.state
        .db
        .write(|conn| {
            conn.batch_execute(
                "INSERT INTO users (id, username, email, email_verified, password_hash, is_admin,
                                    disabled, legacy_id, created_at, updated_at)
                 SELECT 'plan-' || i, 'plan-user-' || i, 'mail' || i || '@example.com', false,
                        'x', false, false, NULL, 0, 0
                 FROM generate_series(1, 20000) AS i;
                 INSERT INTO clients (id, secret_hash, is_public, redirect_uris,
                                      post_logout_redirect_uris, grants, scopes, created_at)
                 SELECT 'plan-client-' || i, NULL, true, '[]', '[]', '', '', 0
                 FROM generate_series(1, 20000) AS i;
                 ANALYZE users; ANALYZE clients;",
            )
            .map_err(DbError::from_diesel)
        })
        .await
        .expect("seed users and clients");

    let query = |after: Option<&str>, prefix: Option<&str>| PageQuery {
        after: after.map(str::to_string),
        prefix: prefix.map(str::to_string),
        limit: 50,
    };
    let pages = [
        query(None, None),
        query(Some("plan-user-5"), None),
        query(None, Some("plan-user-1999")),
        query(Some("plan-user-19995"), Some("plan-user-1999")),
        query(None, Some("mail77@")),
    ];
    let (found, seq_scans, index_scans) = app
        .state
        .db
        .write(move |conn| {
            let (seq_before, index_before) = scans(conn, "'users', 'clients'")?;
            let mut found = Vec::new();
            for page in &pages {
                let rows = users::page(conn, page)?;
                found.push(rows.into_iter().map(|u| u.username).collect::<Vec<_>>());
                let rows = clients::page(conn, page)?;
                found.push(rows.into_iter().map(|c| c.client_id).collect::<Vec<_>>());
            }
            let (seq_scans, index_scans) = scans(conn, "'users', 'clients'")?;
            Ok::<_, DbError>((found, seq_scans - seq_before, index_scans - index_before))
        })
        .await
        .expect("the list reads");

    // users then clients for each page asked.
    assert_eq!(
        found[0].len(),
        51,
        "a page and the row telling a next one exists"
    );
    assert_eq!(found[1].len(), 51);
    assert_eq!(
        found[2][..2],
        ["plan-user-50", "plan-user-500"],
        "code point order"
    );
    let searched = &found[4];
    assert_eq!(
        searched.len(),
        11,
        "plan-user-1999 and 19990 to 19999: {searched:?}"
    );
    assert_eq!(
        found[6],
        [
            "plan-user-19996",
            "plan-user-19997",
            "plan-user-19998",
            "plan-user-19999"
        ]
    );
    assert_eq!(found[8], ["plan-user-77"], "by email");
    assert_eq!(seq_scans, 0, "a sequential scan of users or clients");
    assert!(
        index_scans >= 10,
        "users and clients read {index_scans} times by index"
    );
}
