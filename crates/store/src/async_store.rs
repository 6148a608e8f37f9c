//! The store as async code uses it: each call runs on tokio's blocking pool, never on an
//! async worker, with at most one call per pooled connection in flight (more would only be
//! threads waiting for a connection, and a busy gateway would pay in switches).

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::{DbConn, Epoch, Store, StoreError};

#[derive(Clone)]
pub struct AsyncStore {
    store: Store,
    slots: Arc<Semaphore>,
}

impl AsyncStore {
    pub fn new(store: Store) -> Self {
        let slots = Arc::new(Semaphore::new(store.max_connections().max(1) as usize));
        AsyncStore { store, slots }
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        self.on_blocking_pool(move |store| store.run(f)).await
    }

    /// See [`Store::read`]: for an `f` that changes nothing.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        self.on_blocking_pool(move |store| store.read(f)).await
    }

    async fn on_blocking_pool<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _slot = self.slots.acquire().await.map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .unwrap_or_else(|e| Err(StoreError::Database(format!("a store task failed: {e}"))))
    }

    /// The blocking store, for code already off the async workers (a thread of its own).
    pub fn blocking(&self) -> &Store {
        &self.store
    }

    /// See [`Store::auth_epoch`]: no query.
    pub fn auth_epoch(&self) -> Option<Epoch> {
        self.store.auth_epoch()
    }

    /// See [`Store::auth_era`]: no query.
    pub fn auth_era(&self) -> u64 {
        self.store.auth_era()
    }
}
