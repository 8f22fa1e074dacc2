//! Query plans that a load run once caught going wrong, checked on the real database: a
//! regression here shows in a test, not only in a benchmark.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use gatehouse::db::repo::refresh::access_revoked_among;
use gatehouse::db::DbError;

use crate::helpers::{spawn_app, Backend};

/// The verification batch's revocation read under PostgreSQL's generic plan (what a prepared
/// statement gets after five executions) on a young installation: a few thousand refresh
/// records, a fifth of their families revoked (logouts, password changes, reuse). There the
/// `IN (SELECT json_array_elements_text(…))` form was planned as a hash semi-join over a
/// sequential scan of `refresh_tokens` (the function guessed at 100 rows), so every batch read
/// the whole table; with few revoked families the planner starts from those instead, which is
/// why the test revokes many.
#[tokio::test]
async fn the_batched_revocation_read_probes_refresh_tokens_by_index_under_a_generic_plan() {
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
                 ANALYZE refresh_families; ANALYZE refresh_tokens;",
            )
            .map_err(DbError::from_diesel)
        })
        .await
        .expect("seed refresh records");

    let hashes: Vec<String> = [3, 7, 1500, 6000]
        .iter()
        .map(|i| format!("plan-at-{i}"))
        .collect();
    let (answers, seq_scans, index_scans) = app
        .state
        .db
        .write(move |conn| {
            conn.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")
                .map_err(DbError::from_diesel)?;
            let answers = access_revoked_among(conn, &hashes)?;
            // This transaction's own counts, before they are flushed to the shared ones.
            let count = |column: &str, conn: &mut gatehouse::db::DbConn| {
                diesel::select(diesel::dsl::sql::<BigInt>(&format!(
                    "(SELECT {column} FROM pg_stat_xact_user_tables \
                     WHERE relname = 'refresh_tokens')"
                )))
                .get_result::<i64>(conn)
                .map_err(DbError::from_diesel)
            };
            let seq_scans = count("seq_scan", conn)?;
            let index_scans = count("idx_scan", conn)?;
            Ok::<_, DbError>((answers, seq_scans, index_scans))
        })
        .await
        .expect("the revocation read");

    assert_eq!(
        answers,
        [false, true, true, false],
        "the answers themselves"
    );
    assert_eq!(seq_scans, 0, "a sequential scan of refresh_tokens");
    assert!(index_scans > 0, "refresh_tokens was not read at all");
}
