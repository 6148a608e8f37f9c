//! Importing a Dokploy installation: a real Dokploy schema (its own migrations, in
//! `tests/fixtures/dokploy/`), filled the way Dokploy fills it, imported into both backends.
//! Then the old credentials keep working, and are revoked like the gateway's own.

use crate::helpers::*;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use gateway_auth::{ImportReport, RootKey, import_dokploy};
use gateway_store::Backend;
use gateway_store::testing::{TestDb, fresh_postgres, postgres_server, snapshot};
use rstest::rstest;
use serde_json::{Value, json};

pub const ADMIN_ID: &str = "Vx3kQ9aZ0mN1bC2dE3fGh";
pub const USER_ID: &str = "Lp8sT7uV6wX5yZ4aB3cD2";
pub const TOTP_ID: &str = "Qr1sT2uV3wX4yZ5aB6cD7";
pub const LONG_ID: &str = "Mn0bV9cX8zL7kJ6hG5fD4";
pub const INVITED_ID: &str = "Ab1cD2eF3gH4iJ5kL6mN7";
pub const LATE_ID: &str = "Zy9xW8vU7tS6rQ5pO4nM3";
pub const CASE_A: &str = "Cs1aaaaaaaaaaaaaaaaaa";
pub const CASE_B: &str = "Cs2bbbbbbbbbbbbbbbbbb";

