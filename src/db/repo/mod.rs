//! Queries, one file per area. Each function takes a connection and runs on a blocking thread.

pub mod audit;
pub mod clients;
pub mod keys;
pub mod meta;
pub mod refresh;
pub mod sessions;
pub mod throttle;
pub mod users;

use diesel::RunQueryDsl;

use crate::db::{DbConn, DbError};

/// Housekeeping: deletes at most `batch` rows of `table` matching `condition`, picked by
/// their primary key `key`, so that a large backlog goes in short write transactions.
///
/// Written as SQL because diesel refuses a subquery on the table it deletes from; both
/// backends take `IN (SELECT … LIMIT n)`. Only constant names and integers that the caller
/// computed reach the text, never a value from a request.
fn delete_batch(
    conn: &mut DbConn,
    table: &str,
    key: &str,
    condition: &str,
    batch: i64,
) -> Result<usize, DbError> {
    let sql = format!(
        "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {condition} LIMIT {batch})"
    );
    diesel::sql_query(sql)
        .execute(conn)
        .map_err(DbError::from_diesel)
}
