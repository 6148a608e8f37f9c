//! Password and second-factor edge cases (auth-api.md §7), on every backend:
//! - a long password's pre-hash is domain-separated: its SHA-256 digest is not a password;
//!   hashes made the old way still log in and are replaced at that login;
//! - a hash cheaper than the configured cost is replaced by one of that cost at the next
//!   successful login, and only then;
//! - `auth.updateByAdmin` cannot change the caller's own account (that takes the current
//!   password, through `auth.update`);
//! - `auth.verify2FASetup` refuses secrets weaker than the ones the gateway makes.

use crate::helpers::*;
use diesel::prelude::*;
use gateway_store::Backend;
use gateway_store::schema::auth;
use rstest::rstest;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn stored_hash(s: &TestServer, email: &str) -> String {
    let mut conn = s.prepared.store.conn().unwrap();
    auth::table.filter(auth::email.eq(email)).select(auth::password).first(&mut *conn).unwrap()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn long_passwords_digests_do_not_log_in_and_old_hashes_are_upgraded(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        let long = "a long passphrase that goes on ".repeat(4);
        assert!(long.len() > 72);
        user(s, &admin, "long@example.com", &long).await;
        let digest = data_encoding::BASE64.encode(&Sha256::digest(long.as_bytes()));
        let login = |password: &str| {
            let b = s.browser();
            let body = json!({"email": "long@example.com", "password": password});
            async move { b.mutation("auth.login", body).await }
        };
        login(&long).await.ok();
        login(&digest).await.fails(400, "BAD_REQUEST", "Credentials do not match");

        // A hash made before the pre-hash was domain-separated: SHA-256 alone.
        let old = bcrypt::hash(&digest, 4).unwrap();
        {
            let mut conn = s.prepared.store.conn().unwrap();
            diesel::update(auth::table.filter(auth::email.eq("long@example.com")))
                .set(auth::password.eq(&old))
                .execute(&mut *conn)
                .unwrap();
        }
        login(&long).await.ok();
        let upgraded = stored_hash(s, "long@example.com");
        assert_ne!(upgraded, old, "the login stored a hash of the current form");
        login(&long).await.ok();
        login(&digest).await.fails(400, "BAD_REQUEST", "Credentials do not match");
        assert_eq!(stored_hash(s, "long@example.com"), upgraded, "upgraded once");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn an_admin_changes_its_own_account_with_its_current_password_only(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        let me = admin.query("auth.get", Value::Null).await.ok()["id"].as_str().unwrap().to_owned();
        let before = gateway_store::testing::snapshot(&s.prepared.store);
        let r = admin.mutation("auth.updateByAdmin", json!({"id": me, "password": "taken-over-1"})).await;
        r.fails(400, "BAD_REQUEST", "Use auth.update to change your own account");
        let r = admin.rest_post("auth.updateByAdmin", json!({"id": me, "email": "other@example.com"})).await;
        assert_eq!((r.status, r.body["message"].as_str()), (400, Some("Use auth.update to change your own account")));
        assert_eq!(before, gateway_store::testing::snapshot(&s.prepared.store));
        // Other accounts, as before.
        let (_, uid) = user(s, &admin, "user@example.com", "user-password").await;
        admin.mutation("auth.updateByAdmin", json!({"id": uid, "password": "reset-by-admin"})).await.ok();
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn two_factor_setup_refuses_secrets_weaker_than_its_own(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        for secret in [
            "JBSWY3DPEHPK3PXP",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "not base32 at all, but long enough",
            "00000000000000000000000000",
        ] {
            let r = admin.mutation("auth.verify2FASetup", json!({"secret": secret, "pin": "123456"})).await;
            assert_eq!(r.status, 400, "{secret}: {:?}", r.body);
            let issues = &r.error()["data"]["issues"];
            assert_eq!(issues[0]["path"], json!(["secret"]), "{secret}: {issues}");
        }
        let me = admin.query("auth.get", Value::Null).await;
        assert_eq!(me.ok()["is2FAEnabled"], false);
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn cheaper_hashes_are_rehashed_at_the_configured_cost_when_their_password_logs_in(#[case] backend: Backend) {
    let cost = |hash: &str| hash.parse::<bcrypt::HashParts>().unwrap().get_cost();
    if let Some(db) = fresh_database(backend) {
        let before = TestServer::start(&db.url).await;
        admin(&before).await;
        assert_eq!(cost(&stored_hash(&before, ADMIN_EMAIL)), 4);
        before.stop().await;

        let mut settings = settings(&db.url);
        settings.bcrypt_cost = 5;
        let s = TestServer::start_with(settings).await;
        let login = |password: &str| {
            let (b, body) = (s.browser(), json!({"email": ADMIN_EMAIL, "password": password}));
            async move { b.mutation("auth.login", body).await }
        };
        login("wrong-password").await.fails(400, "BAD_REQUEST", "Credentials do not match");
        assert_eq!(cost(&stored_hash(&s, ADMIN_EMAIL)), 4, "a wrong password changes nothing");
        login(ADMIN_PASSWORD).await.ok();
        assert_eq!(cost(&stored_hash(&s, ADMIN_EMAIL)), 5);
        login(ADMIN_PASSWORD).await.ok();
        s.stop().await;
    }
}