pub const ADMIN_PASSWORD_OLD: &str = "dokploy-admin-1";
pub const USER_PASSWORD_OLD: &str = "dokploy-user-1";
/// 80 bytes: Dokploy's bcrypt kept the first 72.
pub const LONG_PASSWORD: &str = "correct horse battery staple, correct horse battery staple, and then some more!!";
/// What Dokploy gives an invited account until the invitation is used.
pub const INVITATION_PLACEHOLDER: &str = "01231203012312";
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DP";
/// Lucia ids: 40 lowercase base32 characters.
pub const LIVE_SESSION: &str = "hx2fqlbm4r6jzsn3wl7qvcoq5hxyd3mpkfk6t7ab";
/// The same user's session in another browser.
pub const SECOND_SESSION: &str = "m4n5o6p7q2r3s4t5u6v7w2x3y4z5a6b7c2d3e4f5";
pub const EXPIRED_SESSION: &str = "a3b4c5d6e7f2g3h4i5j6k7l2m3n4o5p6q7r2s3t4";
pub const API_TOKEN: &str = "zq4m7n2k5j6h3g2f7d4s5a6p7o2i3u4y5t6r7e2w";
pub const INVITATION: &str = "5f1d3c2b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00a";
pub const LATE_INVITATION: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// A fresh PostgreSQL database holding Dokploy's schema, filled as Dokploy fills it.
/// `None` without TEST_DATABASE_URL (a skip, or a failure under CI).
pub fn dokploy_database(with_collision: bool) -> Option<TestDb> {
    let server = postgres_server()?;
    let db = fresh_postgres(&server);
    let mut conn = PgConnection::establish(&db.url).unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/dokploy/drizzle");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() > 50, "Dokploy's migrations are in {dir}");
    for file in files {
        conn.batch_execute(&std::fs::read_to_string(&file).unwrap()).unwrap_or_else(|e| panic!("{file:?}: {e}"));
    }
    // Node's bcryptjs writes $2a$ (the client tests use its hashes at cost 10).
    let hash = |p: &[u8]| bcrypt::hash_with_result(p, 4).unwrap().format_for_version(bcrypt::Version::TwoA);
    let (admin, user, long) = (
        hash(ADMIN_PASSWORD_OLD.as_bytes()),
        hash(USER_PASSWORD_OLD.as_bytes()),
        hash(&LONG_PASSWORD.as_bytes()[..72]),
    );
    let placeholder = hash(INVITATION_PLACEHOLDER.as_bytes());
    let day = "now() + interval '1 day'";
    let utc_day = "(now() at time zone 'utc') + interval '1 day'";
    let mut sql = format!(
        r#"
        INSERT INTO auth (id, email, password, rol, image, "createdAt", token) VALUES
          ('{ADMIN_ID}', 'admin@dokploy.test', '{admin}', 'admin', '/avatars/avatar-3.png', '2024-06-01T10:00:00.000Z', '{API_TOKEN}');
        INSERT INTO admin ("adminId", "authId", "createdAt") VALUES ('admin-1', '{ADMIN_ID}', '2024-06-01T10:00:00.000Z');
        INSERT INTO auth (id, email, password, rol, "createdAt", secret, "is2FAEnabled") VALUES
          ('{USER_ID}', 'user@dokploy.test', '{user}', 'user', '2024-06-02T10:00:00.000Z', NULL, false),
          ('{TOTP_ID}', 'totp@dokploy.test', '{user}', 'user', '2024-06-03T10:00:00.000Z', '{TOTP_SECRET}', true),
          ('{LONG_ID}', 'long@dokploy.test', '{long}', 'user', '2024-06-04T10:00:00.000Z', NULL, false),
          ('{INVITED_ID}', 'invited@dokploy.test', '{placeholder}', 'user', '2024-06-05T10:00:00.000Z', NULL, false),
          ('{LATE_ID}', 'late@dokploy.test', '{placeholder}', 'user', '2024-06-06T10:00:00.000Z', NULL, false);
        INSERT INTO "user" ("userId", token, "isRegistered", "expirationDate", "createdAt", "adminId", "authId") VALUES
          ('u-user', 'used-token-1', true, {utc_day}, '2024-06-02T10:00:00.000Z', 'admin-1', '{USER_ID}'),
          ('u-totp', 'used-token-2', true, {utc_day}, '2024-06-03T10:00:00.000Z', 'admin-1', '{TOTP_ID}'),
          ('u-long', 'used-token-3', true, {utc_day}, '2024-06-04T10:00:00.000Z', 'admin-1', '{LONG_ID}'),
          ('u-invited', '{INVITATION}', false, {utc_day}, '2024-06-05T10:00:00.000Z', 'admin-1', '{INVITED_ID}'),
          ('u-late', '{LATE_INVITATION}', false, (now() at time zone 'utc') - interval '1 day', '2024-06-06T10:00:00.000Z', 'admin-1', '{LATE_ID}');
        INSERT INTO session (id, user_id, expires_at) VALUES
          ('{LIVE_SESSION}', '{USER_ID}', {day}),
          ('{SECOND_SESSION}', '{USER_ID}', {day}),
          ('{EXPIRED_SESSION}', '{USER_ID}', now() - interval '1 hour'),
          ('{API_TOKEN}', '{ADMIN_ID}', now() + interval '365 days');
        "#
    );
    if with_collision {
        sql.push_str(&format!(
            r#"INSERT INTO auth (id, email, password, rol, "createdAt") VALUES
                 ('{CASE_A}', 'Case@dokploy.test', '{user}', 'user', '2024-06-07T10:00:00.000Z'),
                 ('{CASE_B}', 'case@dokploy.test', '{user}', 'user', '2024-06-08T10:00:00.000Z');"#
        ));
    }
    conn.batch_execute(&sql).unwrap();
    Some(db)
}

/// Resolves the collision the way an operator would: one of the two accounts goes.
pub fn fix_collision(db: &TestDb) {
    let mut conn = PgConnection::establish(&db.url).unwrap();
    conn.batch_execute(&format!("DELETE FROM auth WHERE id = '{CASE_B}'")).unwrap();
}

fn import(s: &TestServer, source: &TestDb, dry_run: bool) -> ImportReport {
    let (key, _) = RootKey::load_or_create(&s.settings.root_key_file()).unwrap();
    import_dokploy(&s.prepared.store, &key, &source.url, 4, dry_run).unwrap()
}

