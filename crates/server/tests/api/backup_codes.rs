//! 2FA backup codes over HTTP, on both backends: proof needed to make them, each works
//! once, a new set kills the old one, wrong codes are throttled like wrong pins, and turning
//! 2FA off deletes them.

use crate::helpers::*;
use gateway_store::Backend;
use rstest::rstest;
use serde_json::{Value, json};

/// A browser past the password step of a 2FA login as the admin; the admin's auth id.
async fn at_second_step(s: &TestServer) -> (Browser, Value) {
    let b = s.browser();
    let r = b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
    assert_eq!(r.ok()["is2FAEnabled"], true);
    let id = r.ok()["authId"].clone();
    (b, id)
}

fn codes_of(r: &Reply) -> Vec<String> {
    r.ok()["codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect()
}

fn stored_codes(s: &TestServer, auth_id: &Value) -> i64 {
    let id = auth_id.as_str().unwrap().to_owned();
    s.prepared.store.run(|c| gateway_store::backup_code::count(c, &id)).unwrap()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn backup_codes_work_once_and_a_new_set_replaces_the_old(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let none = a.mutation("auth.generateBackupCodes", json!({"password": ADMIN_PASSWORD})).await;
        none.fails(400, "BAD_REQUEST", "2FA is not enabled");
        let (secret, setup_step) = enable_2fa(&a).await;

        // Proof of holding the account now: a pin or the password, and a right one.
        a.mutation("auth.generateBackupCodes", json!({})).await.fails(400, "BAD_REQUEST", "");
        let wrong = a.mutation("auth.generateBackupCodes", json!({"password": "not-the-password"})).await;
        wrong.fails(400, "BAD_REQUEST", "Current password is incorrect");
        let wrong = a.mutation("auth.generateBackupCodes", json!({"pin": wrong_pin(&secret, setup_step)})).await;
        wrong.fails(400, "BAD_REQUEST", "Invalid 2FA code");
        let first =
            codes_of(&a.mutation("auth.generateBackupCodes", json!({"pin": pin(&secret, setup_step + 1)})).await);
        assert_eq!(first.len(), 10);
        assert!(first.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'), "{first:?}");
        let distinct: std::collections::HashSet<_> = first.iter().collect();
        assert_eq!(distinct.len(), 10);
        // Stored as keyed hashes: no code is in the database.
        let rows = gateway_store::testing::snapshot(&s.prepared.store);
        assert!(first.iter().all(|c| !rows.contains(c.as_str()) && !rows.contains(&c.replace('-', ""))));

        // A code logs in once, typed in any case, with or without its dash.
        let (b, id) = at_second_step(s).await;
        let r = b.mutation("auth.verifyLogin2FA", json!({"pin": first[0], "id": id})).await;
        assert_eq!(r.ok(), &json!(true));
        assert!(r.set_cookie("auth_session").is_some());
        assert_eq!(b.query("auth.get", Value::Null).await.ok()["id"], id);
        let (b, id) = at_second_step(s).await;
        let again = b.mutation("auth.verifyLogin2FA", json!({"pin": first[0], "id": id})).await;
        again.fails(400, "BAD_REQUEST", "Invalid 2FA code");
        let typed = first[1].replace('-', "").to_uppercase();
        assert_eq!(b.mutation("auth.verifyLogin2FA", json!({"pin": typed, "id": id})).await.ok(), &json!(true));
        assert_eq!(stored_codes(s, &id), 8);

        // A new set (with the password this time): the old codes stop working.
        let second = codes_of(&a.mutation("auth.generateBackupCodes", json!({"password": ADMIN_PASSWORD})).await);
        assert!(second.iter().all(|c| !first.contains(c)));
        assert_eq!(stored_codes(s, &id), 10);
        let (b, id) = at_second_step(s).await;
        let old = b.mutation("auth.verifyLogin2FA", json!({"pin": first[2], "id": id})).await;
        old.fails(400, "BAD_REQUEST", "Invalid 2FA code");
        assert_eq!(b.mutation("auth.verifyLogin2FA", json!({"pin": second[0], "id": id})).await.ok(), &json!(true));

        // Turning 2FA off deletes them.
        assert_eq!(a.mutation0("auth.disable2FA").await.ok()["is2FAEnabled"], false);
        assert_eq!(stored_codes(s, &id), 0);
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn wrong_backup_codes_are_throttled_like_wrong_pins(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let (_, _) = enable_2fa(&a).await;
        let codes = codes_of(&a.mutation("auth.generateBackupCodes", json!({"password": ADMIN_PASSWORD})).await);
        let (b, id) = at_second_step(s).await;
        for _ in 0..5 {
            let r = b.mutation("auth.verifyLogin2FA", json!({"pin": "aaaaa-bbbbb", "id": id})).await;
            r.fails(400, "BAD_REQUEST", "Invalid 2FA code");
        }
        // The challenge is spent: even a right code is refused, and is not used up by it.
        let right = b.mutation("auth.verifyLogin2FA", json!({"pin": codes[0], "id": id})).await;
        right.fails(429, "TOO_MANY_REQUESTS", "");
        assert!(right.headers.contains_key("retry-after"));
        assert_eq!(stored_codes(s, &id), 10);
        // So is the account, for a while: the next login is throttled too.
        let next = s.browser().mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        next.fails(429, "TOO_MANY_REQUESTS", "");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn setting_2fa_up_again_leaves_no_code_of_the_old_secret(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let (_, setup_step) = enable_2fa(&a).await;
        let codes = codes_of(&a.mutation("auth.generateBackupCodes", json!({"password": ADMIN_PASSWORD})).await);
        let id = a.query("auth.get", Value::Null).await.ok()["id"].clone();
        assert_eq!(stored_codes(s, &id), 10);
        let secret = a.query("auth.generate2FASecret", Value::Null).await.ok()["secret"].as_str().unwrap().to_owned();
        let setup = json!({"secret": secret, "pin": pin(&secret, setup_step + 1)});
        assert_eq!(a.mutation("auth.verify2FASetup", setup).await.ok()["is2FAEnabled"], true);
        assert_eq!(stored_codes(s, &id), 0);
        let (b, id) = at_second_step(s).await;
        let old = b.mutation("auth.verifyLogin2FA", json!({"pin": codes[0], "id": id})).await;
        old.fails(400, "BAD_REQUEST", "Invalid 2FA code");
    }
    on_backend!(backend, scenario);
}
