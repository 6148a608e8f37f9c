//! Concurrent calls that compete for one thing (an email, an account's throttle), on every
//! backend: the invariants hold and no call fails with a 500.

use crate::helpers::*;
use futures_util::future::join_all;
use gateway_store::Backend;
use rstest::rstest;
use serde_json::json;

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn racing_updates_to_one_email_let_exactly_one_through(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        let mut users = Vec::new();
        for i in 0..8 {
            users.push(user(s, &admin, &format!("u{i}@example.com"), "user-password").await);
        }
        let calls = users.iter().map(|(b, _)| b.mutation("auth.update", json!({"email": "Taken@Example.com"})));
        let replies = join_all(calls).await;
        let won: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
        assert_eq!(won.len(), 1, "{replies:?}");
        assert_eq!(won[0].data()["email"], "taken@example.com");
        for r in replies.iter().filter(|r| r.status != 200) {
            r.fails(400, "BAD_REQUEST", "Email already exists");
        }
        // The store agrees: one account has the email, the others kept theirs.
        let mut emails = Vec::new();
        for (_, id) in &users {
            let one = admin.query("auth.one", json!({ "id": id })).await;
            emails.push(one.ok()["email"].as_str().unwrap().to_owned());
        }
        assert_eq!(emails.iter().filter(|e| *e == "taken@example.com").count(), 1, "{emails:?}");
    }
    on_backend!(backend, scenario);
}

/// Failure rows recorded for one throttle key.
fn failures(s: &TestServer, key: &str) -> i64 {
    use diesel::prelude::*;
    use gateway_store::schema::throttle_failure;
    let mut conn = s.prepared.store.conn().unwrap();
    throttle_failure::table.filter(throttle_failure::key.eq(key)).count().get_result(&mut *conn).unwrap()
}

/// A burst of wrong passwords for one account, all in flight together. Each attempt is
/// counted (in one locked write with the limit check) before its password is verified, so
/// concurrent attempts cannot all pass a check that none of them is counted in yet. Asserted:
/// - every answer is 400 (a counted failure) or 429 (refused), never a 500;
/// - exactly `limit` attempts are 400, and each of them is recorded;
/// - after the burst the account is throttled: the right password answers 429, and a second
///   burst is refused entirely.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_burst_of_failed_logins_trips_the_throttle(#[case] backend: Backend) {
    const LIMIT: usize = 5;
    const BURST: usize = 20;
    async fn scenario(s: &TestServer) {
        admin(s).await;
        let id = s.browser().mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        let id = id.ok()["authId"].as_str().unwrap().to_owned();
        let wrong = json!({"email": ADMIN_EMAIL, "password": "wrong-password"});
        let burst = || {
            join_all((0..BURST).map(|_| {
                let (b, wrong) = (s.browser(), wrong.clone());
                async move { b.mutation("auth.login", wrong).await }
            }))
        };
        let replies = burst().await;
        let counted = replies.iter().filter(|r| r.status == 400).count();
        let refused = replies.iter().filter(|r| r.status == 429).count();
        assert_eq!(counted + refused, BURST, "only 400 or 429: {replies:?}");
        eprintln!("burst of {BURST}: {counted} counted (400), {refused} refused (429)");
        assert_eq!(counted, LIMIT, "failures that got through a limit of {LIMIT}");
        assert_eq!(failures(s, &format!("account:{id}")) as usize, counted, "every 400 is recorded");

        let right = s.browser().mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        right.fails(429, "TOO_MANY_REQUESTS", "");
        let again = burst().await;
        assert!(again.iter().all(|r| r.status == 429), "{again:?}");
    }
    on_backend!(backend, scenario);
}

/// Clients that give up on their logins while the password is being checked (a load test
/// stopping, a closed tab) leave nothing behind: each attempt still settles its throttle
/// place, so the next login is let straight through instead of waiting for places that no
/// one would give back.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn logins_abandoned_mid_check_leave_no_places_taken(#[case] backend: Backend) {
    if let Some(db) = fresh_database(backend) {
        let mut settings = settings(&db.url);
        settings.bcrypt_cost = 10; // long enough a check for clients to leave during it
        let s = TestServer::start_with(settings).await;
        admin(&s).await;
        let right = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
        let impatient = reqwest::Client::builder().timeout(std::time::Duration::from_millis(40)).build().unwrap();
        let url = format!("{}/api/trpc/auth.login", s.base);
        let abandoned = join_all((0..5).map(|_| impatient.post(&url).json(&json!({ "json": right })).send())).await;
        assert!(abandoned.iter().all(|r| r.as_ref().is_err_and(|e| e.is_timeout())), "{abandoned:?}");

        // Each abandoned attempt settles once its check is over: milliseconds on an idle
        // machine, much longer on a busy one (the checks run at a lower priority), so the
        // bound only says when to give up.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while places_taken(&s) != 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(places_taken(&s), 0, "places still taken by abandoned attempts");
        s.browser().mutation("auth.login", right).await.ok();
        s.stop().await;
    }
}

/// Throttle places held by attempts still being checked.
fn places_taken(s: &TestServer) -> i64 {
    use diesel::prelude::*;
    use gateway_store::schema::throttle_failure;
    let mut conn = s.prepared.store.conn().unwrap();
    throttle_failure::table.filter(throttle_failure::key.like("pending:%")).count().get_result(&mut *conn).unwrap()
}

/// Many right-password logins on one account at once: all get in (they wait for each
/// other's places), and every place is given back, exactly once, when they are done.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_burst_of_right_logins_gives_every_place_back(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        admin(s).await;
        let right = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
        for _ in 0..3 {
            let replies = join_all((0..24).map(|_| {
                let (b, right) = (s.browser(), right.clone());
                async move { b.mutation("auth.login", right).await }
            }))
            .await;
            assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");
            assert_eq!(places_taken(s), 0, "places left taken after the burst");
        }
    }
    on_backend!(backend, scenario);
}
