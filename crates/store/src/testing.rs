//! Fresh databases for tests: a new SQLite file always, and a new PostgreSQL database when
//! `TEST_DATABASE_URL` names a server (for example `postgres://postgres@127.0.0.1:5432/test`).
//! Each test gets its own, so tests run in parallel.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// One fresh database; dropping it deletes the SQLite files or drops the PostgreSQL database.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(PathBuf),
    Postgres { server_url: String, name: String },
}

/// A fresh SQLite database, plus a fresh PostgreSQL one when `TEST_DATABASE_URL` is set.
pub fn fresh() -> Vec<TestDb> {
    let mut dbs = vec![fresh_sqlite()];
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => dbs.push(fresh_postgres(&url)),
        _ => eprintln!("TEST_DATABASE_URL not set: PostgreSQL cases skipped"),
    }
    dbs
}

/// Like [`fresh`] but only the URLs; the databases are left behind (prefer [`fresh`]).
pub fn fresh_urls() -> Vec<String> {
    fresh()
        .into_iter()
        .map(|mut db| {
            db.cleanup = Cleanup::SqliteDir(PathBuf::new());
            std::mem::take(&mut db.url)
        })
        .collect()
}

pub fn fresh_sqlite() -> TestDb {
    let dir = std::env::temp_dir().join(format!("gw_test_{}", unique_suffix()));
    let url = format!("sqlite://{}", dir.join("db.sqlite").display());
    TestDb { url, cleanup: Cleanup::SqliteDir(dir) }
}

/// Creates `gw_test_<random>` on the server `server_url` points at.
pub fn fresh_postgres(server_url: &str) -> TestDb {
    let name = format!("gw_test_{}", unique_suffix());
    let mut conn =
        PgConnection::establish(server_url).unwrap_or_else(|e| panic!("cannot connect to TEST_DATABASE_URL: {e}"));
    conn.batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let url = with_database(server_url, &name);
    TestDb { url, cleanup: Cleanup::Postgres { server_url: server_url.to_owned(), name } }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Best effort: a leftover database must not fail a test.
        match &self.cleanup {
            Cleanup::SqliteDir(dir) if dir.as_os_str().is_empty() => {}
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { server_url, name } => {
                if let Ok(mut conn) = PgConnection::establish(server_url) {
                    // FORCE: pools of the test may still hold connections.
                    let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// `server_url` with its database name replaced by `name`, query string kept.
fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server_url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

fn unique_suffix() -> String {
    let mut h = RandomState::new().build_hasher();
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
    let sessions: Vec<crate::session::SessionRow> = session::table.order(session::id).load(c).expect("session rows");
    let failures: Vec<(i64, String, i64)> =
        throttle_failure::table.order(throttle_failure::id).load(c).expect("throttle rows");
    let challenges: Vec<crate::challenge::ChallengeRow> =
        login_challenge::table.order(login_challenge::id).load(c).expect("challenge rows");
    format!("{auths:?}\n{admins:?}\n{users:?}\n{sessions:?}\n{failures:?}\n{challenges:?}")
}
