//! Fresh databases for tests: a new SQLite file always, and a new PostgreSQL database when
//! `TEST_DATABASE_URL` names a server (for example `postgres://postgres@127.0.0.1:5432/test`).
//! Each test gets its own, so tests run in parallel.
//!
//! And [`skip`], the one place that decides what a test does when something it needs is
//! missing here: it fails under CI, and is skipped, said and recorded, elsewhere.

use std::ffi::OsStr;
use std::io::Write;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::Backend;

/// What a test does when something it needs (a PostgreSQL server, a program) is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenMissing {
    /// CI, where everything must run: the test fails.
    Fail,
    /// Elsewhere: the test passes without running, and says so.
    Skip,
}

/// The decision, from the value of the environment variable `CI`: set and not empty
/// (`CI=1`, `CI=true`, as CI services set it) fails.
pub fn when_missing(ci: Option<&OsStr>) -> WhenMissing {
    match ci {
        Some(value) if !value.is_empty() => WhenMissing::Fail,
        _ => WhenMissing::Skip,
    }
}

/// Says that the running test cannot run here, because of `reason`; the test then returns.
///
/// Under CI (see [`when_missing`]) it panics with the reason. Elsewhere it prints
/// `skipped: <test>: <reason>` on stderr and appends that line to the file named by
/// `TEST_SKIP_LOG`, when set: test runners hide what passing tests print, and `make test`
/// lists that file at its end.
pub fn skip(reason: &str) {
    let test = std::thread::current().name().filter(|n| *n != "main").unwrap_or("a test").to_owned();
    match when_missing(std::env::var_os("CI").as_deref()) {
        WhenMissing::Fail => panic!("{test} cannot run: {reason} (CI is set, and under CI nothing is skipped)"),
        WhenMissing::Skip => {
            let line = format!("skipped: {test}: {reason}");
            eprintln!("{line}");
            if let Some(path) = std::env::var_os("TEST_SKIP_LOG").filter(|p| !p.is_empty()) {
                let recorded = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
                if let Err(e) = recorded {
                    panic!("{line}, and TEST_SKIP_LOG ({}) cannot record it: {e}", path.display());
                }
            }
        }
    }
}

/// The PostgreSQL server tests make their databases on: `TEST_DATABASE_URL`. `None` when
/// it is not set, said by [`skip`] (a failure under CI).
pub fn postgres_server() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip("TEST_DATABASE_URL is not set, so there is no PostgreSQL to test on");
            None
        }
    }
}

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

/// A fresh database on `backend`; for PostgreSQL, `None` when `TEST_DATABASE_URL` is not
/// set (see [`postgres_server`]: a skip, or a failure under CI).
pub fn fresh(backend: Backend) -> Option<TestDb> {
    match backend {
        Backend::Sqlite => Some(fresh_sqlite()),
        Backend::Postgres => postgres_server().map(|url| fresh_postgres(&url)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn only_a_ci_variable_with_a_value_makes_a_missing_prerequisite_fail() {
        for (ci, expected) in [
            (None, WhenMissing::Skip),
            (Some(""), WhenMissing::Skip),
            (Some("1"), WhenMissing::Fail),
            (Some("true"), WhenMissing::Fail),
        ] {
            assert_eq!(when_missing(ci.map(OsStr::new)), expected, "CI={ci:?}");
        }
    }

    /// Run by the test below, in a process of its own: skips for the reason it is given.
    /// (Without `GATEWAY_SKIP_PROBE` it does nothing.)
    #[test]
    fn skipping_probe() {
        if let Some(reason) = std::env::var_os("GATEWAY_SKIP_PROBE") {
            skip(&reason.to_string_lossy());
        }
    }

    /// `skip` itself, in a real process with a real environment: with `CI=1` the test fails,
    /// naming itself and the reason, and nothing is recorded; without `CI`, or with it
    /// empty, the test passes and its line is in `TEST_SKIP_LOG`.
    #[test]
    fn a_skip_fails_under_ci_and_is_recorded_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("skipped.txt");
        let probe = |ci: Option<&str>| {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.args(["--exact", "testing::tests::skipping_probe", "--nocapture", "--test-threads", "1"])
                .env("GATEWAY_SKIP_PROBE", "no frobnicator on this machine")
                .env("TEST_SKIP_LOG", &log)
                .env_remove("CI");
            if let Some(value) = ci {
                cmd.env("CI", value);
            }
            let out = cmd.output().unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            (out.status.success(), text)
        };

        let (passed, output) = probe(Some("1"));
        assert!(!passed, "under CI a skip fails the test:\n{output}");
        assert!(
            output.contains("testing::tests::skipping_probe cannot run: no frobnicator on this machine"),
            "{output}"
        );
        assert!(!log.exists(), "a failure is not recorded as a skip");

        for ci in [None, Some("")] {
            let (passed, output) = probe(ci);
            assert!(passed && output.contains("1 passed"), "CI={ci:?}: the probe ran and passed:\n{output}");
            assert!(output.contains("skipped: testing::tests::skipping_probe: no frobnicator"), "{output}");
        }
        let line = "skipped: testing::tests::skipping_probe: no frobnicator on this machine\n";
        assert_eq!(std::fs::read_to_string(&log).unwrap(), line.repeat(2));
    }
}
