//! The database's part of "this access token is live": not revoked (by itself or with its
//! refresh family), its user (if it has one) present and enabled, its client present and
//! enabled. Read for many tokens at once (see `db::batched`), so a check costs a share of one
//! batch, not queries of its own.

use std::collections::HashSet;

use diesel::prelude::*;

use crate::db::repo::InJsonList;
use crate::db::schema::clients::dsl as c;
use crate::db::schema::users::dsl as u;
use crate::db::{DbConn, DbError};

/// Who a token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holders {
    /// `users.id` (the token's `sub`); `None` for a client_credentials token.
    pub user: Option<String>,
    pub client: String,
}

/// An access token, by the SHA-256 digest of its `jti`, and who it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub jti_hash: String,
    pub holders: Holders,
}

/// What the database says of one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Live,
    /// Revoked by itself (RFC 7009) or with its refresh family.
    Revoked,
    /// Its user was deleted or disabled.
    UserGone,
    /// Its client was deleted or disabled.
    ClientGone,
}

/// For each access token, its [`Liveness`], in their order. Four statements whatever the
/// number of tokens (the revocation list, the families, users and clients by primary key),
/// each prepared once per connection (see [`InJsonList`]).
pub fn liveness_among(conn: &mut DbConn, tokens: &[AccessToken]) -> Result<Vec<Liveness>, DbError> {
    let jti_hashes: Vec<String> = tokens.iter().map(|t| t.jti_hash.clone()).collect();
    let revoked = super::refresh::access_revoked_among(conn, &jti_hashes)?;
    let holders: Vec<&Holders> = tokens.iter().map(|t| &t.holders).collect();
    let holders = holders_among(conn, &holders)?;
    Ok(revoked
        .into_iter()
        .zip(holders)
        .map(|(revoked, holders)| if revoked { Liveness::Revoked } else { holders })
        .collect())
}

/// For each token's holders, in their order: [`Liveness::UserGone`] unless its user (if
/// any) exists and is enabled, else [`Liveness::ClientGone`] unless its client does, else
/// [`Liveness::Live`]. Two statements, by primary key.
pub fn holders_among(conn: &mut DbConn, holders: &[&Holders]) -> Result<Vec<Liveness>, DbError> {
    // A batch is often many tokens of a few users and clients: each is asked for once.
    let distinct = |mut ids: Vec<String>| {
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let users = distinct(holders.iter().filter_map(|h| h.user.clone()).collect());
    let clients = distinct(holders.iter().map(|h| h.client.clone()).collect());
    let enabled_users: HashSet<String> = if users.is_empty() {
        HashSet::new()
    } else {
        u::users
            .filter(InJsonList::new(conn, "users.id", &users))
            .filter(u::disabled.eq(false))
            .select(u::id)
            .load::<String>(conn)
            .map_err(DbError::from_diesel)?
            .into_iter()
            .collect()
    };
    let enabled_clients: HashSet<String> = c::clients
        .filter(InJsonList::new(conn, "clients.id", &clients))
        .filter(c::disabled.eq(false))
        .select(c::id)
        .load::<String>(conn)
        .map_err(DbError::from_diesel)?
        .into_iter()
        .collect();
    Ok(holders
        .iter()
        .map(|h| {
            if h.user.as_ref().is_some_and(|u| !enabled_users.contains(u)) {
                Liveness::UserGone
            } else if !enabled_clients.contains(&h.client) {
                Liveness::ClientGone
            } else {
                Liveness::Live
            }
        })
        .collect())
}
