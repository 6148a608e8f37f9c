//! The store: one diesel code base over SQLite (default) and PostgreSQL, pooled with r2d2,
//! with the migrations embedded. Everything here is synchronous: run it on a blocking pool.

use std::fmt;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::{Connection, PgConnection, SqliteConnection};

#[macro_use]
mod text_enum;

mod advisory_lock;
mod async_store;
mod connection;
mod epoch;
mod error;
mod metrics;
mod migrations;
mod pool;
pub mod schema;

pub mod admin;
pub mod auth;
pub mod backup;
pub mod backup_code;
pub mod challenge;
pub mod dokploy;
pub mod import;
pub mod invitation;
pub mod session;
pub mod throttle;

#[cfg(feature = "testing")]
pub mod testing;

pub use async_store::AsyncStore;
pub use connection::{ConnManager, create_private_dir};
pub use epoch::Epoch;
pub use error::{ADMIN, EMAIL, StoreError};
pub use metrics::{STORE_CHECKOUT_WAIT, STORE_ERRORS, Vitals};
pub use migrations::MigrationStatus;

/// A connection to either backend; queries are written once against it.
///
/// A query for one row by a key uses `get_result`, not `first`: `first` binds a `LIMIT`,
/// and SQLite's planner reads a bound `LIMIT`, so the statement would be prepared again on
/// every call. (`first` stays where more rows could match.)
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        })
    }
}

#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections open at once; 0 picks the backend's default (PostgreSQL 16, SQLite 8:
    /// SQLite has one writer, more connections only add lock waits).
    pub max_size: u32,
    /// Longest wait for a pooled connection before [`StoreError::Unavailable`].
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions { max_size: 0, connection_timeout: Duration::from_secs(5) }
    }
}

pub use pool::Conn;

#[derive(Clone)]
pub struct Store {
    pool: std::sync::Arc<pool::Pool>,
    backend: Backend,
    manager: ConnManager,
    epoch: std::sync::Arc<epoch::EpochWatch>,
}

impl Store {
    /// `postgres://` or `postgresql://` opens PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or a
    /// bare path opens (and creates) an SQLite file. Runs pending migrations.
    pub fn open(url: &str, opts: PoolOptions) -> Result<Store, StoreError> {
        let manager = ConnManager::new(url, opts.connection_timeout)?;
        let backend = manager.backend;
        let kept = manager.clone();
        // Connect once outside the pool: an unreachable database fails now with the real
        // cause, instead of after the pool's checkout timeout.
        let mut first =
            r2d2::ManageConnection::connect(&manager).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // A schema a newer version made is not one this binary may run against.
        let unknown = migrations::status(&mut first)?.unknown;
        if !unknown.is_empty() {
            return Err(StoreError::Database(format!(
                "the database has migrations this version does not know ({}): a newer version ran on it",
                unknown.join(", ")
            )));
        }
        migrations::run(&mut first)?;
        drop(first);

        let max_size = match (opts.max_size, backend) {
            (0, Backend::Postgres) => 16,
            (0, Backend::Sqlite) => 8,
            (n, _) => n,
        };
        let pool = pool::Pool::new(manager, max_size, opts.connection_timeout);
        Ok(Store { pool, backend, manager: kept, epoch: Default::default() })
    }

    /// The migration status of the database at `url`, read without applying anything.
    pub fn migration_status(url: &str, opts: PoolOptions) -> Result<MigrationStatus, StoreError> {
        let manager = ConnManager::new(url, opts.connection_timeout)?;
        let mut conn = r2d2::ManageConnection::connect(&manager).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        migrations::status(&mut conn)
    }

    /// Starts following the auth epoch (see [`Store::auth_epoch`]): a thread with its own
    /// connection. Until this is called, the epoch is never known.
    pub fn follow_auth_epoch(&self) {
        epoch::follow(self.manager.clone(), &self.epoch);
    }

    /// The auth epoch as of now, when it is known for sure: a value read together with a
    /// session (`session::find_with_auth`), in the era [`Store::auth_era`] gave before the
    /// read, is still current while this returns the same.
    pub fn auth_epoch(&self) -> Option<Epoch> {
        self.epoch.current()
    }

    /// The era of the auth epoch (see [`Epoch`]).
    pub fn auth_era(&self) -> u64 {
        self.epoch.era()
    }

    /// The most connections the pool opens.
    pub fn max_connections(&self) -> u32 {
        self.pool.max_size()
    }

    /// Whether the database is known to be down (a probe is reconnecting).
    pub fn is_down(&self) -> bool {
        self.pool.is_down()
    }

    /// The state of the database, the pool and the epoch watcher, for metrics.
    pub fn vitals(&self) -> Vitals {
        let (connections, idle_connections) = self.pool.connections();
        Vitals {
            up: !self.is_down(),
            connections,
            idle_connections,
            max_connections: self.max_connections(),
            epoch_watcher_up: self.epoch.followed() && self.epoch.current().is_some(),
            epoch_lag: self.epoch.lag(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; returns the versions applied (empty when up to date).
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        migrations::run(&mut *self.conn()?)
    }

    /// One round trip through the pool.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.run(|c| Ok(c.batch_execute("SELECT 1")?))
    }

    /// Runs `f` with a pooled connection. A PostgreSQL connection that failed because the
    /// server went away (restart, outage) is flagged broken, so the pool drops it instead of
    /// handing it out again (without a check at checkout, nothing else would notice), and
    /// the database counts as down until a probe reaches it.
    pub fn run<T>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.call(f, true)
    }

    /// [`Store::run`] for an `f` that changes nothing: the auth epoch is not read back after
    /// it (a second round trip, and there is no change of its own to learn of).
    pub fn read<T>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.call(f, false)
    }

    fn call<T>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>,
        read_back_epoch: bool,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn().inspect_err(metrics::count_error)?;
        let result = f(&mut conn);
        if let Err(e) = &result {
            metrics::count_error(e);
        }
        if let (Err(StoreError::Unavailable(cause)), DbConn::Postgres(pg)) = (&result, &mut *conn) {
            AnsiTransactionManager::transaction_manager_status_mut(pg).set_in_error();
            self.pool.mark_down(cause);
        }
        // What `f` changed is known here before its caller answers anyone.
        if read_back_epoch && self.epoch.followed() {
            match epoch::read(&mut conn) {
                Ok(reading) => self.epoch.saw(reading),
                Err(_) => self.epoch.lost(),
            }
        }
        result
    }

    /// A pooled connection for `f`s of your own. Changes made through it are not read back
    /// into the auth epoch: other parts of this process learn of them as of another
    /// process's, through the watcher. Prefer [`Store::run`].
    pub fn conn(&self) -> Result<Conn, StoreError> {
        self.pool.get()
    }
}

/// Runs `f` in a write transaction, committed when `f` returns `Ok`. SQLite takes the write
/// lock up front (BEGIN IMMEDIATE), so concurrent writers queue on busy_timeout instead of
/// failing a lock upgrade with SQLITE_BUSY.
pub(crate) fn write_tx<T, E: From<diesel::result::Error>>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    match conn {
        DbConn::Postgres(_) => return conn.transaction(f),
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
    }
    // The enum's transaction manager delegates to the inner connection's, which now
    // knows it is in a transaction.
    match f(conn) {
        Ok(value) => {
            DbConn::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            // A failed rollback leaves the manager broken: the pool then discards the connection.
            let _ = DbConn::rollback_transaction(conn);
            Err(e)
        }
    }
}
