//! Connections: which backend a URL names, how each connection starts, and the files of an
//! SQLite store (private to their owner).

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::R2D2Connection;
use diesel::{Connection, PgConnection, SqliteConnection};

use crate::{Backend, DbConn, StoreError};

/// Picks the backend from the URL scheme. (`DbConn::establish` would try each backend in
/// turn, and SQLite accepts any string as a file name, hiding PostgreSQL errors.)
#[derive(Debug, Clone)]
pub struct ConnManager {
    pub(crate) backend: Backend,
    target: String,
}

/// Run on every new SQLite connection, busy_timeout first: the other pragmas may already
/// need to wait for a lock.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

impl ConnManager {
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<ConnManager, StoreError> {
        let Some(path) = sqlite_file(url) else {
            return Ok(ConnManager { backend: Backend::Postgres, target: postgres_target(url, timeout)? });
        };
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

/// The SQLite file a URL names: `sqlite://PATH`, `sqlite:PATH` or a bare path; `None` for a
/// PostgreSQL URL.
pub(crate) fn sqlite_file(url: &str) -> Option<&str> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    Some(url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url))
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

/// The URL libpq gets: every connection attempt bounded (an unreachable host would otherwise
/// hang on the TCP timeout; libpq's minimum is 2 s), and no TLS to a server on this machine,
/// where it protects nothing and costs a sixth of a request's CPU (libpq would negotiate it:
/// sslmode=prefer). Settings the URL already has are kept.
fn postgres_target(url: &str, timeout: Duration) -> Result<String, StoreError> {
    let mut parsed = url::Url::parse(url).map_err(|e| StoreError::Database(format!("not a database URL: {e}")))?;
    let has = |name: &str| parsed.query_pairs().any(|(key, _)| key == name);
    let (bounded, tls_chosen, local) = (has("connect_timeout"), has("sslmode"), is_loopback(&parsed));
    let mut query = parsed.query_pairs_mut();
    if !bounded {
        query.append_pair("connect_timeout", &timeout.as_secs().max(2).to_string());
    }
    if !tls_chosen && local {
        query.append_pair("sslmode", "disable");
    }
    drop(query);
    Ok(parsed.into())
}

/// Whether a URL names this machine (no host: the local socket). In a `postgres:` URL the
/// `url` crate leaves an IPv4 host as text (only special schemes such as `http:` get theirs
/// parsed), so it is parsed here.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        None => true,
        Some(url::Host::Domain(name)) => {
            name.is_empty()
                || name == "localhost"
                || name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers_get_no_tls_and_every_attempt_is_bounded() {
        for url in
            ["postgres://u@127.0.0.1:5432/db", "postgres://localhost/db", "postgres://u:p@[::1]:5/db", "postgres:///db"]
        {
            let target = postgres_target(url, Duration::from_secs(5)).unwrap();
            assert!(target.contains("sslmode=disable") && target.contains("connect_timeout=5"), "{target}");
        }
        for url in ["postgres://u@db.example.com/db", "postgres://u@10.0.0.5:5432/db?application_name=gw"] {
            let target = postgres_target(url, Duration::from_secs(1)).unwrap();
            assert!(!target.contains("sslmode") && target.contains("connect_timeout=2"), "{target}");
        }
        let kept =
            postgres_target("postgres://u:p%40ss@127.0.0.1/db?sslmode=require&connect_timeout=9", Duration::ZERO);
        assert_eq!(kept.unwrap(), "postgres://u:p%40ss@127.0.0.1/db?sslmode=require&connect_timeout=9");
    }
}
