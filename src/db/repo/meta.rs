//! The `meta` key/value table: master key id and check value, rotation lock row.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::db::schema::meta::dsl as m;
use crate::db::{lock_clause, DbConn, DbError};

pub fn get(conn: &mut DbConn, name: &str) -> Result<Option<String>, DbError> {
    m::meta
        .filter(m::name.eq(name))
        .select(m::value)
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// Inserts or replaces a value, in one statement (two writers never meet a unique violation).
pub fn set(conn: &mut DbConn, name: &str, value: &str) -> Result<(), DbError> {
    let sql = match conn {
        DbConn::Pg(_) => {
            "INSERT INTO meta (name, value) VALUES ($1, $2) \
                          ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        }
        DbConn::Sqlite(_) => {
            "INSERT INTO meta (name, value) VALUES (?1, ?2) \
                              ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        }
    };
    diesel::sql_query(sql)
        .bind::<Text, _>(name)
        .bind::<Text, _>(value)
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// Serialises key rotations: a row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds
/// the database's write lock.
pub fn lock_key_rotation(conn: &mut DbConn) -> Result<(), DbError> {
    let sql = format!(
        "SELECT value FROM meta WHERE name = 'key_rotation_lock'{}",
        lock_clause(conn)
    );
    conn.batch_execute(&sql).map_err(DbError::from_diesel)
}
