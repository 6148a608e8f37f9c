//! Fresh databases for tests: a new SQLite file always, and a new PostgreSQL database when
//! `TEST_DATABASE_URL` names a server (for example `postgres://postgres@127.0.0.1:5432/test`).
//! Each test gets its own, so tests run in parallel.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::Backend;

/// One fresh database; dropping it deletes the SQLite files or drops the PostgreSQL database.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Removed with its files when dropped.
    SqliteDir(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        server_url: String,
        name: String,
    },
}

/// A fresh database on `backend`; `None` (said on stderr) for PostgreSQL when
/// `TEST_DATABASE_URL` is not set.
pub fn fresh(backend: Backend) -> Option<TestDb> {
    match backend {
        Backend::Sqlite => Some(fresh_sqlite()),
        Backend::Postgres => match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(fresh_postgres(&url)),
            _ => {
                eprintln!("skipped: TEST_DATABASE_URL is not set, so there is no PostgreSQL to test on");
                None
            }
        },
    }
}

pub fn fresh_sqlite() -> TestDb {
    let dir = tempfile::Builder::new().prefix("gw_test_").tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    TestDb { url, cleanup: Cleanup::SqliteDir(dir) }
}

/// Creates `gw_test_<random>` on the server `server_url` points at.
pub fn fresh_postgres(server_url: &str) -> TestDb {
    let name = format!("gw_test_{}", unique_suffix());
    let mut conn =
        PgConnection::establish(server_url).unwrap_or_else(|e| panic!("cannot connect to TEST_DATABASE_URL: {e}"));
    conn.batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let mut url = url::Url::parse(server_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    TestDb { url: url.into(), cleanup: Cleanup::Postgres { server_url: server_url.to_owned(), name } }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Best effort: a leftover database must not fail a test.
        if let Cleanup::Postgres { server_url, name } = &self.cleanup
            && let Ok(mut conn) = PgConnection::establish(server_url)
        {
            // FORCE: pools of the test may still hold connections.
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

fn unique_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("{:016x}", h.finish())
}

/// Every row of every table the database has, in a stable order: compare two snapshots to
/// show that a call changed nothing. The tables are read from the database's own catalog,
/// not listed here, so a table a migration adds is in the snapshot without a change to it;
/// only SQLite's internal tables (`sqlite_*`, which the engine keeps) are left out. Each
/// line is a table's name and its rows, each row its values as SQL text.
pub fn snapshot(store: &crate::Store) -> String {
    use diesel::RunQueryDsl;
    use diesel::sql_types::Text;

    /// One text column: a table's name, a column's name or a row.
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text)]
        line: String,
    }
    fn lines(q: diesel::query_builder::SqlQuery, c: &mut crate::DbConn) -> Vec<String> {
        let rows: Vec<Line> = match c {
            crate::DbConn::Postgres(c) => q.load(c),
            crate::DbConn::Sqlite(c) => q.load(c),
        }
        .expect("a snapshot query");
        rows.into_iter().map(|r| r.line).collect()
    }
    let quoted = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));

    let mut conn = store.conn().expect("a connection for the snapshot");
    let c = &mut *conn;
    let postgres = matches!(c, crate::DbConn::Postgres(_));
    let tables = lines(
        diesel::sql_query(if postgres {
            "SELECT tablename::text AS line FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        } else {
            "SELECT name AS line FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             ORDER BY 1"
        }),
        c,
    );
    let mut out = String::new();
    for table in tables {
        let row = if postgres {
            // A whole row as text, `(value,value,...)`.
            "ROW(r.*)::text".to_owned()
        } else {
            let name = table.replace('\'', "''");
            let columns = lines(diesel::sql_query(format!("SELECT name AS line FROM pragma_table_info('{name}')")), c);
            columns.iter().map(|col| format!("quote({})", quoted(col))).collect::<Vec<_>>().join(" || ',' || ")
        };
        let rows = lines(diesel::sql_query(format!("SELECT {row} AS line FROM {} AS r ORDER BY 1", quoted(&table))), c);
        out.push_str(&format!("{table}: {rows:?}\n"));
    }
    out
}
