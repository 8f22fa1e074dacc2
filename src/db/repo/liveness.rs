//! The database's part of "this access token is live": not revoked (by itself or with its
//! refresh family), its user (if it has one) present and enabled, its client present and
//! enabled. Read for many tokens at once (see `db::batched`), so a check costs a share of one
//! batch, not queries of its own; the users and clients known to be enabled are kept in
//! memory between batches, for as long as the liveness generation stays where it was
//! ([`EnabledHolders`]).

use std::collections::HashSet;

use diesel::prelude::*;

use crate::db::repo::InJsonList;
use crate::db::schema::clients::dsl as c;
use crate::db::schema::liveness_generation::dsl as g;
use crate::db::schema::revoked_access_tokens::dsl as r;
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

/// The users and clients this process has read as present and enabled, valid for one
/// liveness generation. The generation (`liveness_generation`) moves, by triggers, in the
/// same transaction as every disable, enable or delete of a user or client, whoever makes
/// it; each batch reads it with the revocation state and drops the view when it has moved.
/// So a check whose batch starts after such a change has committed sees it, from this
/// instance, another one or the CLI alike, and a batch of tokens of known holders needs no
/// read of `users` or `clients`. Only enabled holders are kept: the tokens of disabled or
/// deleted ones, which are refused, are read again each time.
#[derive(Debug, Default)]
pub struct EnabledHolders {
    generation: Option<i64>,
    users: HashSet<String>,
    clients: HashSet<String>,
}

/// Each set of [`EnabledHolders`] stays under this many ids (about a megabyte): when a read
/// would take it over, it starts again empty.
const MAX_REMEMBERED: usize = 10_000;

impl EnabledHolders {
    /// Drops what was read at another generation (or at none: the row is missing).
    fn at(&mut self, generation: Option<i64>) {
        if generation.is_none() || self.generation != generation {
            self.users.clear();
            self.clients.clear();
            self.generation = generation;
        }
    }

    fn remember(&mut self, users: &HashSet<String>, clients: &HashSet<String>) {
        if self.generation.is_none() {
            return;
        }
        for (known, new) in [(&mut self.users, users), (&mut self.clients, clients)] {
            if known.len() + new.len() > MAX_REMEMBERED {
                known.clear();
            }
            known.extend(new.iter().cloned());
        }
    }
}

/// For each access token, its [`Liveness`], in their order. Two statements whatever the
/// number of tokens (the generation with the tokens revoked by themselves, the tokens
/// revoked with their families), and two more, by primary key, only for users and clients
/// not in `known` at this generation; each prepared once per connection (see
/// [`InJsonList`]).
pub fn liveness_among(
    conn: &mut DbConn,
    tokens: &[AccessToken],
    known: &mut EnabledHolders,
) -> Result<Vec<Liveness>, DbError> {
    let jti_hashes: Vec<String> = tokens.iter().map(|t| t.jti_hash.clone()).collect();
    // One row per revoked token, or one with no token: the generation comes with the
    // revocation read instead of in a statement of its own.
    let by_itself = InJsonList::new(conn, "revoked_access_tokens.jti_hash", &jti_hashes);
    let rows: Vec<(i64, Option<String>)> = g::liveness_generation
        .left_join(r::revoked_access_tokens.on(by_itself))
        .select((g::generation, r::jti_hash.nullable()))
        .load(conn)
        .map_err(DbError::from_diesel)?;
    known.at(rows.first().map(|(generation, _)| *generation));
    let mut revoked: HashSet<String> = rows.into_iter().filter_map(|(_, h)| h).collect();
    revoked.extend(super::refresh::access_revoked_with_family_among(
        conn,
        &jti_hashes,
    )?);

    let unknown_users = distinct(
        tokens
            .iter()
            .filter_map(|t| t.holders.user.as_ref())
            .filter(|u| !known.users.contains(*u)),
    );
    let unknown_clients = distinct(
        tokens
            .iter()
            .map(|t| &t.holders.client)
            .filter(|c| !known.clients.contains(*c)),
    );
    let (users, clients) = enabled_among(conn, &unknown_users, &unknown_clients)?;
    let states = tokens
        .iter()
        .map(|t| {
            if revoked.contains(&t.jti_hash) {
                Liveness::Revoked
            } else {
                holder_state(
                    &t.holders,
                    |u| known.users.contains(u) || users.contains(u),
                    |c| known.clients.contains(c) || clients.contains(c),
                )
            }
        })
        .collect();
    known.remember(&users, &clients);
    Ok(states)
}

/// For each token's holders, in their order, read from the tables (no view): what
/// [`liveness_among`] answers for a token that is not revoked. Two statements, by primary
/// key.
pub fn holders_among(conn: &mut DbConn, holders: &[&Holders]) -> Result<Vec<Liveness>, DbError> {
    let users = distinct(holders.iter().filter_map(|h| h.user.as_ref()));
    let clients = distinct(holders.iter().map(|h| &h.client));
    let (users, clients) = enabled_among(conn, &users, &clients)?;
    Ok(holders
        .iter()
        .map(|h| holder_state(h, |u| users.contains(u), |c| clients.contains(c)))
        .collect())
}

/// [`Liveness::UserGone`] unless the user (if any) is enabled, else
/// [`Liveness::ClientGone`] unless the client is, else [`Liveness::Live`].
fn holder_state(
    holders: &Holders,
    user_enabled: impl Fn(&str) -> bool,
    client_enabled: impl Fn(&str) -> bool,
) -> Liveness {
    if holders.user.as_deref().is_some_and(|u| !user_enabled(u)) {
        Liveness::UserGone
    } else if !client_enabled(&holders.client) {
        Liveness::ClientGone
    } else {
        Liveness::Live
    }
}

/// A batch is often many tokens of a few users and clients: each is asked for once.
fn distinct<'a>(ids: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.cloned().collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Of these users and clients, the ones present and enabled; a statement for each kind
/// that has any.
fn enabled_among(
    conn: &mut DbConn,
    users: &[String],
    clients: &[String],
) -> Result<(HashSet<String>, HashSet<String>), DbError> {
    let enabled_users = if users.is_empty() {
        HashSet::new()
    } else {
        u::users
            .filter(InJsonList::new(conn, "users.id", users))
            .filter(u::disabled.eq(false))
            .select(u::id)
            .load::<String>(conn)
            .map_err(DbError::from_diesel)?
            .into_iter()
            .collect()
    };
    let enabled_clients = if clients.is_empty() {
        HashSet::new()
    } else {
        c::clients
            .filter(InJsonList::new(conn, "clients.id", clients))
            .filter(c::disabled.eq(false))
            .select(c::id)
            .load::<String>(conn)
            .map_err(DbError::from_diesel)?
            .into_iter()
            .collect()
    };
    Ok((enabled_users, enabled_clients))
}
