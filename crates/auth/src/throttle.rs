//! Failed login and 2FA attempts, counted per account and per client address in the
//! store, so that every gateway process on one database sees the same counts.

use std::net::IpAddr;

use gateway_store::{DbConn, StoreError, throttle};

use crate::config::AuthConfig;

/// The two counters an attempt touches.
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

/// Counts an attempt as a failure of its account *before* its password or pin is checked,
/// atomically with the limit check: concurrent guesses at one account cannot all pass a
/// check that none of them has been counted in yet. The address counter is only read here
/// (see [`record_address_failure`]): people behind one address must not throttle each other
/// by logging in at the same time. `Err(seconds)`: throttled, nothing counted.
/// A successful attempt takes its count back with [`forgive`].
pub fn begin_attempt(
    conn: &mut DbConn,
    keys: &Keys,
    config: &AuthConfig,
    now: i64,
) -> Result<Result<(), u64>, StoreError> {
    let since = now - config.throttle_window.as_secs() as i64;
    let (address_failures, _) = throttle::recent(conn, &keys.address, since)?;
    if address_failures < config.throttle_limit
        && throttle::record_within_limit(conn, &[keys.account.as_str()], since, now, config.throttle_limit)?
    {
        return Ok(Ok(()));
    }
    Ok(Err(retry_after(conn, keys, config, now)?.unwrap_or(1)))
}

/// The attempt begun with [`begin_attempt`] succeeded: it was no failure.
pub fn forgive(conn: &mut DbConn, keys: &Keys) -> Result<(), StoreError> {
    throttle::forgive_one(conn, &keys.account)
}

/// The attempt failed: its address counts it too.
pub fn record_address_failure(conn: &mut DbConn, keys: &Keys, now: i64) -> Result<(), StoreError> {
    throttle::record_failure(conn, &keys.address, now)
}

/// A completed login forgives the account (not the address).
pub fn reset_account(conn: &mut DbConn, keys: &Keys) -> Result<(), StoreError> {
    throttle::reset(conn, &keys.account)
}
