//! What the store no longer needs goes: expired sessions and API tokens, spent or expired
//! 2FA challenges, and throttle rows older than their window. In batches of [`BATCH`]
//! rows, so that no statement holds a lock for long, on a thread of its own.

use std::sync::{Arc, Weak};
use std::time::Duration;

use gateway_store::{StoreError, challenge, session, throttle};

use crate::AuthService;
use crate::ids::unix_now;

/// Rows one statement deletes at most.
const BATCH: i64 = 1000;

/// Rows a purge deleted, by kind, and the most one statement deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub sessions: usize,
    pub challenges: usize,
    pub throttle_rows: usize,
    pub largest_batch: usize,
}

impl AuthService {
    /// Deletes what is no longer needed, batch after batch. Blocking.
    pub fn purge(&self) -> Result<Purged, StoreError> {
        let now = unix_now();
        let window = self.config.throttle_window.as_secs() as i64;
        let spent_at = self.config.throttle_limit as i32;
        let largest = std::cell::Cell::new(0);
        let in_batches = |delete: &dyn Fn(&mut gateway_store::DbConn) -> Result<usize, StoreError>| {
            let mut total = 0;
            loop {
                let n = self.store.blocking().run(delete)?;
                total += n;
                largest.set(largest.get().max(n));
                if n < BATCH as usize {
                    return Ok::<_, StoreError>(total);
                }
            }
        };
        Ok(Purged {
            sessions: in_batches(&|c| session::delete_expired(c, now, BATCH))?,
            challenges: in_batches(&|c| challenge::delete_done(c, now, spent_at, BATCH))?,
            throttle_rows: in_batches(&|c| throttle::prune(c, now - window, BATCH))?,
            largest_batch: largest.get(),
        })
    }
}

/// Every `every`, purges the store and rereads the password costs in use (for the dummy
/// hashes), until the service is gone.
pub fn maintain(service: &Arc<AuthService>, every: Duration) {
    let service: Weak<AuthService> = Arc::downgrade(service);
    let spawned = std::thread::Builder::new().name("maintenance".into()).spawn(move || {
        loop {
            std::thread::sleep(every);
            let Some(service) = service.upgrade() else { return };
            match service.purge() {
                Ok(purged) if purged != Purged::default() => tracing::info!(?purged, "purged the store"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging the store failed; trying again later"),
            }
            if let Err(e) = service.refresh_dummy_hashes() {
                tracing::warn!(error = %e, "reading the password costs in use failed");
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the maintenance thread: the store will not be purged");
    }
}
