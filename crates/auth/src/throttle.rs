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

/// Counts an attempt as a failure on both counters *before* its password or pin is
/// checked, atomically with the limit check: concurrent attempts cannot all pass a check
/// that none of them has been counted in yet. `Err(seconds)`: throttled, nothing counted.
/// A successful attempt takes its count back with [`forgive`].
pub fn begin_attempt(
    conn: &mut DbConn,
    keys: &Keys,
    config: &AuthConfig,
    now: i64,
) -> Result<Result<(), u64>, StoreError> {
    let since = now - config.throttle_window.as_secs() as i64;
    let keys_ = [keys.account.as_str(), keys.address.as_str()];
    if throttle::record_within_limit(conn, &keys_, since, now, config.throttle_limit)? {
        return Ok(Ok(()));
    }
    Ok(Err(retry_after(conn, keys, config, now)?.unwrap_or(1)))
}

/// The attempt begun with [`begin_attempt`] succeeded: it was no failure.
pub fn forgive(conn: &mut DbConn, keys: &Keys) -> Result<(), StoreError> {
    throttle::forgive_one(conn, &keys.account)?;
    throttle::forgive_one(conn, &keys.address)
}

/// A completed login forgives the account (not the address).
pub fn reset_account(conn: &mut DbConn, keys: &Keys) -> Result<(), StoreError> {
    throttle::reset(conn, &keys.account)
}
