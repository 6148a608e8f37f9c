//! Throttling of every password and pin check (auth-api.md §7): after `limit` failures in
//! `window`, a counter refuses further attempts with 429 until the window passes.
//!
//! Each attempt is counted on two keys: its account (or, for a device that has signed in
//! to that account before, the device) and its client address (IPv6 per /64). A place on
//! both is taken in one locked step *before* the check runs, so concurrent attempts never
//! get more than `limit` failures through, on one gateway or several; attempts on other
//! keys never wait. The owner's known devices are counted apart from the account, so a
//! stranger who fills the account's counter does not lock its owner out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_store::throttle::{self, Place, Taken};
use gateway_store::{AsyncStore, DbConn, Store, StoreError};
use gateway_wire::{Ctx, RpcError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::AuthService;
use crate::config::AuthConfig;
use crate::device::DEVICE_COOKIE;
use crate::error::Result;
use crate::ids::unix_now;

/// How long an unsettled attempt holds its places (a crashed process's places expire).
const PLACE_SECS: i64 = 60;
/// Longest wait for places held by attempts still being checked; then 429.
const WAIT: Duration = Duration::from_secs(10);
/// How often the store is asked again while another process holds the places.
const RETRY: Duration = Duration::from_millis(20);

/// The counters an attempt touches.
#[derive(Debug, Clone)]
pub struct Keys {
    /// `account:<auth id>`, or `account:<email>` when no account has the email.
    pub account: String,
    /// `device:<id>` when the caller's device cookie is valid for the account.
    pub device: Option<String>,
    /// `address:<ip>`, IPv6 addresses per /64 (what one client usually controls).
    pub address: String,
}

impl Keys {
    pub fn new(account: &str, device: Option<&str>, address: Option<IpAddr>) -> Self {
        Keys {
            account: format!("account:{account}"),
            device: device.map(|d| format!("device:{d}")),
            address: format!("address:{}", address.map_or_else(|| "unknown".to_owned(), address_key)),
        }
    }

    /// The keys counted: a known device stands in for its account.
    fn counted(&self) -> [&str; 2] {
        [self.device.as_deref().unwrap_or(&self.account), &self.address]
    }
}

/// An IPv4 address as it is; an IPv6 address by its /64 prefix.
fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Attempts in flight in this process wait for places here, per key, instead of asking the
/// store again and again; the store still decides across processes.
pub struct Throttle {
    config: AuthConfig,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Throttle {
    pub fn new(config: AuthConfig) -> Self {
        Throttle { config, slots: Mutex::default() }
    }

    fn slots_for(&self, key: &str) -> Arc<Semaphore> {
        let mut all = self.slots.lock().expect("throttle slots lock");
        if all.len() > 10_000 {
            all.retain(|_, s| Arc::strong_count(s) > 1);
        }
        let limit = self.config.throttle_limit.max(1) as usize;
        Arc::clone(all.entry(key.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(limit))))
    }

    /// Takes places for an attempt on `keys`, waiting while attempts still being checked
    /// fill a limit; refuses it (429) when failures do.
    pub async fn begin(&self, store: &AsyncStore, keys: Keys) -> Result<Attempt> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut counted = keys.counted().map(str::to_owned).to_vec();
        // One order for everyone: two attempts never hold each other's next slot.
        counted.sort();
        let mut permits = Vec::with_capacity(counted.len());
        for key in &counted {
            let permit = tokio::time::timeout_at(deadline, self.slots_for(key).acquire_owned()).await;
            permits.push(permit.ok().and_then(|p| p.ok()).ok_or_else(|| RpcError::too_many_requests(1))?);
        }
        let (limit, window) = (self.config.throttle_limit, self.config.throttle_window.as_secs() as i64);
        loop {
            let keys_now = counted.clone();
            let now = unix_now();
            let taken = store
                .run(move |c| {
                    let keys: Vec<&str> = keys_now.iter().map(String::as_str).collect();
                    throttle::take_places(c, &keys, now - window, now - PLACE_SECS, now, limit, window)
                })
                .await?;
            match taken {
                Taken::Places(places) => {
                    let store = store.blocking().clone();
                    return Ok(Attempt { store, keys, places: Some(places), permits });
                }
                Taken::Busy if tokio::time::Instant::now() < deadline => tokio::time::sleep(RETRY).await,
                Taken::Busy => return Err(RpcError::too_many_requests(1).into()),
                Taken::Full { until } => return Err(RpcError::too_many_requests((until - now).max(1) as u64).into()),
            }
        }
    }
}

