//! The `meta` key/value table: master key id and check value, rotation lock row.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::schema::meta::dsl as m;
use crate::db::{lock_clause, DbConn, DbError};

pub fn get(conn: &mut DbConn, name: &str) -> Result<Option<String>, DbError> {
    m::meta
        .filter(m::name.eq(name))
        .select(m::value)
        .first(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

/// Inserts or replaces a value.
pub fn set(conn: &mut DbConn, name: &str, value: &str) -> Result<(), DbError> {
    let updated = diesel::update(m::meta.filter(m::name.eq(name)))
        .set(m::value.eq(value))
        .execute(conn)
        .map_err(DbError::from_diesel)?;
    if updated == 0 {
        diesel::insert_into(m::meta)
            .values((m::name.eq(name), m::value.eq(value)))
            .execute(conn)
            .map_err(DbError::from_diesel)?;
    }
    Ok(())
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
