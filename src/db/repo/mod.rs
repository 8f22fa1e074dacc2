//! Queries, one file per area. Each function takes a connection and runs on a blocking thread.
//!
//! A lookup by a primary or unique key reads its row with `get_result`, never `first`:
//! `first` adds `LIMIT ?` with the 1 bound as a parameter, and SQLite (since 3.4x) lets a
//! bound LIMIT steer its plan, so rebinding it expires the cached statement and every
//! execution prepares it again (10 % of a client_credentials request in a profile).
//! clippy.toml refuses `first`.

pub mod audit;
pub mod clients;
pub mod email_verifications;
pub mod factors;
pub mod keys;
pub mod keyset;
pub mod liveness;
pub mod logout;
pub mod meta;
pub mod outbox;
pub mod refresh;
pub mod resets;
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

/// `column IN (values)` with the values bound as one JSON array: `json_each(?)` on SQLite,
/// `json_array_elements_text(?::json)` on PostgreSQL.
///
/// On PostgreSQL the list is made an array first (`= ANY(ARRAY(SELECT …))`): as a semi-join
/// against a set-returning function, which the planner guesses at 100 rows, the generic plan
/// of a prepared statement hashed the whole table once it held a few thousand rows (every
/// verification batch read all of `refresh_tokens`); `= ANY` of an array is an index
/// condition.
///
/// diesel's `eq_any` writes one placeholder per value, and its SQL literals are never
/// cached either, so a batch query built with them is prepared afresh every time (on SQLite,
/// preparing cost more than running). This text is the same for any number of values, so
/// each connection prepares it once: its cache key is the SQL text.
#[derive(Debug, Clone)]
pub struct InJsonList {
    column: &'static str,
    open: &'static str,
    close: &'static str,
    list: String,
}

impl InJsonList {
    /// `column` is a constant name written by the caller, never input.
    pub fn new(conn: &DbConn, column: &'static str, values: &[String]) -> InJsonList {
        let (open, close) = match conn {
            DbConn::Sqlite(_) => (" IN (SELECT value FROM json_each(", "))"),
            DbConn::Pg(_) => (" = ANY(ARRAY(SELECT json_array_elements_text(", "::json)))"),
        };
        InJsonList {
            column,
            open,
            close,
            // Strings always serialise.
            list: serde_json::to_string(values).unwrap_or_else(|_| "[]".into()),
        }
    }
}

mod in_json_list {
    use diesel::backend::Backend;
    use diesel::expression::ValidGrouping;
    use diesel::expression::{is_aggregate, AppearsOnTable, Expression, SelectableExpression};
    use diesel::query_builder::{AstPass, QueryFragment, QueryId};
    use diesel::serialize::ToSql;
    use diesel::sql_types::{Bool, HasSqlType, Text};
    use diesel::QueryResult;

    use super::InJsonList;

    impl Expression for InJsonList {
        type SqlType = Bool;
    }

    impl<QS> AppearsOnTable<QS> for InJsonList {}

    impl<QS> SelectableExpression<QS> for InJsonList {}

    impl ValidGrouping<()> for InJsonList {
        type IsAggregate = is_aggregate::Never;
    }

    /// Not a static id: the statement is cached by its SQL text, which names the column.
    impl QueryId for InJsonList {
        type QueryId = ();
        const HAS_STATIC_QUERY_ID: bool = false;
    }

    impl<DB> QueryFragment<DB> for InJsonList
    where
        DB: Backend + HasSqlType<Text>,
        String: ToSql<Text, DB>,
    {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
            out.push_sql(self.column);
            out.push_sql(self.open);
            out.push_bind_param::<Text, _>(&self.list)?;
            out.push_sql(self.close);
            Ok(())
        }
    }
}