/// An attempt counted by [`Throttle::begin`] whose outcome is not known yet. Dropped before
/// [`Attempt::settle`] (the client went away, or the check itself failed) its places are
/// given back: only a wrong password or pin stays counted.
pub struct Attempt {
    store: Store,
    keys: Keys,
    places: Option<Vec<Place>>,
    permits: Vec<OwnedSemaphorePermit>,
}

impl Attempt {
    /// The password or pin was checked: the outcome is recorded with [`Settled`]'s methods,
    /// in the caller's store call. The in-process slots are held until then.
    pub fn settle(mut self) -> Settled {
        let places = self.places.take().expect("settled once");
        Settled { keys: self.keys.clone(), places, _permits: std::mem::take(&mut self.permits) }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if let (Some(places), Ok(rt)) = (self.places.take(), tokio::runtime::Handle::try_current()) {
            let store = self.store.clone();
            rt.spawn_blocking(move || store.run(|c| throttle::release(c, &places)));
        }
    }
}

/// The outcome of a checked attempt, to record in the store.
pub struct Settled {
    keys: Keys,
    places: Vec<Place>,
    _permits: Vec<OwnedSemaphorePermit>,
}

impl Settled {
    /// A wrong password or pin: it counts on every key of the attempt, and on the account
    /// even where a device stood in for it.
    pub fn failed(&self, c: &mut DbConn) -> Result<(), StoreError> {
        let now = unix_now();
        throttle::failed(c, &self.places, now)?;
        if self.keys.device.is_some() {
            throttle::record_failure(c, &self.keys.account, now)?;
        }
        Ok(())
    }

    /// A right password or pin that completes nothing yet (the 2FA step is owed, or it was
    /// `auth.update`'s current password): the count stays as it is.
    pub fn passed(&self, c: &mut DbConn) -> Result<(), StoreError> {
        throttle::release(c, &self.places)
    }

    /// A completed login forgives its account and device (not its address).
    pub fn completed(&self, c: &mut DbConn) -> Result<(), StoreError> {
        throttle::release(c, &self.places)?;
        throttle::reset(c, &self.keys.account)?;
        if let Some(device) = &self.keys.device {
            throttle::reset(c, device)?;
        }
        Ok(())
    }
}

impl AuthService {
    /// The throttle counters of an attempt on `account` (an auth id, or an unknown email):
    /// a device cookie issued for a known account counts the device instead of the account.
    pub(crate) fn attempt_keys(&self, ctx: &Ctx, account: &str, known: bool) -> Keys {
        let device = ctx.cookie(DEVICE_COOKIE).filter(|_| known).and_then(|c| self.devices.verify(c, account));
        Keys::new(account, device.as_deref(), ctx.client_addr())
    }

    /// Counts a password or pin check before it runs; a refusal is audited.
    pub(crate) async fn begin_attempt(&self, ctx: &Ctx, keys: Keys, auth_id: Option<&str>) -> Result<Attempt> {
        self.throttle.begin(&self.store, keys).await.inspect_err(|e| {
            if let crate::error::AuthError::Answer(e) = e {
                audit!(ctx, "throttled", retry_after = e.retry_after, auth_id = auth_id);
            }
        })
    }
}

/// Clears an account's counter (operator commands).
pub fn unlock(c: &mut DbConn, auth_id: &str) -> Result<usize, StoreError> {
    throttle::reset(c, &Keys::new(auth_id, None, None).account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let key = |a: &str| Keys::new("x", None, Some(a.parse().unwrap())).address;
        assert_eq!(key("2001:db8:1:2::a"), key("2001:db8:1:2:ffff:1:2:3"));
        assert_eq!(key("2001:db8:1:2::a"), "address:2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:2::a"), key("2001:db8:1:3::a"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_eq!(Keys::new("x", None, None).address, "address:unknown");
    }

    #[test]
    fn a_known_device_is_counted_instead_of_its_account() {
        let keys = Keys::new("acct", Some("dev"), None);
        assert_eq!(keys.counted(), ["device:dev", "address:unknown"]);
        assert_eq!(Keys::new("acct", None, None).counted(), ["account:acct", "address:unknown"]);
    }
}
