//! Every case runs on a fresh SQLite file and, when TEST_DATABASE_URL is set, on a fresh
//! PostgreSQL database.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use gateway_store::auth::{AuthChanges, NewAuth, Role};
use gateway_store::challenge::ChallengeRow;
use gateway_store::session::{NewSession, SessionKind, SessionRow};
use gateway_store::{
    ADMIN, Backend, DbConn, EMAIL, Epoch, PoolOptions, Store, StoreError, admin, auth, challenge, invitation, session,
    testing, throttle,
};

use rstest::rstest;

const NOW: &str = "2026-01-01T00:00:00.000Z";

/// Runs `f` on a store over a fresh database on `backend` (a PostgreSQL case is skipped
/// when TEST_DATABASE_URL is not set: see `testing::skip`).
fn on(backend: Backend, f: impl Fn(&Store)) {
    if let Some(db) = testing::fresh(backend) {
        f(&Store::open(&db.url, PoolOptions::default()).expect("open"));
    }
}

fn new_auth<'a>(id: &'a str, email: &'a str, rol: Role) -> NewAuth<'a> {
    NewAuth { id, email, password: "hash", rol, image: Some("/avatars/avatar-1.png"), created_at: NOW }
}

fn make_admin(conn: &mut DbConn) {
    admin::create(conn, new_auth("a1", "admin@x.io", Role::Admin), "adm1", NOW).unwrap();
}

fn make_invite(conn: &mut DbConn, n: u32, expires: &str) -> (String, String) {
    let (id, email, token) = (format!("u{n}"), format!("user{n}@x.io"), format!("tok{n}"));
    invitation::create(conn, new_auth(&id, &email, Role::User), &format!("usr{n}"), "adm1", &token, expires, NOW)
        .unwrap();
    (id, token)
}

fn session_row(id: &str, auth_id: &str, kind: SessionKind, expires_at: i64) -> NewSession {
    SessionRow { id: id.into(), auth_id: auth_id.into(), kind, expires_at, created_at: NOW.into() }.into()
}