/// Runs `scenario` on a fresh gateway on `backend` with a Dokploy database beside it.
macro_rules! with_dokploy {
    ($backend:expr, $collision:expr, $scenario:ident) => {
        if let Some(source) = dokploy_database($collision)
            && let Some(db) = fresh_database($backend)
        {
            let server = TestServer::start(&db.url).await;
            $scenario(&server, &source).await;
            server.stop().await;
        }
    };
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn the_import_is_all_or_nothing_refuses_case_collisions_and_runs_once(#[case] backend: Backend) {
    async fn scenario(s: &TestServer, source: &TestDb) {
        let empty = snapshot(&s.prepared.store);
        let refused = import(s, source, false);
        assert!(refused.refused());
        assert_eq!(refused.collisions, vec![vec![CASE_A.to_owned(), CASE_B.to_owned()]]);
        let text = refused.to_string();
        assert!(text.contains(CASE_A) && text.contains(CASE_B) && text.contains("Nothing was imported"), "{text}");
        assert_eq!(snapshot(&s.prepared.store), empty, "nothing written while emails collide");

        fix_collision(source);
        let dry = import(s, source, true);
        assert!(!dry.refused());
        assert!(dry.to_string().contains("Would import: 7 accounts"), "{dry}");
        assert_eq!(snapshot(&s.prepared.store), empty, "a dry run writes nothing");

        let done = import(s, source, false);
        let (found, written) = (&done.found, done.written.clone().unwrap());
        assert_eq!((found.accounts, found.admins, found.with_2fa), (7, 1, 1));
        assert_eq!((found.pending_invitations, found.expired_invitations), (2, 1));
        assert_eq!((found.sessions, found.api_tokens, found.expired_sessions), (2, 1, 1));
        assert_eq!((written.accounts, written.admins, written.invitations), (7, 1, 5));
        assert_eq!((written.sessions, written.api_tokens, written.already_present), (2, 1, 0));
        let text = done.to_string();
        for secret in [API_TOKEN, LIVE_SESSION, TOTP_SECRET, INVITATION, ADMIN_PASSWORD_OLD, "$2a$"] {
            assert!(!text.contains(secret), "the report shows nothing secret: {text}");
        }
        let rows = snapshot(&s.prepared.store);
        for secret in [API_TOKEN, LIVE_SESSION, EXPIRED_SESSION, TOTP_SECRET, INVITATION] {
            assert!(!rows.contains(secret), "stored sealed or hashed, never as it is");
        }

        // Another root key than the store's is refused: what it sealed could not be opened.
        let other = import_dokploy(&s.prepared.store, &RootKey::generate(), &source.url, 4, false);
        assert!(other.unwrap_err().contains("root key"));

        let again = import(s, source, false);
        assert_eq!(again.written.as_ref().map(|w| (w.accounts, w.already_present)), Some((0, 7)));
        assert!(again.to_string().contains("Nothing to do"), "{again}");
        assert_eq!(snapshot(&s.prepared.store), rows, "a second run changes nothing");
    }
    with_dokploy!(backend, true, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn an_admin_already_in_the_gateway_refuses_the_import(#[case] backend: Backend) {
    async fn scenario(s: &TestServer, source: &TestDb) {
        admin(s).await;
        let before = snapshot(&s.prepared.store);
        let report = import(s, source, false);
        assert!(report.refused());
        assert_eq!(report.written.as_ref().and_then(|w| w.admin_taken.clone()).as_deref(), Some(ADMIN_ID));
        assert_eq!(snapshot(&s.prepared.store), before);
    }
    with_dokploy!(backend, false, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn rows_the_gateway_cannot_serve_refuse_the_import_before_anything_is_written(#[case] backend: Backend) {
    async fn scenario(s: &TestServer, source: &TestDb) {
        let empty = snapshot(&s.prepared.store);
        let mut conn = PgConnection::establish(&source.url).unwrap();
        // A second account with the admin role but no admin row would be a second admin.
        conn.batch_execute(&format!("UPDATE auth SET rol = 'admin' WHERE id = '{USER_ID}'")).unwrap();
        let (key, _) = RootKey::load_or_create(&s.settings.root_key_file()).unwrap();
        let refused = import_dokploy(&s.prepared.store, &key, &source.url, 4, false).unwrap_err();
        assert!(refused.contains(USER_ID) && refused.contains("role"), "{refused}");
        conn.batch_execute(&format!("UPDATE auth SET rol = 'user' WHERE id = '{USER_ID}'")).unwrap();
        // A TOTP secret that is not base32 would lock its user out.
        conn.batch_execute(&format!("UPDATE auth SET secret = 'not base32!' WHERE id = '{TOTP_ID}'")).unwrap();
        let refused = import_dokploy(&s.prepared.store, &key, &source.url, 4, false).unwrap_err();
        assert!(refused.contains(TOTP_ID) && refused.contains("base32"), "{refused}");
        assert_eq!(snapshot(&s.prepared.store), empty);
    }
    with_dokploy!(backend, false, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn old_passwords_2fa_and_invitations_keep_working(#[case] backend: Backend) {
    async fn scenario(s: &TestServer, source: &TestDb) {
        assert!(!import(s, source, false).refused());
        let login = |email: &str, password: &str| {
            let b = s.browser();
            let body = json!({"email": email, "password": password});
            async move { (b.mutation("auth.login", body).await, b) }
        };
        assert_eq!(login("admin@dokploy.test", ADMIN_PASSWORD_OLD).await.0.ok()["authId"], ADMIN_ID);
        assert_eq!(login("user@dokploy.test", USER_PASSWORD_OLD).await.0.ok()["authId"], USER_ID);

        // Over 72 bytes: the old truncating check once, then the password counts in full.
        let stored = |id: &str| {
            let id = id.to_owned();
            s.prepared.store.run(|c| gateway_store::auth::find_by_id(c, &id)).unwrap().unwrap().password
        };
        let before = stored(LONG_ID);
        let same_start = format!("{}, but another ending", &LONG_PASSWORD[..72]);
        assert_eq!(login("long@dokploy.test", LONG_PASSWORD).await.0.ok()["authId"], LONG_ID);
        assert_ne!(stored(LONG_ID), before, "rehashed at that login");
        login("long@dokploy.test", &same_start).await.0.fails(400, "BAD_REQUEST", "Credentials do not match");
        assert_eq!(login("long@dokploy.test", LONG_PASSWORD).await.0.ok()["authId"], LONG_ID);

        // The imported TOTP secret gives the codes the authenticator app already shows.
        let (r, b) = login("totp@dokploy.test", USER_PASSWORD_OLD).await;
        assert_eq!(r.ok()["is2FAEnabled"], true);
        let ok = b.mutation("auth.verifyLogin2FA", json!({"pin": pin(TOTP_SECRET, step_now()), "id": TOTP_ID})).await;
        assert_eq!(ok.ok(), &json!(true));
        assert_eq!(b.query("auth.get", Value::Null).await.ok()["is2FAEnabled"], true);

        // Dokploy's placeholder password of an invited account does not log in; the
        // invitation registers, once; the expired one is shown as expired.
        login("invited@dokploy.test", INVITATION_PLACEHOLDER).await.0.fails(400, "BAD_REQUEST", "");
        let view = s.browser().query("admin.getUserByToken", json!({"token": INVITATION})).await;
        assert_eq!((&view.ok()["authId"], &view.ok()["isExpired"]), (&json!(INVITED_ID), &json!(false)));
        let late = s.browser().query("admin.getUserByToken", json!({"token": LATE_INVITATION})).await;
        assert_eq!(late.ok()["isExpired"], true);
        let register = json!({"id": INVITED_ID, "token": INVITATION, "password": "a-new-password"});
        assert_eq!(s.browser().mutation("auth.createUser", register.clone()).await.ok(), &json!(true));
        s.browser().mutation("auth.createUser", register).await.fails(400, "BAD_REQUEST", "Invalid token");
        assert_eq!(login("invited@dokploy.test", "a-new-password").await.0.ok()["authId"], INVITED_ID);
    }
    with_dokploy!(backend, false, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn old_sessions_and_tokens_keep_working_until_revoked(#[case] backend: Backend) {
    async fn scenario(s: &TestServer, source: &TestDb) {
        assert!(!import(s, source, false).refused());
        // A new browser each time: its jar never holds the fresh cookie.
        let old_cookie = format!("auth_session={LIVE_SESSION}");
        let old = || s.browser().with_header("cookie", &old_cookie);

        // The first use of a Dokploy session swaps it for a gateway session.
        let first = old().query("auth.get", Value::Null).await;
        assert_eq!(first.ok()["id"], USER_ID);
        let fresh = first.set_cookie("auth_session").expect("a fresh session cookie");
        assert!(fresh.contains("HttpOnly") && !fresh.contains(LIVE_SESSION));
        let fresh = fresh.split(';').next().unwrap().to_owned();
        let new = s.browser().with_header("cookie", &fresh);
        assert_eq!(new.query("auth.get", Value::Null).await.ok()["id"], USER_ID);
        // Calls already in flight with the old cookie still pass, for a short grace, and are
        // not swapped again; the old row ends with the grace.
        let racing = old().query("auth.get", Value::Null).await;
        assert_eq!(racing.ok()["id"], USER_ID);
        assert!(racing.set_cookie("auth_session").is_none());
        let legacy_row = format!("legacy-{}", data_encoding::HEXLOWER.encode(&sha256(LIVE_SESSION)));
        let row = s.prepared.store.run(|c| gateway_store::session::find(c, &legacy_row)).unwrap().unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        assert!(row.expires_at <= now + 60, "the legacy row ends within the grace");
        // Listed, the Dokploy session says it was imported (its client is unknown), and
        // neither its lucia id nor the hash it is stored under shows.
        let listed = new.query("auth.listSessions", Value::Null).await;
        let text = listed.body.to_string();
        let list = listed.ok()["sessions"].as_array().unwrap();
        let imported: Vec<&Value> = list.iter().filter(|s| s["imported"] == true).collect();
        assert!(!imported.is_empty(), "{list:?}");
        for s in &imported {
            assert_eq!(
                (&s["clientAddress"], &s["userAgent"], &s["current"]),
                (&Value::Null, &Value::Null, &json!(false))
            );
        }
        assert!(list.iter().any(|s| s["current"] == true && s["imported"] == false), "{list:?}");
        assert!(!text.contains(LIVE_SESSION) && !text.contains(&legacy_row["legacy-".len()..][..16]), "{text}");

        // The expired session was not imported.
        let expired = s.browser().with_header("cookie", &format!("auth_session={EXPIRED_SESSION}"));
        expired.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");

        // The API token works as a Bearer token and as x-api-key, and is the account's token.
        let bearer = s.browser().bearer(API_TOKEN);
        let me = bearer.query("auth.get", Value::Null).await;
        assert_eq!((&me.ok()["id"], &me.ok()["token"]), (&json!(ADMIN_ID), &json!(API_TOKEN)));
        let token = bearer.query("auth.listSessions", Value::Null).await;
        let token = token.ok()["sessions"].as_array().unwrap().iter().find(|s| s["current"] == true).unwrap().clone();
        assert_eq!((&token["kind"], &token["imported"]), (&json!("apiToken"), &json!(true)));
        let key = s.browser().with_header("x-api-key", API_TOKEN);
        assert_eq!(key.query("auth.get", Value::Null).await.ok()["id"], ADMIN_ID);
        // A lucia id works only as what it was: the API token is no browser session.
        let as_cookie = s.browser().with_header("cookie", &format!("auth_session={API_TOKEN}"));
        as_cookie.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        // ...until the user makes a new token.
        let a = s.browser();
        a.mutation("auth.login", json!({"email": "admin@dokploy.test", "password": ADMIN_PASSWORD_OLD})).await.ok();
        let renewed = a.mutation0("auth.generateToken").await;
        assert_ne!(renewed.ok()["token"], API_TOKEN);
        bearer.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");

        // Logging out at the first use of a Dokploy cookie ends it at once, with no grace.
        let second = || s.browser().with_header("cookie", &format!("auth_session={SECOND_SESSION}"));
        assert_eq!(second().mutation0("auth.logout").await.ok(), &json!(true));
        second().query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");

        // A password change ends the other sessions, the imported ones with them.
        let body = json!({"password": "a-new-password", "currentPassword": USER_PASSWORD_OLD});
        assert_eq!(new.mutation("auth.update", body).await.ok()["id"], USER_ID);
        old().query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        assert_eq!(new.query("auth.get", Value::Null).await.ok()["id"], USER_ID);
    }
    with_dokploy!(backend, false, scenario);
}

fn sha256(text: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).to_vec()
}
