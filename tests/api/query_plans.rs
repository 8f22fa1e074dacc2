//! Query plans that a load run once caught going wrong, checked on the real database: a
//! regression here shows in a test, not only in a benchmark.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use gatehouse::db::repo::liveness::{liveness_among, AccessToken, Holders, Liveness};
use gatehouse::db::DbError;

use crate::helpers::{spawn_app, Backend};

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
    let (answers, scans) = app
        .state
        .db
        .write(move |conn| {
            conn.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")
                .map_err(DbError::from_diesel)?;
            let answers = liveness_among(conn, &tokens)?;
            // This transaction's own counts, before they are flushed to the shared ones.
            let mut scans = Vec::new();
            for table in ["refresh_tokens", "users", "clients"] {
                let (seq, index) = diesel::select(diesel::dsl::sql::<(BigInt, BigInt)>(&format!(
                    "(SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = '{table}'), \
                     (SELECT idx_scan FROM pg_stat_xact_user_tables WHERE relname = '{table}')"
                )))
                .get_result::<(i64, i64)>(conn)
                .map_err(DbError::from_diesel)?;
                scans.push((table, seq, index));
            }
            Ok::<_, DbError>((answers, scans))
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
}
