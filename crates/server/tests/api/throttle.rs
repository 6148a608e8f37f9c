//! Throttles that hold under concurrency (auth-api.md §7), on every backend:
//! - concurrent wrong logins from one address, in one batch or in parallel requests, get
//!   exactly `limit` failures through, however many accounts they name;
//! - every password check counts, `auth.update`'s current password included;
//! - IPv6 clients are counted per /64, and behind a proxy the right-most forwarded entry is
//!   the client;
//! - a stranger who fills an account's counter does not lock out its owner's known devices;
//! - on PostgreSQL, attempts on different accounts never wait on each other's locks.

use crate::helpers::*;
use futures_util::future::join_all;
use gateway_store::Backend;
use rstest::rstest;
use serde_json::{Value, json};

const LIMIT: usize = 5;

fn wrong_login(i: usize) -> Value {
    json!({"email": format!("ghost-{i}@example.com"), "password": "wrong-password"})
}

/// `(failures, refusals)`: answers that are 400 and 429; panics on anything else.
fn tally(statuses: &[u16]) -> (usize, usize) {
    assert!(statuses.iter().all(|s| *s == 400 || *s == 429), "{statuses:?}");
    (statuses.iter().filter(|s| **s == 400).count(), statuses.iter().filter(|s| **s == 429).count())
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn concurrent_wrong_logins_from_one_address_get_exactly_the_limit_through(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        admin(s).await;
        // 50 calls in one tRPC batch, each for a different unknown email.
        let n = 50;
        let paths = vec!["auth.login"; n].join(",");
        let inputs: serde_json::Map<String, Value> =
            (0..n).map(|i| (i.to_string(), json!({ "json": wrong_login(i) }))).collect();
        let r = s
            .browser()
            .raw(|c, base| c.post(format!("{base}/api/trpc/{paths}?batch=1")).json(&Value::Object(inputs)))
            .await;
        let statuses: Vec<u16> = r.body.as_array().expect("a batch answer").iter().map(item_status).collect();
        assert_eq!(tally(&statuses), (LIMIT, n - LIMIT), "batch: {statuses:?}");
        eprintln!("a batch of {n} wrong logins: {LIMIT} failures, {} refused", n - LIMIT);
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn parallel_wrong_logins_from_one_address_get_exactly_the_limit_through(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        admin(s).await;
        let n = 30;
        let replies = join_all((0..n).map(|i| {
            let b = s.browser();
            async move { b.mutation("auth.login", wrong_login(100 + i)).await.status }
        }))
        .await;
        assert_eq!(tally(&replies), (LIMIT, n - LIMIT), "{replies:?}");
        // The address is full: even the admin's right password is refused from it.
        let anyone = s.browser();
        let right = anyone.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        right.fails(429, "TOO_MANY_REQUESTS", "");
    }
    on_backend!(backend, scenario);
}

fn item_status(item: &Value) -> u16 {
    if item.get("result").is_some() {
        200
    } else {
        item["error"]["json"]["data"]["httpStatus"].as_u64().unwrap() as u16
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn wrong_current_passwords_are_throttled_like_logins(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        let (user, _) = user(s, &admin, "victim@example.com", "user-password").await;
        // 20 guesses of the current password with the user's own session, in one batch.
        let n = 20;
        let paths = vec!["auth.update"; n].join(",");
        let inputs: serde_json::Map<String, Value> = (0..n)
            .map(|i| {
                let input = json!({"password": "new-password-1", "currentPassword": format!("guess-{i}")});
                (i.to_string(), json!({ "json": input }))
            })
            .collect();
        let r =
            user.raw(|c, base| c.post(format!("{base}/api/trpc/{paths}?batch=1")).json(&Value::Object(inputs))).await;
        let statuses: Vec<u16> = r.body.as_array().unwrap().iter().map(item_status).collect();
        assert_eq!(tally(&statuses), (LIMIT, n - LIMIT), "{statuses:?}");
        // The account is full now: the right current password waits out the window too, and
        // so do logins from a stranger's browser.
        let right =
            user.mutation("auth.update", json!({"password": "new-password-1", "currentPassword": "user-password"}));
        right.await.fails(429, "TOO_MANY_REQUESTS", "");
        let stranger = s.browser();
        let login =
            stranger.mutation("auth.login", json!({"email": "victim@example.com", "password": "user-password"}));
        login.await.fails(429, "TOO_MANY_REQUESTS", "");
        // A missing current password checks nothing and counts nothing.
        let none = user.mutation("auth.update", json!({"password": "new-password-1"})).await;
        none.fails(400, "BAD_REQUEST", "Current password is incorrect");
    }
    on_backend!(backend, scenario);
}

/// A gateway behind a proxy that appends the client address to `x-forwarded-for`.
async fn behind_proxy(db: &str) -> TestServer {
    let mut settings = settings(db);
    settings.client_ip_header = Some("x-forwarded-for".into());
    TestServer::start_with(settings).await
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn ipv6_clients_count_per_64_and_the_proxys_entry_is_the_one_trusted(#[case] backend: Backend) {
    if let Some(db) = fresh_database(backend) {
        let s = behind_proxy(&db.url).await;
        admin(&s).await;
        let right = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
        // Five failures from five addresses of one /64, each with a forged entry to its left.
        for i in 0..LIMIT {
            let forwarded = format!("10.9.9.{i}, 2001:db8:1:2::{:x}", i + 1);
            let b = s.browser().with_header("x-forwarded-for", &forwarded);
            b.mutation("auth.login", wrong_login(200 + i)).await.fails(400, "BAD_REQUEST", "");
        }
        let same_64 = s.browser().with_header("x-forwarded-for", "2001:db8:1:2:ffff::1");
        same_64.mutation("auth.login", right.clone()).await.fails(429, "TOO_MANY_REQUESTS", "");
        // A forged first line does not help: the proxy's line is the last one.
        let forged = s
            .browser()
            .raw(|c, base| {
                c.post(format!("{base}/api/auth.login"))
                    .header("x-forwarded-for", "2001:db8:9:9::1")
                    .header("x-forwarded-for", "203.0.113.5, 2001:db8:1:2::77")
                    .json(&right)
            })
            .await;
        assert_eq!(forged.status, 429, "{forged:?}");
        // Another /64, or a request that did not come through the proxy, is another client.
        let other_64 = s.browser().with_header("x-forwarded-for", "2001:db8:1:3::1");
        other_64.mutation("auth.login", right.clone()).await.ok();
        s.browser().mutation("auth.login", right.clone()).await.ok();
        s.stop().await;
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_stranger_who_fills_the_account_counter_does_not_lock_out_its_owner(#[case] backend: Backend) {
    if let Some(db) = fresh_database(backend) {
        let s = behind_proxy(&db.url).await;
        admin(&s).await;
        let right = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
        let wrong = json!({"email": ADMIN_EMAIL, "password": "wrong-password"});
        // The owner signed in from this browser before: it holds a device cookie.
        let owner = s.browser().with_header("x-forwarded-for", "192.0.2.1");
        let first = owner.mutation("auth.login", right.clone()).await;
        assert!(first.set_cookie(gateway_auth::DEVICE_COOKIE).is_some(), "a device cookie on sign-in");
        owner.mutation("auth.logout", Value::Null).await.ok();

        // A stranger, from addresses of their own, fills the account's counter.
        for i in 0..LIMIT {
            let stranger = s.browser().with_header("x-forwarded-for", &format!("198.51.100.{i}"));
            stranger.mutation("auth.login", wrong.clone()).await.fails(400, "BAD_REQUEST", "");
        }
        let stranger = s.browser().with_header("x-forwarded-for", "198.51.100.99");
        stranger.mutation("auth.login", right.clone()).await.fails(429, "TOO_MANY_REQUESTS", "");
        // The owner's known device still gets in with the right password.
        owner.mutation("auth.login", right.clone()).await.ok();
        // A device has its own limit: five wrong passwords from it and it waits too.
        for _ in 0..LIMIT {
            owner.mutation("auth.login", wrong.clone()).await.fails(400, "BAD_REQUEST", "");
        }
        owner.mutation("auth.login", right.clone()).await.fails(429, "TOO_MANY_REQUESTS", "");
        // A new device of the owner's waits out the window, unless an operator unlocks the
        // account (the operator command calls this; a password reset does it too).
        let new_device = s.browser().with_header("x-forwarded-for", "192.0.2.2");
        new_device.mutation("auth.login", right.clone()).await.fails(429, "TOO_MANY_REQUESTS", "");
        s.prepared.service.unlock(ADMIN_EMAIL.into()).await.unwrap();
        new_device.mutation("auth.login", right.clone()).await.ok();
        for i in 0..LIMIT {
            let stranger = s.browser().with_header("x-forwarded-for", &format!("198.51.100.{}", 10 + i));
            stranger.mutation("auth.login", wrong.clone()).await.fails(400, "BAD_REQUEST", "");
        }
        s.prepared.service.reset_password(ADMIN_EMAIL.into(), "reset-password-1".into()).await.unwrap();
        let after_reset = s.browser().with_header("x-forwarded-for", "192.0.2.3");
        after_reset.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": "reset-password-1"})).await.ok();
        // A device cookie of another account, or a forged one, counts for nothing.
        let forged = s
            .browser()
            .with_header("x-forwarded-for", "192.0.2.4")
            .with_header("cookie", &format!("{}=00000000000000000000000000000000.0000", gateway_auth::DEVICE_COOKIE));
        for _ in 0..LIMIT {
            forged.mutation("auth.login", wrong.clone()).await.fails(400, "BAD_REQUEST", "");
        }
        let forged_right = forged.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": "reset-password-1"}));
        forged_right.await.fails(429, "TOO_MANY_REQUESTS", "");
        s.stop().await;
    }
}

/// PostgreSQL: a login whose account is locked in the store (another transaction holds its
/// throttle key) waits, while a login to another account goes straight through.
#[actix_web::test]
async fn logins_to_different_accounts_never_wait_on_each_other() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let Some(db) = fresh_database(Backend::Postgres) else { return };
    let s = TestServer::start(&db.url).await;
    let admin = admin(&s).await;
    let (_, user_id) = user(&s, &admin, "other@example.com", "user-password").await;
    let admin_id = s.browser().mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
    let admin_id = admin_id.ok()["authId"].as_str().unwrap().to_owned();
    let mut holder = PgConnection::establish(&db.url).unwrap();
    holder.batch_execute(&format!("SELECT pg_advisory_lock(hashtextextended('account:{admin_id}', 0))")).unwrap();

    let blocked = actix_web::rt::spawn({
        let b = s.browser();
        async move { b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await }
    });
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let waiting = |c: &mut PgConnection| {
        diesel::sql_query("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event = 'advisory'")
            .get_result::<Waiting>(c)
            .unwrap()
            .n
    };
    for _ in 0..600 {
        if waiting(&mut holder) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(waiting(&mut holder) > 0, "the admin's login never reached its lock");
    // Another account, from the same address: not held up.
    let b = s.browser();
    let other = b.mutation("auth.login", json!({"email": "other@example.com", "password": "user-password"})).await;
    assert_eq!(other.ok()["authId"], user_id.as_str());
    assert!(!blocked.is_finished(), "the admin's login waits for its own lock");
    holder.batch_execute("SELECT pg_advisory_unlock_all()").unwrap();
    blocked.await.unwrap().ok();
    s.stop().await;
}