/// Runs `f` on 8 threads released together, each with its own pooled connection.
fn race<T: Send>(store: &Store, f: impl Fn(usize, &mut DbConn) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (barrier, f) = (&barrier, &f);
                s.spawn(move || {
                    let mut conn = store.conn().unwrap();
                    barrier.wait();
                    f(i, &mut conn)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn migrations_are_idempotent(#[case] backend: Backend) {
    if let Some(db) = testing::fresh(backend) {
        let store = Store::open(&db.url, PoolOptions::default()).unwrap();
        assert_eq!(store.migrate().unwrap(), Vec::<String>::new());
        let again = Store::open(&db.url, PoolOptions::default()).unwrap();
        assert_eq!(again.migrate().unwrap(), Vec::<String>::new());
        again.ping().unwrap();
        assert_eq!(auth::count(&mut again.conn().unwrap()).unwrap(), 0);
    }
}

#[test]
fn url_schemes_pick_the_backend() {
    let db = testing::fresh_sqlite();
    let path = db.url.strip_prefix("sqlite://").unwrap().to_owned();
    for url in [db.url.clone(), format!("sqlite:{path}"), path] {
        assert_eq!(Store::open(&url, PoolOptions::default()).unwrap().backend(), Backend::Sqlite);
    }
    assert_eq!(Backend::Sqlite.to_string(), "sqlite");
    assert_eq!(Backend::Postgres.to_string(), "postgresql");
}

#[test]
fn unreachable_postgres_fails_fast() {
    let started = Instant::now();
    let opts = PoolOptions { max_size: 2, connection_timeout: Duration::from_secs(2) };
    match Store::open("postgres://postgres@127.0.0.1:1/none", opts) {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {:?}", other.map(|s| s.backend())),
    }
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn unique_email_is_reported(#[case] backend: Backend) {
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        make_admin(&mut conn);
        let err =
            invitation::create(&mut conn, new_auth("u1", "admin@x.io", Role::User), "usr1", "adm1", "t", NOW, NOW)
                .unwrap_err();
        assert!(err.is_unique(EMAIL), "{err:?}");
        // The transaction left nothing behind.
        assert!(auth::find_by_id(&mut conn, "u1").unwrap().is_none());

        make_invite(&mut conn, 2, "2030-01-01T00:00:00.000Z");
        let changes = AuthChanges { email: Some("admin@x.io".into()), ..Default::default() };
        assert!(auth::update(&mut conn, "u2", &changes).unwrap_err().is_unique(EMAIL));
        let err = invitation::create(&mut conn, new_auth("u3", "c@x.io", Role::User), "usr3", "adm1", "tok2", NOW, NOW)
            .unwrap_err();
        assert!(err.is_unique("user.token"), "{err:?}");
    });
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn one_admin_even_under_races(#[case] backend: Backend) {
    on(backend, |store| {
        let results = race(store, |i, conn| {
            let (id, email) = (format!("a{i}"), format!("admin{i}@x.io"));
            admin::create(conn, new_auth(&id, &email, Role::Admin), &format!("adm{i}"), NOW)
        });
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "{results:?}");
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(r.is_unique(ADMIN), "{r:?}");
        }
        let mut conn = store.conn().unwrap();
        assert!(admin::exists(&mut conn).unwrap());
        assert_eq!(auth::count(&mut conn).unwrap(), 1);
        let first = admin::first(&mut conn).unwrap().unwrap();
        assert_eq!(admin::find_by_auth(&mut conn, &first.auth_id).unwrap(), Some(first));
    });
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn invitation_redeems_once_under_races(#[case] backend: Backend) {
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        make_admin(&mut conn);
        let (id, token) = make_invite(&mut conn, 1, "2030-01-01T00:00:00.000Z");
        let (row, email) = invitation::find_by_token(&mut conn, &token).unwrap().unwrap();
        assert_eq!((row.auth_id.as_str(), row.is_registered, email.as_str()), (id.as_str(), false, "user1@x.io"));
        drop(conn);

        let results = race(store, |i, conn| invitation::redeem(conn, &token, &id, NOW, &format!("new{i}")).unwrap());
        assert_eq!(results.iter().filter(|r| **r).count(), 1, "{results:?}");
        let mut conn = store.conn().unwrap();
        let winner = results.iter().position(|r| *r).unwrap();
        assert_eq!(auth::find_by_id(&mut conn, &id).unwrap().unwrap().password, format!("new{winner}"));
        assert!(invitation::find_by_token(&mut conn, &token).unwrap().unwrap().0.is_registered);

        // Expired, or for another account: refused.
        let (id2, token2) = make_invite(&mut conn, 2, "2025-12-31T23:59:59.999Z");
        assert!(!invitation::redeem(&mut conn, &token2, &id2, NOW, "x").unwrap());
        let (_, token3) = make_invite(&mut conn, 3, "2030-01-01T00:00:00.000Z");
        assert!(!invitation::redeem(&mut conn, &token3, &id2, NOW, "x").unwrap());
    });
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn api_token_replacement_leaves_one_token_under_races(#[case] backend: Backend) {
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        make_admin(&mut conn);
        session::insert(&mut conn, &session_row("cookie", "a1", SessionKind::Session, 100)).unwrap();
        drop(conn);

        let results = race(store, |i, conn| {
            let row = session_row(&format!("api{i}"), "a1", SessionKind::ApiToken, 200);
            session::replace_api_token(conn, "a1", &row, &format!("token-api{i}")).unwrap().unwrap()
        });
        for (i, auth) in results.iter().enumerate() {
            assert_eq!(auth.token.as_deref(), Some(format!("token-api{i}").as_str()));
        }
        let mut conn = store.conn().unwrap();
        let token = auth::find_by_id(&mut conn, "a1").unwrap().unwrap().token.unwrap();
        let survivors: Vec<_> = (0..8).filter_map(|i| session::find(&mut conn, &format!("api{i}")).unwrap()).collect();
        assert_eq!(survivors.len(), 1, "{survivors:?}");
        assert_eq!(token, format!("token-{}", survivors[0].id));
        assert!(session::find(&mut conn, "cookie").unwrap().is_some());

        let row = session_row("x", "nobody", SessionKind::ApiToken, 200);
        assert_eq!(session::replace_api_token(&mut conn, "nobody", &row, "t").unwrap(), None);
    });
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn totp_step_is_accepted_once(#[case] backend: Backend) {
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        make_admin(&mut conn);
        assert!(auth::accept_totp_step(&mut conn, "a1", 1000).unwrap());
        assert!(!auth::accept_totp_step(&mut conn, "a1", 1000).unwrap());
        assert!(!auth::accept_totp_step(&mut conn, "a1", 999).unwrap());
        assert!(auth::accept_totp_step(&mut conn, "a1", 1001).unwrap());
        assert!(!auth::accept_totp_step(&mut conn, "nobody", 5).unwrap());
        assert_eq!(auth::find_by_id(&mut conn, "a1").unwrap().unwrap().totp_last_step, Some(1001));
    });
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn auth_updates(#[case] backend: Backend) {
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        make_admin(&mut conn);
        let changes = AuthChanges { secret: Some(Some("S".into())), is_2fa_enabled: Some(true), ..Default::default() };
        let row = auth::update(&mut conn, "a1", &changes).unwrap().unwrap();
        assert_eq!((row.secret.as_deref(), row.is_2fa_enabled, row.email.as_str()), (Some("S"), true, "admin@x.io"));
        let clear = AuthChanges { secret: Some(None), ..Default::default() };
        assert_eq!(auth::update(&mut conn, "a1", &clear).unwrap().unwrap().secret, None);
        assert_eq!(auth::update(&mut conn, "a1", &AuthChanges::default()).unwrap().unwrap().id, "a1");
        assert_eq!(auth::update(&mut conn, "nobody", &changes).unwrap(), None);
        assert_eq!(
            auth::find_by_email(&mut conn, "admin@x.io").unwrap().unwrap().image.as_deref(),
            Some("/avatars/avatar-1.png")
        );
        let none = NewAuth { image: None, ..new_auth("u9", "n@x.io", Role::User) };
        invitation::create(&mut conn, none, "usr9", "adm1", "t9", NOW, NOW).unwrap();
        assert_eq!(auth::find_by_id(&mut conn, "u9").unwrap().unwrap().image, None);
    });
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn sessions(#[case] backend: Backend) {
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        make_admin(&mut conn);
        for (id, kind, exp) in
            [("s1", SessionKind::Session, 100), ("s2", SessionKind::Session, 200), ("t1", SessionKind::ApiToken, 300)]
        {
            session::insert(&mut conn, &session_row(id, "a1", kind, exp)).unwrap();
        }
        let (s, a, _, _) = session::find_with_auth(&mut conn, "s1").unwrap().unwrap();
        assert_eq!((s.expires_at, a.id.as_str()), (100, "a1"));
        assert_eq!(session::find_with_auth(&mut conn, "nope").unwrap(), None);
        assert!(session::extend(&mut conn, "s1", 150).unwrap());
        assert!(!session::extend(&mut conn, "nope", 150).unwrap());
        assert_eq!(session::find(&mut conn, "s1").unwrap().unwrap().expires_at, 150);
        assert_eq!(session::delete_expired(&mut conn, 150, 1000).unwrap(), 1);
        // A new password keeps only the given session: the API token goes, and so do the
        // pending 2FA challenges.
        let challenge = ChallengeRow { id: "c1".into(), auth_id: "a1".into(), expires_at: 500, failures: 0 };
        challenge::insert(&mut conn, &challenge).unwrap();
        let new_password = AuthChanges { password: Some("new hash".into()), token: Some(None), ..Default::default() };
        auth::update_revoking(&mut conn, "a1", &new_password, Some("s2")).unwrap().unwrap();
        assert!(session::find(&mut conn, "t1").unwrap().is_none());
        assert!(session::find(&mut conn, "s2").unwrap().is_some());
        assert_eq!(challenge::find(&mut conn, "c1").unwrap(), None);
        assert!(session::delete(&mut conn, "s2").unwrap());
        assert!(!session::delete(&mut conn, "s2").unwrap());
        let dup = session::insert(&mut conn, &session_row("d", "a1", SessionKind::Session, 1))
            .and_then(|_| session::insert(&mut conn, &session_row("d", "a1", SessionKind::Session, 1)));
        assert!(dup.unwrap_err().is_unique("session.id"));
        // Foreign keys are on: no session for a missing account.
        assert!(matches!(
            session::insert(&mut conn, &session_row("z", "nobody", SessionKind::Session, 1)),
            Err(StoreError::Database(_))
        ));
    });
}

