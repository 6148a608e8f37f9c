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

type Job = Box<dyn FnOnce() + Send>;

/// Threads for CPU-heavy work (bcrypt), one per core, at a lower scheduling priority:
/// under a flood of logins the request path still gets the CPU whenever it needs it.
pub struct CpuPool {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl CpuPool {
    pub fn new(threads: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = std::sync::Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("cpu-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = queue.lock().map(|q| q.recv());
                        match job {
                            Ok(Ok(job)) => job(),
                            _ => break,
                        }
                    }
                })
                .expect("spawning a worker thread");
        }
        CpuPool { jobs }
    }

    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, RpcError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        });
        self.jobs.send(job).map_err(|_| RpcError::internal("the CPU pool is gone"))?;
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            _ => Err(RpcError::internal("a CPU task failed")),
        }
    }
}

/// Nice 10 for the calling thread (Linux schedules threads separately).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only changes the calling thread's nice value.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}
