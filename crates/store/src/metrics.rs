//! What the store tells operators: failures, how long calls wait for a connection, and, read
//! when metrics are scraped, whether the database is up, the pool's connections and the
//! auth-epoch watcher's state ([`Vitals`]).

use std::time::Duration;

use metrics::counter;

use crate::StoreError;

pub const STORE_ERRORS: &str = "auth_gateway_store_errors_total";
pub const STORE_CHECKOUT_WAIT: &str = "auth_gateway_store_checkout_wait_seconds";

/// The store's state now.
#[derive(Debug, Clone, Copy)]
pub struct Vitals {
    /// False while the database is known to be down (a probe is reconnecting).
    pub up: bool,
    /// Pooled connections open, and of those, idle.
    pub connections: u32,
    pub idle_connections: u32,
    pub max_connections: u32,
    /// Whether the watcher vouches for the auth epoch (so sessions are answered from memory).
    pub epoch_watcher_up: bool,
    /// How old the watcher's last proof of the epoch is (`None`: none yet).
    pub epoch_lag: Option<Duration>,
}

/// Counts a failed store call: the database out of reach, or an error it gave. Answers the
/// callers expect (a taken email, a missing row) are not failures.
pub(crate) fn count_error(error: &StoreError) {
    let kind = match error {
        StoreError::Unavailable(_) => "unavailable",
        StoreError::Database(_) => "database",
        StoreError::UniqueViolation(_) | StoreError::NotFound => return,
    };
    counter!(STORE_ERRORS, "kind" => kind).increment(1);
}
