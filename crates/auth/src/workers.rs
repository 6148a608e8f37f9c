//! Blocking work (diesel, bcrypt) runs here, never on the async request workers.

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

/// Runs `f` with a pooled connection on the blocking pool, keeping store errors
/// for callers that need to tell them apart (a unique email, say).
pub async fn with_conn<T, F>(store: &Store, f: F) -> Result<Result<T, StoreError>, RpcError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    blocking(move || {
        let mut conn = store.conn()?;
        f(&mut conn)
    })
    .await
}

/// Like [`with_conn`], every store failure mapped to an [`RpcError`].
pub async fn db<T, F>(store: &Store, f: F) -> Result<T, RpcError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
{
    with_conn(store, f).await?.map_err(store_error)
}

/// CPU-heavy work (bcrypt), off the request workers.
pub async fn cpu<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, RpcError> {
    blocking(f).await
}
