//! The store: one diesel code base over SQLite (default) and PostgreSQL, pooled with r2d2,
//! with the migrations embedded. Everything here is synchronous: run it on a blocking pool.

use std::fmt;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::R2D2Connection;
use diesel::result::QueryResult;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

mod epoch;
mod error;
mod pool;
pub mod schema;

pub mod admin;
pub mod auth;
pub mod challenge;
pub mod invitation;
pub mod session;
pub mod throttle;

#[cfg(feature = "testing")]
pub mod testing;

pub use epoch::Epoch;
pub use error::{ADMIN, EMAIL, StoreError};

/// A connection to either backend; queries are written once against it.
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
        run_migrations(&mut first)?;
        drop(first);

        let max_size = match (opts.max_size, backend) {
            (0, Backend::Postgres) => 16,
            (0, Backend::Sqlite) => 8,
            (n, _) => n,
        };
        let pool = pool::Pool::new(manager, max_size, opts.connection_timeout);
        Ok(Store { pool, backend, manager: kept, epoch: Default::default() })
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

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; returns the versions applied (empty when up to date).
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        run_migrations(&mut *self.conn()?)
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
        let mut conn = self.conn()?;
        let result = f(&mut conn);
        if let (Err(StoreError::Unavailable(cause)), DbConn::Postgres(pg)) = (&result, &mut *conn) {
            AnsiTransactionManager::transaction_manager_status_mut(pg).set_in_error();
            self.pool.mark_down(cause);
        }
        // What `f` changed is known here before its caller answers anyone.
        if self.epoch.followed() {
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

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// PostgreSQL advisory-lock id that serializes migrations across replicas.
const MIGRATIONS_LOCK: i64 = 7242012;

/// In a write transaction, waits for the transaction-scoped lock on `key`: PostgreSQL takes
/// an advisory lock on the key's hash, so writers of one key wait for each other and no
/// others do. SQLite's write transaction already holds the one write lock.
pub(crate) fn lock_key(conn: &mut DbConn, key: &str) -> QueryResult<()> {
    if let DbConn::Postgres(pg) = conn {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(key)
            .execute(pg)?;
    }
    Ok(())
}

/// Runs the migrations in one transaction holding the write lock (SQLite) or an advisory
/// lock (PostgreSQL), so replicas starting together apply them once.
fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, StoreError> {
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    let applied = match conn {
        DbConn::Sqlite(c) => c.immediate_transaction(|c| -> Result<_, BoxError> {
            Ok(versions(c.run_pending_migrations(SQLITE_MIGRATIONS)?))
        }),
        DbConn::Postgres(c) => c.transaction(|c| -> Result<_, BoxError> {
            c.batch_execute(&format!("SELECT pg_advisory_xact_lock({MIGRATIONS_LOCK})"))?;
            Ok(versions(c.run_pending_migrations(POSTGRES_MIGRATIONS)?))
        }),
    };
    applied.map_err(|e| match e.downcast::<diesel::result::Error>() {
        Ok(e) => StoreError::from(*e),
        Err(e) => StoreError::Database(format!("migration failed: {e}")),
    })
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}

/// Runs `f` in a write transaction. SQLite takes the write lock up front (BEGIN IMMEDIATE), so
/// concurrent writers queue on busy_timeout instead of failing a lock upgrade with SQLITE_BUSY.
pub(crate) fn write_tx<T>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> QueryResult<T>) -> Result<T, StoreError> {
    match conn {
        DbConn::Postgres(_) => return Ok(conn.transaction(f)?),
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
            Err(e.into())
        }
    }
}

/// Picks the backend from the URL scheme. (`DbConn::establish` would try each backend in
/// turn, and SQLite accepts any string as a file name, hiding PostgreSQL errors.)
#[derive(Debug, Clone)]
pub struct ConnManager {
    backend: Backend,
    target: String,
}

/// Run on every new SQLite connection, busy_timeout first: the other pragmas may already
/// need to wait for a lock.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

impl ConnManager {
    fn new(url: &str, timeout: Duration) -> Result<ConnManager, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Bound each connection attempt too: an unreachable host would otherwise hang on
            // the TCP timeout (libpq's minimum is 2 s).
            let mut target = url.to_owned();
            if !url.contains("connect_timeout=") {
                let sep = if url.contains('?') { '&' } else { '?' };
                target = format!("{url}{sep}connect_timeout={}", timeout.as_secs().max(2));
            }
            // TLS to a server on this machine protects nothing and costs a sixth of the CPU of
            // a request; libpq would negotiate it by default (sslmode=prefer).
            if !url.contains("sslmode=") && is_loopback_host(url) {
                target.push_str("&sslmode=disable");
            }
            return Ok(ConnManager { backend: Backend::Postgres, target });
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        if path.is_empty() {
            return Err(StoreError::Database(format!("no database file in {url:?}")));
        }
        if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)
                .map_err(|e| StoreError::Database(format!("cannot create {}: {e}", dir.display())))?;
        }
        private_sqlite_files(path).map_err(|e| StoreError::Database(format!("cannot protect {path}: {e}")))?;
        Ok(ConnManager { backend: Backend::Sqlite, target: path.to_owned() })
    }
}

impl r2d2::ManageConnection for ConnManager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        use diesel::r2d2::Error;
        match self.backend {
            Backend::Postgres => {
                PgConnection::establish(&self.target).map(DbConn::Postgres).map_err(Error::ConnectionError)
            }
            Backend::Sqlite => {
                let mut c = SqliteConnection::establish(&self.target).map_err(Error::ConnectionError)?;
                c.batch_execute(SQLITE_PRAGMAS).map_err(Error::QueryError)?;
                Ok(DbConn::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Creates `dir` and its missing parents readable by their owner only (0700).
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The database file (created if missing) and its journal files, readable by their owner
/// only (0600). SQLite gives new journal files the database file's mode.
fn private_sqlite_files(path: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?;
    #[cfg(unix)]
    for file in [path.to_owned(), format!("{path}-wal"), format!("{path}-shm"), format!("{path}-journal")] {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(&file).is_ok() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// Whether a postgres:// URL names this machine (or no host: the local socket).
fn is_loopback_host(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    matches!(host, "" | "localhost" | "::1") || host.starts_with("127.")
}

#[cfg(test)]
mod url_tests {
    #[test]
    fn loopback_hosts_are_recognised() {
        for url in
            ["postgres://u@127.0.0.1:5432/db", "postgres://localhost/db", "postgres://u:p@[::1]:5/db", "postgres:///db"]
        {
            assert!(super::is_loopback_host(url), "{url}");
        }
        for url in ["postgres://u@db.example.com/db", "postgres://u@10.0.0.5:5432/db"] {
            assert!(!super::is_loopback_host(url), "{url}");
        }
    }
}