fn take(c: &mut DbConn, keys: &[&str], now: i64) -> throttle::Taken {
    // Limit 3 in a 900 s window; places count for 60 s.
    throttle::take_places(c, keys, now - 900, now - 60, now, 3, 900).unwrap()
}

fn places(taken: throttle::Taken) -> Vec<throttle::Place> {
    match taken {
        throttle::Taken::Places(p) => p,
        other => panic!("no places: {other:?}"),
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn throttle_places_count_on_every_key_of_an_attempt(#[case] backend: Backend) {
    use throttle::Taken;
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        let c = &mut *conn;
        // Three attempts in flight fill account a and address 1.
        let held: Vec<_> = (0..3).map(|i| places(take(c, &["acct:a", "ip:1"], 1000 + i))).collect();
        assert_eq!(held[0].len(), 2, "one place per key");
        assert_eq!(take(c, &["acct:a", "ip:2"], 1003), Taken::Busy, "the account is full of places");
        assert_eq!(take(c, &["acct:b", "ip:1"], 1003), Taken::Busy, "so is the address");
        places(take(c, &["acct:b", "ip:2"], 1003));
        // Given back, a place is free again; failed, it stays counted as a failure.
        throttle::release(c, &held[0]).unwrap();
        let again = places(take(c, &["acct:a", "ip:3"], 1004));
        throttle::release(c, &again).unwrap();
        throttle::failed(c, &held[1], 1005).unwrap();
        throttle::failed(c, &held[2], 1006).unwrap();
        assert_eq!(throttle::failures(c, "acct:a", 0).unwrap(), 2);
        assert_eq!(throttle::failures(c, "ip:1", 0).unwrap(), 2);
        let last = places(take(c, &["acct:z", "ip:1"], 1007));
        throttle::failed(c, &last, 1007).unwrap();
        // The address is full of failures: refused until the oldest leaves the window.
        assert_eq!(take(c, &["acct:y", "ip:1"], 1008), Taken::Full { until: 1005 + 900 });
        places(take(c, &["acct:y", "ip:1"], 1005 + 901));
        // A place older than 60 s (its process died) no longer holds anything back.
        let stale = places(take(c, &["acct:s", "ip:9"], 2000));
        let _ = (places(take(c, &["acct:s", "ip:9"], 2000)), places(take(c, &["acct:s", "ip:9"], 2000)));
        assert_eq!(take(c, &["acct:s", "ip:9"], 2001), Taken::Busy);
        places(take(c, &["acct:s", "ip:9"], 2061));
        // A failure whose place expired and was pruned is still recorded.
        assert!(throttle::prune(c, 2001, 1000).unwrap() > 0);
        throttle::failed(c, &stale, 2062).unwrap();
        assert_eq!(throttle::failures(c, "acct:s", 2062).unwrap(), 1);
        assert_eq!(throttle::reset(c, "acct:s").unwrap(), 1);
        assert_eq!(throttle::failures(c, "acct:s", 0).unwrap(), 0);
    });
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn pruning_goes_in_bounded_batches(#[case] backend: Backend) {
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        let c = &mut *conn;
        for i in 0..25 {
            let p = places(take(c, &[&format!("acct:{i}"), &format!("ip:{i}")], 100));
            throttle::failed(c, &p, 100).unwrap();
        }
        assert_eq!(throttle::prune(c, 101, 20).unwrap(), 20);
        assert_eq!(throttle::prune(c, 101, 20).unwrap(), 20);
        assert_eq!(throttle::prune(c, 101, 20).unwrap(), 10);
        assert_eq!(throttle::prune(c, 101, 20).unwrap(), 0);
    });
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn challenges(#[case] backend: Backend) {
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        make_admin(&mut conn);
        let row = ChallengeRow { id: "c1".into(), auth_id: "a1".into(), expires_at: 500, failures: 0 };
        challenge::insert(&mut conn, &row).unwrap();
        assert_eq!(challenge::find(&mut conn, "c1").unwrap(), Some(row));
        assert_eq!(challenge::add_failure(&mut conn, "c1").unwrap(), 1);
        assert_eq!(challenge::add_failure(&mut conn, "c1").unwrap(), 2);
        assert!(matches!(challenge::add_failure(&mut conn, "nope"), Err(StoreError::NotFound)));
        assert!(challenge::delete(&mut conn, "c1").unwrap());
        assert_eq!(challenge::find(&mut conn, "c1").unwrap(), None);
    });
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn disabling_2fa_ends_browser_sessions_and_challenges_and_keeps_the_api_token(#[case] backend: Backend) {
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        make_admin(&mut conn);
        let on = AuthChanges { secret: Some(Some("S".into())), is_2fa_enabled: Some(true), ..Default::default() };
        auth::update(&mut conn, "a1", &on).unwrap();
        assert!(auth::accept_totp_step(&mut conn, "a1", 7).unwrap());
        session::insert(&mut conn, &session_row("browser", "a1", SessionKind::Session, 4_000_000_000)).unwrap();
        session::insert(&mut conn, &session_row("script", "a1", SessionKind::ApiToken, 4_000_000_000)).unwrap();
        let challenge = ChallengeRow { id: "c1".into(), auth_id: "a1".into(), expires_at: 4_000_000_000, failures: 0 };
        challenge::insert(&mut conn, &challenge).unwrap();

        assert!(session::disable_2fa_ending_browser_sessions(&mut conn, "a1").unwrap());
        let row = auth::find_by_id(&mut conn, "a1").unwrap().unwrap();
        assert_eq!((row.secret, row.is_2fa_enabled, row.totp_last_step), (None, false, None));
        assert_eq!(session::find(&mut conn, "browser").unwrap(), None);
        assert!(session::find(&mut conn, "script").unwrap().is_some());
        assert_eq!(challenge::find(&mut conn, "c1").unwrap(), None);
        assert!(!session::disable_2fa_ending_browser_sessions(&mut conn, "nobody").unwrap());
    });
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn deleting_an_account_cascades(#[case] backend: Backend) {
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        make_admin(&mut conn);
        let (uid, token) = make_invite(&mut conn, 1, "2030-01-01T00:00:00.000Z");
        session::insert(&mut conn, &session_row("s1", &uid, SessionKind::Session, 1)).unwrap();
        session::insert(&mut conn, &session_row("s2", "a1", SessionKind::Session, 1)).unwrap();
        let row = ChallengeRow { id: "c1".into(), auth_id: uid.clone(), expires_at: 1, failures: 0 };
        challenge::insert(&mut conn, &row).unwrap();

        assert!(auth::delete(&mut conn, &uid).unwrap());
        assert_eq!(session::find(&mut conn, "s1").unwrap(), None);
        assert_eq!(challenge::find(&mut conn, "c1").unwrap(), None);
        assert_eq!(invitation::find_by_token(&mut conn, &token).unwrap(), None);

        // The admin's deletion takes its invitations (and their accounts' rows) along.
        let (_, token2) = make_invite(&mut conn, 2, "2030-01-01T00:00:00.000Z");
        assert!(auth::delete(&mut conn, "a1").unwrap());
        assert!(!admin::exists(&mut conn).unwrap());
        assert_eq!(session::find(&mut conn, "s2").unwrap(), None);
        assert_eq!(invitation::find_by_token(&mut conn, &token2).unwrap(), None);
    });
}

