//! The connection pool, and what it does while the database is down: once a connection
//! cannot be made (or a PostgreSQL connection broke), calls that would wait for a new
//! connection are refused at once, while a probe thread reconnects in the background. When
//! the probe gets through, the pool starts afresh, without the connections the outage left
//! broken, so the first call after the database is back succeeds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;

use crate::{ConnManager, StoreError};

/// How long a waiting call sleeps between looks at whether the database went down.
const LOOK: Duration = Duration::from_millis(20);
/// How often the probe tries to reconnect.
const PROBE_EVERY: Duration = Duration::from_millis(200);

pub type Conn = r2d2::PooledConnection<ConnManager>;

pub(crate) struct Pool {
    current: RwLock<r2d2::Pool<ConnManager>>,
    manager: ConnManager,
    size: u32,
    timeout: Duration,
    down: AtomicBool,
    probing: AtomicBool,
    this: Weak<Pool>,
    checkout_wait: metrics::Histogram,
}

/// Connection errors reach the pool here: a connection that cannot be made means the
/// database is down (or out of reach) until the probe says otherwise.
#[derive(Debug)]
struct MarkDown(Weak<Pool>);

impl r2d2::HandleError<diesel::r2d2::Error> for MarkDown {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        if let Some(pool) = self.0.upgrade() {
            pool.mark_down(&error.to_string());
        }
    }
}

impl Pool {
    pub fn new(manager: ConnManager, size: u32, timeout: Duration) -> Arc<Pool> {
        Arc::new_cyclic(|this| Pool {
            current: RwLock::new(Self::build(&manager, size, timeout, this.clone())),
            manager,
            size,
            timeout,
            down: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            this: this.clone(),
            checkout_wait: metrics::histogram!(crate::metrics::STORE_CHECKOUT_WAIT),
        })
    }

    /// build_unchecked: the pool never blocks waiting for connections; more open on demand up
    /// to `size`. A check per checkout would cost a round trip per request: a connection that
    /// broke fails its query once, is flagged broken and replaced.
    fn build(manager: &ConnManager, size: u32, timeout: Duration, this: Weak<Pool>) -> r2d2::Pool<ConnManager> {
        r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(size.min(2)))
            .connection_timeout(timeout)
            .test_on_check_out(false)
            .error_handler(Box::new(MarkDown(this)))
            .build_unchecked(manager.clone())
    }

    pub fn max_size(&self) -> u32 {
        self.size
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// A connection: an idle one at once; else, unless the database is known to be down, a
    /// new or freed one within the timeout.
    pub fn get(&self) -> Result<Conn, StoreError> {
        let pool = self.current.read().expect("pool lock").clone();
        if let Some(conn) = pool.try_get() {
            self.checkout_wait.record(0.0);
            return Ok(conn);
        }
        let started = Instant::now();
        let got = self.wait_for(&pool);
        self.checkout_wait.record(started.elapsed());
        got
    }

    /// (Open connections, idle ones.)
    pub fn connections(&self) -> (u32, u32) {
        let state = self.current.read().expect("pool lock").state();
        (state.connections, state.idle_connections)
    }

    fn wait_for(&self, pool: &r2d2::Pool<ConnManager>) -> Result<Conn, StoreError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if self.is_down() {
                return Err(StoreError::Unavailable("the database is down; reconnecting".into()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match pool.get_timeout(LOOK.min(left)) {
                Ok(conn) => return Ok(conn),
                Err(e) if left <= LOOK => return Err(StoreError::Unavailable(e.to_string())),
                Err(_) => {}
            }
        }
    }

    /// The database did not answer: refuse waiting calls and probe until it does.
    pub fn mark_down(&self, cause: &str) {
        if !self.down.swap(true, Ordering::SeqCst) {
            tracing::warn!(error = %cause, "database down: refusing calls at once until it is back");
        }
        if self.probing.swap(true, Ordering::SeqCst) {
            return;
        }
        let this = self.this.clone();
        let spawned = std::thread::Builder::new().name("db-probe".into()).spawn(move || {
            loop {
                let Some(pool) = this.upgrade() else { return };
                if pool.probe() {
                    *pool.current.write().expect("pool lock") =
                        Self::build(&pool.manager, pool.size, pool.timeout, pool.this.clone());
                    pool.down.store(false, Ordering::SeqCst);
                    pool.probing.store(false, Ordering::SeqCst);
                    tracing::info!("database back");
                    return;
                }
                drop(pool);
                std::thread::sleep(PROBE_EVERY);
            }
        });
        if spawned.is_err() {
            self.probing.store(false, Ordering::SeqCst);
        }
    }

    /// One connection and one query.
    fn probe(&self) -> bool {
        r2d2::ManageConnection::connect(&self.manager).is_ok_and(|mut c| c.batch_execute("SELECT 1").is_ok())
    }
}
