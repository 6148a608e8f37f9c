//! Store work runs on the blocking pool, never on the async request workers.

use gateway_store::{DbConn, Store, StoreError};
use gateway_wire::RpcError;

/// Maps store failures to what clients see; the detail goes to the log only.
pub fn store_error(e: StoreError) -> RpcError {
    match e {
        StoreError::Unavailable(cause) => RpcError::unavailable(cause),
        other => RpcError::internal(other),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, RpcError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| RpcError::internal(format!("blocking task failed: {e}")))
}

/// The store, with at most one blocking task per pooled connection in flight: more would
/// only be threads waiting for a connection, and a busy gateway would pay in switches.
pub struct Database {
    store: Store,
    slots: tokio::sync::Semaphore,
}

impl Database {
    pub fn new(store: Store) -> Self {
        let slots = tokio::sync::Semaphore::new(store.max_connections().max(1) as usize);
        Database { store, slots }
    }
}

impl std::ops::Deref for Database {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

/// Runs `f` with a pooled connection on the blocking pool, keeping store errors
/// for callers that need to tell them apart (a unique email, say).
pub async fn with_conn<T, F>(db: &Database, f: F) -> Result<Result<T, StoreError>, RpcError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
{
    let _slot = db.slots.acquire().await.map_err(|_| RpcError::internal("the database gate is closed"))?;
    let store = db.store.clone();
    blocking(move || store.run(f)).await
}

/// Like [`with_conn`], every store failure mapped to an [`RpcError`].
pub async fn db<T, F>(store: &Database, f: F) -> Result<T, RpcError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
{
    with_conn(store, f).await?.map_err(store_error)
}
