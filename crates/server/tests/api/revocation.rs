//! Revocation is atomic and reaches every cache (auth-api.md §5), on every backend:
//! - a password change revokes the other sessions, the API token and pending 2FA challenges
//!   in the transaction that stores the new hash, and a change that fails revokes nothing;
//! - sessions wiped behind the gateway's back (TRUNCATE) are refused at once;
//! - a store restored from a backup under a running gateway is what the gateway answers
//!   from: sessions made after the backup are gone, and its cache does not say otherwise.

use std::time::{Duration, Instant};

use crate::helpers::*;
use gateway_store::Backend;
use rstest::rstest;
use serde_json::{Value, json};

/// Calls `auth.get` as `b` until it answers `status` (the change reached this gateway).
async fn until_status(b: &Browser, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = b.query("auth.get", Value::Null).await;
        if r.status == status {
            return;
        }
        assert!(Instant::now() < deadline, "still {} instead of {status}: {:?}", r.status, r.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn enable_2fa(b: &Browser) -> String {
    let setup = b.query("auth.generate2FASecret", Value::Null).await;
    let secret = setup.ok()["secret"].as_str().unwrap().to_owned();
    let step = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 / 30;
    let pin = gateway_auth::totp_code_at(&secret, step).unwrap();
    b.mutation("auth.verify2FASetup", json!({"secret": secret, "pin": pin})).await.ok();
    secret
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_password_change_revokes_sessions_token_and_challenges_together_or_not_at_all(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        let (user, _) = user(s, &admin, "user@example.com", "user-password").await;
        let token = user.mutation("auth.generateToken", Value::Null).await.ok()["token"].as_str().unwrap().to_owned();
        let creds = json!({"email": "user@example.com", "password": "user-password"});
        let other = s.browser();
        other.mutation("auth.login", creds.clone()).await.ok();
        other.query("auth.get", Value::Null).await.ok();
        enable_2fa(&user).await;
        let (pin, api) = (s.browser(), s.browser().bearer(&token));
        assert_eq!(pin.mutation("auth.login", creds.clone()).await.ok()["is2FAEnabled"], true);

        // A change that fails (the email is taken) stores nothing and revokes nothing.
        let failed = user
            .mutation(
                "auth.update",
                json!({"email": ADMIN_EMAIL, "password": "new-password-1", "currentPassword": "user-password"}),
            )
            .await;
        failed.fails(400, "BAD_REQUEST", "Email already exists");
        api.query("auth.get", Value::Null).await.ok();
        let login = s.browser().mutation("auth.login", creds.clone()).await;
        assert_eq!(login.ok()["is2FAEnabled"], true, "the old password still works");

        let changed = user
            .mutation("auth.update", json!({"password": "new-password-1", "currentPassword": "user-password"}))
            .await;
        assert_eq!(changed.ok()["token"], Value::Null, "the API token is gone");
        user.query("auth.get", Value::Null).await.ok();
        api.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        // The browser that passed the password step with the old password cannot finish.
        let owed = pin.mutation("auth.verifyLogin2FA", json!({"id": changed.data()["id"], "pin": "000000"})).await;
        owed.fails(401, "UNAUTHORIZED", "");
        // The other browser's session ended with the old password.
        other.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn sessions_truncated_behind_the_gateway_are_refused(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        admin.query("auth.get", Value::Null).await.ok();
        admin.query("auth.get", Value::Null).await.ok(); // answered from memory now
        let wipe = if s.prepared.store.backend() == gateway_store::Backend::Postgres {
            "TRUNCATE session CASCADE" // session_activity refers to it
        } else {
            "DELETE FROM session"
        };
        let mut conn = s.prepared.store.conn().unwrap();
        diesel::connection::SimpleConnection::batch_execute(&mut *conn, wipe).unwrap();
        drop(conn);
        until_status(&admin, 401).await;
    }
    on_backend!(backend, scenario);
}

/// Copies one SQLite database into another with SQLite's online backup API: how a backup is
/// taken from, or restored into, a database in use.
fn sqlite_copy(from: &str, to: &str) {
    use libsqlite3_sys as ffi;
    use std::ffi::CString;
    let (from, to) = (CString::new(from).unwrap(), CString::new(to).unwrap());
    // SAFETY: plain use of the C API: open two handles, copy every page, close both.
    // (diesel exposes no backup API; the test needs SQLite's own online copy.)
    #[allow(unsafe_code)]
    unsafe {
        let (mut src, mut dst) = (std::ptr::null_mut(), std::ptr::null_mut());
        assert_eq!(ffi::sqlite3_open(from.as_ptr(), &mut src), ffi::SQLITE_OK);
        assert_eq!(ffi::sqlite3_open(to.as_ptr(), &mut dst), ffi::SQLITE_OK);
        ffi::sqlite3_busy_timeout(dst, 10_000);
        let main = c"main";
        let backup = ffi::sqlite3_backup_init(dst, main.as_ptr(), src, main.as_ptr());
        assert!(!backup.is_null());
        assert_eq!(ffi::sqlite3_backup_step(backup, -1), ffi::SQLITE_DONE);
        assert_eq!(ffi::sqlite3_backup_finish(backup), ffi::SQLITE_OK);
        ffi::sqlite3_close(src);
        ffi::sqlite3_close(dst);
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_store_restored_from_a_backup_is_what_the_running_gateway_answers_from(#[case] backend: Backend) {
    use diesel::connection::SimpleConnection;
    if let Some(db) = fresh_database(backend) {
        let s = TestServer::start(&db.url).await;
        let admin = admin(&s).await;
        let postgres = s.prepared.store.backend() == gateway_store::Backend::Postgres;
        // The backup: a copy of the SQLite file; on PostgreSQL, the sessions and the epoch as
        // they are now (a data-only dump).
        let file = db.url.strip_prefix("sqlite://").unwrap_or_default().to_owned();
        let backup = format!("{file}.backup");
        let mut conn = s.prepared.store.conn().unwrap();
        let dumped: Vec<String> = if postgres {
            use diesel::prelude::*;
            gateway_store::schema::session::table.select(gateway_store::schema::session::id).load(&mut *conn).unwrap()
        } else {
            sqlite_copy(&file, &backup);
            Vec::new()
        };
        let (epoch_then, added_then): (i64, i64) = {
            use diesel::prelude::*;
            use gateway_store::schema::auth_epoch;
            auth_epoch::table.select((auth_epoch::n, auth_epoch::added)).first(&mut *conn).unwrap()
        };
        drop(conn);

        // After the backup: a new session, used until it is answered from memory.
        let later = s.browser();
        later.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await.ok();
        later.query("auth.get", Value::Null).await.ok();
        later.query("auth.get", Value::Null).await.ok();

        // The restore, under the running gateway. On PostgreSQL as `pg_restore --data-only
        // --disable-triggers` does it: rows and epoch back as they were, no trigger fired.
        if postgres {
            let mut conn = s.prepared.store.conn().unwrap();
            let kept = dumped.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
            conn.batch_execute(&format!(
                "BEGIN; SET LOCAL session_replication_role = replica; \
                 DELETE FROM session WHERE id NOT IN ({kept}); \
                 UPDATE auth_epoch SET n = {epoch_then}, added = {added_then}; COMMIT;"
            ))
            .unwrap();
        } else {
            sqlite_copy(&backup, &file);
        }
        until_status(&later, 401).await;
        admin.query("auth.get", Value::Null).await.ok();
        s.stop().await;
    }
}
