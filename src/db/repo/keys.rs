//! Rows of `signing_keys`: a key's public facts and state, and its sealed private half.

use diesel::prelude::*;

use crate::db::alg::Alg;
use crate::db::schema::signing_keys::dsl as k;
use crate::db::{DbConn, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Standby,
    Next,
    Current,
    Retired,
    Revoked,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Standby => "standby",
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
            KeyState::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<KeyState> {
        match s {
            "standby" => Some(KeyState::Standby),
            "next" => Some(KeyState::Next),
            "current" => Some(KeyState::Current),
            "retired" => Some(KeyState::Retired),
            "revoked" => Some(KeyState::Revoked),
            _ => None,
        }
    }
}

/// A signing key's public facts (never its private half).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyRecord {
    pub kid: String,
    pub alg: Alg,
    #[serde(serialize_with = "serialize_state")]
    pub state: KeyState,
    pub bits: i32,
    /// RSA modulus and exponent (empty for curve keys).
    #[serde(skip)]
    pub n: String,
    #[serde(skip)]
    pub e: String,
    /// Curve keys: the JWK `x` (and `y` for P-256), base64url.
    #[serde(skip)]
    pub x: Option<String>,
    #[serde(skip)]
    pub y: Option<String>,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub remove_after: Option<i64>,
    pub revoked_at: Option<i64>,
}

fn serialize_state<S: serde::Serializer>(state: &KeyState, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(state.as_str())
}

type Row = (
    String,
    String,
    i32,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
);

fn to_record(r: Row) -> Option<KeyRecord> {
    Some(KeyRecord {
        kid: r.0,
        alg: r.10.parse().ok()?,
        state: KeyState::parse(&r.1)?,
        bits: r.2,
        n: r.3,
        e: r.4,
        created_at: r.5,
        activated_at: r.6,
        retired_at: r.7,
        remove_after: r.8,
        revoked_at: r.9,
        x: r.11,
        y: r.12,
    })
}

/// Every key's public facts, oldest first.
pub fn list(conn: &mut DbConn) -> Result<Vec<KeyRecord>, DbError> {
    let rows: Vec<Row> = k::signing_keys
        .select((
            k::kid,
            k::state,
            k::bits,
            k::public_n,
            k::public_e,
            k::created_at,
            k::activated_at,
            k::retired_at,
            k::remove_after,
            k::revoked_at,
            k::alg,
            k::public_x,
            k::public_y,
        ))
        .order((k::created_at.asc(), k::kid.asc()))
        .load(conn)
        .map_err(DbError::from_diesel)?;
    Ok(rows.into_iter().filter_map(to_record).collect())
}

/// The sealed private key and the id of the master key that sealed it.
pub fn sealed_private(conn: &mut DbConn, kid: &str) -> Result<Option<(Vec<u8>, String)>, DbError> {
    k::signing_keys
        .filter(k::kid.eq(kid))
        .select((k::private_sealed, k::master_key_id))
        .get_result(conn)
        .optional()
        .map_err(DbError::from_diesel)
}

pub fn all_sealed(conn: &mut DbConn) -> Result<Vec<(String, Vec<u8>, String)>, DbError> {
    k::signing_keys
        .select((k::kid, k::private_sealed, k::master_key_id))
        .load(conn)
        .map_err(DbError::from_diesel)
}

pub fn count(conn: &mut DbConn) -> Result<i64, DbError> {
    k::signing_keys
        .count()
        .get_result(conn)
        .map_err(DbError::from_diesel)
}

pub struct NewKey<'a> {
    pub kid: &'a str,
    pub alg: Alg,
    pub x: Option<&'a str>,
    pub y: Option<&'a str>,
    pub state: KeyState,
    pub bits: i32,
    pub n: &'a str,
    pub e: &'a str,
    pub sealed: &'a [u8],
    pub master_key_id: &'a str,
    pub now: i64,
}

pub fn insert(conn: &mut DbConn, key: NewKey<'_>) -> Result<(), DbError> {
    let activated = (key.state == KeyState::Current).then_some(key.now);
    diesel::insert_into(k::signing_keys)
        .values((
            k::kid.eq(key.kid),
            k::alg.eq(key.alg.as_str()),
            k::public_x.eq(key.x),
            k::public_y.eq(key.y),
            k::state.eq(key.state.as_str()),
            k::bits.eq(key.bits),
            k::public_n.eq(key.n),
            k::public_e.eq(key.e),
            k::private_sealed.eq(key.sealed),
            k::master_key_id.eq(key.master_key_id),
            k::created_at.eq(key.now),
            k::activated_at.eq(activated),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn retire(conn: &mut DbConn, kid: &str, now: i64, remove_after: i64) -> Result<(), DbError> {
    diesel::update(k::signing_keys.filter(k::kid.eq(kid)))
        .set((
            k::state.eq(KeyState::Retired.as_str()),
            k::retired_at.eq(now),
            k::remove_after.eq(remove_after),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn revoke(conn: &mut DbConn, kid: &str, now: i64) -> Result<(), DbError> {
    diesel::update(k::signing_keys.filter(k::kid.eq(kid)))
        .set((
            k::state.eq(KeyState::Revoked.as_str()),
            k::revoked_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

/// Moves a key up the line to `next` or `standby`.
pub fn set_waiting_state(conn: &mut DbConn, kid: &str, state: KeyState) -> Result<(), DbError> {
    diesel::update(k::signing_keys.filter(k::kid.eq(kid)))
        .set(k::state.eq(state.as_str()))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn activate(conn: &mut DbConn, kid: &str, now: i64) -> Result<(), DbError> {
    diesel::update(k::signing_keys.filter(k::kid.eq(kid)))
        .set((
            k::state.eq(KeyState::Current.as_str()),
            k::activated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn delete(conn: &mut DbConn, kid: &str) -> Result<(), DbError> {
    diesel::delete(k::signing_keys.filter(k::kid.eq(kid)))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}

pub fn reseal(
    conn: &mut DbConn,
    kid: &str,
    sealed: &[u8],
    master_key_id: &str,
) -> Result<(), DbError> {
    diesel::update(k::signing_keys.filter(k::kid.eq(kid)))
        .set((
            k::private_sealed.eq(sealed),
            k::master_key_id.eq(master_key_id),
        ))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from_diesel)
}
