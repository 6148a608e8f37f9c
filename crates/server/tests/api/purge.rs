//! The store is purged while the gateway runs (every `--purge-interval-secs`, 1 s here), on
//! every backend: expired sessions and API tokens, spent or expired 2FA challenges and
//! throttle rows older than their window are deleted, at most 1,000 rows per statement;
//! what is still live stays.

use std::time::{Duration, Instant};

use crate::helpers::*;
use diesel::prelude::*;
use gateway_store::Backend;
use gateway_store::schema::{login_challenge, session, throttle_failure};
use rstest::rstest;
use serde_json::Value;

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `n` sessions of `auth_id` that expired ten seconds ago.
fn expired_sessions(s: &TestServer, auth_id: &str, n: usize) {
    let now = unix_now();
    let mut conn = s.prepared.store.conn().unwrap();
    conn.transaction::<_, diesel::result::Error, _>(|c| {
        for i in 0..n {
            diesel::insert_into(session::table)
                .values((
                    session::id.eq(format!("expired-{i}")),
                    session::auth_id.eq(auth_id),
                    session::kind.eq("session"),
                    session::expires_at.eq(now - 10),
                    session::created_at.eq("2026-01-01T00:00:00.000Z"),
                ))
                .execute(c)?;
        }
        Ok(())
    })
    .unwrap();
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn expired_spent_and_old_rows_are_purged_and_live_ones_kept(#[case] backend: Backend) {
    if let Some(db) = fresh_database(backend) {
        let mut settings = settings(&db.url);
        settings.purge_interval_secs = 1;
        let s = TestServer::start_with(settings).await;
        let admin = admin(&s).await;
        let me = admin.query("auth.get", Value::Null).await.ok()["id"].as_str().unwrap().to_owned();
        let now = unix_now();
        expired_sessions(&s, &me, 2500);
        {
            let mut conn = s.prepared.store.conn().unwrap();
            let c = &mut *conn;
            for (id, expires_at, failures) in [("expired", now - 1, 0), ("spent", now + 300, 5), ("live", now + 300, 1)]
            {
                diesel::insert_into(login_challenge::table)
                    .values((
                        login_challenge::id.eq(id),
                        login_challenge::auth_id.eq(&me),
                        login_challenge::expires_at.eq(expires_at),
                        login_challenge::failures.eq(failures),
                    ))
                    .execute(c)
                    .unwrap();
            }
            for (key, at) in [("address:old", now - 3600), ("address:recent", now - 60)] {
                diesel::insert_into(throttle_failure::table)
                    .values((throttle_failure::key.eq(key), throttle_failure::at.eq(at)))
                    .execute(c)
                    .unwrap();
            }
        }
        let counts = |s: &TestServer| {
            let mut conn = s.prepared.store.conn().unwrap();
            let c = &mut *conn;
            let sessions: i64 = session::table.count().get_result(c).unwrap();
            let challenges: Vec<String> = login_challenge::table.select(login_challenge::id).load(c).unwrap();
            let keys: Vec<String> = throttle_failure::table.select(throttle_failure::key).load(c).unwrap();
            (sessions, challenges, keys)
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (sessions, challenges, keys) = counts(&s);
            // The admin's own session (from createAdmin) is live.
            if sessions == 1 && challenges == ["live"] && keys == ["address:recent"] {
                break;
            }
            assert!(Instant::now() < deadline, "not purged: {sessions} sessions, {challenges:?}, {keys:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        admin.query("auth.get", Value::Null).await.ok();
        s.stop().await;
    }
}

/// One statement deletes at most 1,000 rows: 2,500 expired sessions go in batches of 1,000,
/// 1,000 and 500.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_purge_deletes_in_batches_of_a_thousand_rows(#[case] backend: Backend) {
    if let Some(db) = fresh_database(backend) {
        let mut settings = settings(&db.url);
        settings.purge_interval_secs = 3600; // no purge of its own while the test runs
        let s = TestServer::start_with(settings).await;
        let admin = admin(&s).await;
        let me = admin.query("auth.get", Value::Null).await.ok()["id"].as_str().unwrap().to_owned();
        expired_sessions(&s, &me, 2500);
        let service = s.prepared.service.clone();
        let purged = actix_web::rt::task::spawn_blocking(move || service.purge()).await.unwrap().unwrap();
        assert_eq!((purged.sessions, purged.largest_batch), (2500, 1000), "{purged:?}");
        admin.query("auth.get", Value::Null).await.ok();
        s.stop().await;
    }
}
