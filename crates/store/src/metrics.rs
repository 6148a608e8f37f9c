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

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;
    use crate::{PoolOptions, Store};

    #[test]
    fn failed_calls_are_counted_by_kind_and_the_answers_callers_expect_are_not() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let dir = tempfile::tempdir().unwrap();
        metrics::with_local_recorder(&recorder, || {
            let store = Store::open(dir.path().join("t.db").to_str().unwrap(), PoolOptions::default()).unwrap();
            assert!(store.run(|_| Err::<(), _>(StoreError::NotFound)).is_err());
            assert!(store.run(|_| Err::<(), _>(StoreError::UniqueViolation("email".into()))).is_err());
            assert!(store.run(|c| Ok(c.batch_execute("SELECT * FROM no_such_table")?)).is_err());
            store.ping().unwrap();
            let vitals = store.vitals();
            assert!(vitals.up && vitals.connections >= vitals.idle_connections && !vitals.epoch_watcher_up);
        });
        let mut errors = Vec::new();
        let mut waits = 0;
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            match (key.key().name(), value) {
                (STORE_ERRORS, DebugValue::Counter(n)) => {
                    let labels: Vec<_> =
                        key.key().labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
                    errors.push((labels, n));
                }
                (STORE_CHECKOUT_WAIT, DebugValue::Histogram(samples)) => waits += samples.len(),
                _ => {}
            }
        }
        assert_eq!(errors, [(vec![("kind".to_owned(), "database".to_owned())], 1)]);
        assert_eq!(waits, 4, "one wait per checkout");
    }
}
