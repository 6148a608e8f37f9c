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

/// Every row of every table, in a stable order: compare two snapshots to show that a
/// rejected call changed nothing.
pub fn snapshot(store: &crate::Store) -> String {
    use crate::schema::*;
    use diesel::prelude::*;
    let mut conn = store.conn().expect("a connection for the snapshot");
    let c = &mut *conn;
    let auths: Vec<crate::auth::AuthRow> = auth::table.order(auth::id).load(c).expect("auth rows");
    let admins: Vec<crate::admin::AdminRow> = admin::table.order(admin::admin_id).load(c).expect("admin rows");
    let users: Vec<crate::invitation::InvitationRow> = user::table.order(user::user_id).load(c).expect("user rows");
    let sessions: Vec<(crate::session::SessionRow, Option<String>, Option<String>)> = session::table
        .order(session::id)
        .select((crate::session::SessionRow::as_select(), session::user_agent, session::client_address))
        .load(c)
        .expect("session rows");
    let activity: Vec<(String, i64)> =
        session_activity::table.order(session_activity::session_id).load(c).expect("session activity rows");
    let failures: Vec<(i64, String, i64)> =
        throttle_failure::table.order(throttle_failure::id).load(c).expect("throttle rows");
    let challenges: Vec<crate::challenge::ChallengeRow> =
        login_challenge::table.order(login_challenge::id).load(c).expect("challenge rows");
    let codes: Vec<(String, String, String)> =
        backup_code::table.order(backup_code::hash).load(c).expect("backup code rows");
    format!("{auths:?}\n{admins:?}\n{users:?}\n{sessions:?}\n{activity:?}\n{failures:?}\n{challenges:?}\n{codes:?}")
}
