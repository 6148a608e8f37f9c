//! Failed login and 2FA attempts, counted per account and per client address in the
//! store, so that every gateway process on one database sees the same counts.

use std::net::IpAddr;

use gateway_store::{DbConn, StoreError, throttle};

use crate::config::AuthConfig;

/// The two counters an attempt touches.
#[derive(Clone)]
pub struct Keys {
    pub account: String,
    pub address: String,
}

impl Keys {
    /// `account` is the auth id, or the email when no account has it.
    pub fn new(account: &str, address: Option<IpAddr>) -> Self {
        let address = address.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        Keys { account: format!("account:{account}"), address: format!("address:{address}") }
    }
}

/// Seconds until another attempt is allowed, when either counter is at the limit.
pub fn retry_after(conn: &mut DbConn, keys: &Keys, config: &AuthConfig, now: i64) -> Result<Option<u64>, StoreError> {
    let window = config.throttle_window.as_secs() as i64;
    let mut wait = None;
    for key in [&keys.account, &keys.address] {
        let (count, oldest) = throttle::recent(conn, key, now - window)?;
        if count >= config.throttle_limit {
            let until = oldest.unwrap_or(now) + window;
            wait = wait.max(Some((until - now).max(1) as u64));
        }
    }
    Ok(wait)
}

/// How long an unsettled attempt holds its place (a crashed process's places expire).
const PENDING_SECS: i64 = 60;

impl Keys {
    fn pending(&self) -> String {
        format!("pending:{}", self.account)
    }
}

/// An attempt's place, taken by [`begin_attempt`].
pub struct Place {
    pub keys: Keys,
    row: i64,
}

/// The decision on a new attempt.
pub enum Start {
    Started(Place),
    /// Attempts still being checked fill the limit: wait for them to settle.
    Busy,
    Throttled(u64),
}

/// Takes a place for an attempt on its account *before* its password or pin is checked:
/// failures and unsettled attempts together never exceed the limit, so concurrent guesses
/// cannot all pass a check that none of them has been counted in yet, while concurrent
/// right passwords only wait for each other. Settle with [`record_failure`] or [`forgive`].
pub fn begin_attempt(conn: &mut DbConn, keys: Keys, config: &AuthConfig, now: i64) -> Result<Start, StoreError> {
    let since = now - config.throttle_window.as_secs() as i64;
    let (address_failures, _) = throttle::recent(conn, &keys.address, since)?;
    let reservation = if address_failures >= config.throttle_limit {
        throttle::Reservation::Full
    } else {
        let pending = keys.pending();
        throttle::reserve(conn, &keys.account, &pending, since, now - PENDING_SECS, now, config.throttle_limit)?
    };
    Ok(match reservation {
        throttle::Reservation::Reserved(row) => Start::Started(Place { keys, row }),
        throttle::Reservation::Busy => Start::Busy,
        throttle::Reservation::Full => Start::Throttled(retry_after(conn, &keys, config, now)?.unwrap_or(1)),
    })
}

/// The attempt is over without a failure: its place is given back.
pub fn forgive(conn: &mut DbConn, place: &Place) -> Result<(), StoreError> {
    throttle::release(conn, place.row)
}

/// The attempt failed: it counts for its account and its address.
pub fn record_failure(conn: &mut DbConn, place: &Place, now: i64) -> Result<(), StoreError> {
    throttle::pending_failed(conn, place.row, &place.keys.account, now)?;
    throttle::record_failure(conn, &place.keys.address, now)
}

/// A completed login forgives the account (not the address).
pub fn reset_account(conn: &mut DbConn, keys: &Keys) -> Result<(), StoreError> {
    throttle::reset(conn, &keys.account)
}
