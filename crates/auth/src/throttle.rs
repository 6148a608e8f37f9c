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

pub fn record_failure(conn: &mut DbConn, keys: &Keys, now: i64) -> Result<(), StoreError> {
    throttle::record_failure(conn, &keys.account, now)?;
    throttle::record_failure(conn, &keys.address, now)
}

/// A completed login forgives the account (not the address).
pub fn reset_account(conn: &mut DbConn, keys: &Keys) -> Result<(), StoreError> {
    throttle::reset(conn, &keys.account)
}