/// Waits (up to 5 s) until `store` knows an epoch that `pred` accepts; returns it.
fn epoch_where(store: &Store, pred: impl Fn(Epoch) -> bool) -> Epoch {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match store.auth_epoch() {
            Some(e) if pred(e) => return e,
            seen => assert!(Instant::now() < deadline, "epoch still {seen:?}"),
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The auth epoch moves when a session or an account is changed or deleted, by this store or
/// by another process on the same database, and stays put for inserts and for statements
/// that change nothing. Its values never repeat (at least the time in microseconds). A
/// session read with it carries the epoch it was read at. When the store goes back (a
/// restore), the epoch or the count of sessions added is lower than known: a new era begins.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn the_auth_epoch_follows_changes_from_every_process(#[case] backend: Backend) {
    if let Some(db) = testing::fresh(backend) {
        let store = &Store::open(&db.url, PoolOptions::default()).unwrap();
        assert_eq!(store.auth_epoch(), None, "unknown until followed");
        store.follow_auth_epoch();
        let mut conn = store.conn().unwrap();
        make_admin(&mut conn);
        session::insert(&mut conn, &session_row("s1", "a1", SessionKind::Session, 4_000_000_000)).unwrap();
        drop(conn);
        let start = epoch_where(store, |_| true);
        let now_us = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
        assert!(start.n > now_us - 600_000_000, "a time in microseconds: {start:?}");
        assert!(
            store.run(|c| session::insert(c, &session_row("s2", "a1", SessionKind::Session, 4_000_000_000))).is_ok()
        );
        assert_eq!(store.auth_epoch(), Some(start), "inserts leave it alone");
        let (_, _, _, read_at) = store.run(|c| session::find_with_auth(c, "s1")).unwrap().unwrap();
        assert_eq!(read_at, Some(start.n));

        // Changes nothing: no move.
        assert!(!store.run(|c| session::delete(c, "missing")).unwrap());
        assert_eq!(store.auth_epoch(), Some(start));

        // This store's own change is known as soon as the call returns.
        assert!(store.run(|c| session::extend(c, "s1", 4_000_000_001)).unwrap());
        let moved = store.auth_epoch().unwrap();
        assert!(moved.n > start.n, "{moved:?} after {start:?}");

        // Another process's change (a second store on the same database) is seen shortly.
        let other = Store::open(&db.url, PoolOptions::default()).unwrap();
        assert!(other.run(|c| session::delete(c, "s2")).unwrap());
        let after_other = epoch_where(store, |e| e.n > moved.n);
        let image = AuthChanges { image: Some("/avatars/avatar-2.png".into()), ..Default::default() };
        other.run(|c| auth::update(c, "a1", &image)).unwrap();
        let after_update = epoch_where(store, |e| e.n > after_other.n);

        // TRUNCATE (PostgreSQL), or a DELETE of every row (SQLite), moves it too.
        let mut raw = other.conn().unwrap();
        let wipe = match store.backend() {
            // CASCADE: session_activity refers to it.
            Backend::Postgres => "TRUNCATE session CASCADE",
            Backend::Sqlite => "DELETE FROM session",
        };
        diesel::connection::SimpleConnection::batch_execute(&mut *raw, wipe).unwrap();
        let truncated = epoch_where(store, |e| e.n > after_update.n);

        // The store goes back (a backup restored under the running process): a new era
        // begins, so nothing cached at the old values can match again. Whether the epoch
        // went back, or only the sessions added since the backup were lost.
        diesel::connection::SimpleConnection::batch_execute(&mut *raw, "UPDATE auth_epoch SET n = 5").unwrap();
        let restored = epoch_where(store, |e| e.era > truncated.era);
        assert_eq!(restored.n, 5);
        store.run(|c| session::insert(c, &session_row("s3", "a1", SessionKind::Session, 4_000_000_000))).unwrap();
        diesel::connection::SimpleConnection::batch_execute(&mut *raw, "UPDATE auth_epoch SET added = 0").unwrap();
        let restored_again = epoch_where(store, |e| e.era > restored.era);
        assert_eq!(restored_again.n, 5, "{restored_again:?}");
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn password_costs_are_counted_per_cost(#[case] backend: Backend) {
    on(backend, |store| {
        let mut conn = store.conn().unwrap();
        make_admin(&mut conn);
        let hash = "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234";
        let changes = AuthChanges { password: Some(hash.into()), ..Default::default() };
        auth::update(&mut conn, "a1", &changes).unwrap();
        make_invite(&mut conn, 1, NOW);
        make_invite(&mut conn, 2, NOW);
        let mut costs = auth::password_costs(&mut conn).unwrap();
        costs.sort();
        // The invitations' accounts hold the placeholder "hash" of `new_auth`.
        assert_eq!(costs, [("".to_owned(), 2), ("12".to_owned(), 1)]);
        assert!(auth::rehash_password(&mut conn, "a1", hash, "new").unwrap());
        assert!(!auth::rehash_password(&mut conn, "a1", "not the stored one", "newer").unwrap());
    });
}

/// A recorded use is a row of its own: writing it moves no auth epoch (cached sessions stay
/// valid), it is never recorded for a session that is gone, and it goes with its session.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn a_recorded_use_moves_no_epoch_and_goes_with_its_session(#[case] backend: Backend) {
    if let Some(db) = testing::fresh(backend) {
        let store = &Store::open(&db.url, PoolOptions::default()).unwrap();
        store.follow_auth_epoch();
        store
            .run(|c| {
                make_admin(c);
                session::insert(c, &session_row("s1", "a1", SessionKind::Session, 4_000_000_000))
            })
            .unwrap();
        let start = epoch_where(store, |_| true);
        let last_used = |id: &'static str| store.run(move |c| session::find_with_auth(c, id)).unwrap().unwrap().2;
        assert_eq!(last_used("s1"), None);
        store.run(|c| session::touch(c, "s1", 100)).unwrap();
        assert_eq!(last_used("s1"), Some(100));
        store.run(|c| session::touch(c, "s1", 200)).unwrap();
        assert_eq!(last_used("s1"), Some(200));
        assert_eq!(store.auth_epoch(), Some(start), "recording a use is no change to a session");

        let activity = || {
            use diesel::prelude::*;
            use gateway_store::schema::session_activity;
            store.run(|c| Ok(session_activity::table.count().get_result::<i64>(c)?)).unwrap()
        };
        store.run(|c| session::touch(c, "gone", 300)).unwrap();
        assert_eq!(activity(), 1, "nothing recorded for a session that does not exist");
        assert!(store.run(|c| session::delete(c, "s1")).unwrap());
        assert_eq!(activity(), 0, "a session's use goes with it");
    }
}

/// The snapshot the API tests compare to show that a call changed nothing holds every table
/// the database has: it reads them from the catalog, so it finds each table of the schema,
/// the auth epoch and the migrations' own, and one added later; a change to any of them shows.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn the_snapshot_holds_every_table_the_database_has(#[case] backend: Backend) {
    use diesel::connection::SimpleConnection;
    on(backend, |store| {
        let tables = |snapshot: &str| {
            let mut names: Vec<String> =
                snapshot.lines().map(|l| l.split_once(": ").expect("`table: rows`").0.to_owned()).collect();
            names.sort();
            names
        };
        let before = testing::snapshot(store);
        let schema = [
            "__diesel_schema_migrations",
            "admin",
            "auth",
            "auth_epoch",
            "backup_code",
            "login_challenge",
            "session",
            "session_activity",
            "throttle_failure",
            "user",
        ];
        assert_eq!(tables(&before), schema, "{before}");
        assert_eq!(testing::snapshot(store), before, "two snapshots of an unchanged store are equal");

        let mut conn = store.conn().unwrap();
        conn.batch_execute("UPDATE auth_epoch SET n = n + 1").unwrap();
        let moved = testing::snapshot(store);
        assert_ne!(moved, before, "the auth epoch is in the snapshot");
        conn.batch_execute("CREATE TABLE later (it TEXT); INSERT INTO later VALUES ('a-later-row')").unwrap();
        let later = testing::snapshot(store);
        assert!(tables(&later).contains(&"later".to_owned()), "{later}");
        assert!(later.contains("a-later-row"), "{later}");
    });
}
