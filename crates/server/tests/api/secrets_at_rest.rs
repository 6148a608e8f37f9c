//! Secrets at rest (auth-api.md §6), on every backend: a copy of the database yields no TOTP
//! secret, no API token and no usable invitation token, while the API still works as the
//! contract says; a store written before (secrets in clear) is converted at start and by
//! `migrate`; the SQLite files and the data directory are their owner's only.

use crate::helpers::*;
use diesel::prelude::*;
use gateway_store::Backend;
use gateway_store::schema::{auth, user};
use rstest::rstest;
use serde_json::{Value, json};

fn step_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 / 30
}

/// `(secret, token)` of an account, and every invitation token, as the store holds them.
fn stored(s: &TestServer, auth_id: &str) -> (Option<String>, Option<String>, Vec<String>) {
    let mut conn = s.prepared.store.conn().unwrap();
    let (secret, token) = auth::table.find(auth_id).select((auth::secret, auth::token)).first(&mut *conn).unwrap();
    let invitations = user::table.select(user::token).load(&mut *conn).unwrap();
    (secret, token, invitations)
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn totp_secrets_api_tokens_and_invitations_are_not_in_the_store_in_clear(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        let me = admin.query("auth.get", Value::Null).await.ok().clone();
        let id = me["id"].as_str().unwrap().to_owned();
        let token = admin.mutation("auth.generateToken", Value::Null).await.ok()["token"].as_str().unwrap().to_owned();
        let secret =
            admin.query("auth.generate2FASecret", Value::Null).await.ok()["secret"].as_str().unwrap().to_owned();
        let pin = gateway_auth::totp_code_at(&secret, step_now()).unwrap();
        admin.mutation("auth.verify2FASetup", json!({"secret": secret, "pin": pin})).await.ok();
        let invitation = admin.mutation("admin.createUserInvitation", json!({"email": "u@example.com"})).await;
        let invitation = invitation.ok()["token"].as_str().unwrap().to_owned();

        let (stored_secret, stored_token, invitations) = stored(s, &id);
        let (stored_secret, stored_token) = (stored_secret.unwrap(), stored_token.unwrap());
        assert!(stored_secret.starts_with("enc1:") && !stored_secret.contains(&secret), "{stored_secret}");
        assert!(stored_token.starts_with("enc1:") && !stored_token.contains(&token[..40]), "{stored_token}");
        assert!(invitations.iter().all(|t| t.starts_with("sha256:") && *t != invitation), "{invitations:?}");

        // The API as before: auth.get gives the token back, which authenticates; the pin
        // logs in; the invitation link shows its account.
        let again = s.browser().bearer(&token).query("auth.get", Value::Null).await;
        assert_eq!(again.ok()["token"], token.as_str());
        let b = s.browser();
        let login = b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        assert_eq!(login.ok()["is2FAEnabled"], true);
        let pin = gateway_auth::totp_code_at(&secret, step_now() + 1).unwrap();
        b.mutation("auth.verifyLogin2FA", json!({"id": id, "pin": pin})).await.ok();
        let view = s.browser().query("admin.getUserByToken", json!({"token": invitation})).await;
        assert_eq!(view.ok()["email"], "u@example.com");
        // The stored hash is not itself a token.
        let hashed = s.browser().query("admin.getUserByToken", json!({"token": invitations[0]})).await;
        hashed.fails(404, "NOT_FOUND", "Invitation not found");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn secrets_an_older_store_kept_in_clear_are_converted_once(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        let id = admin.query("auth.get", Value::Null).await.ok()["id"].as_str().unwrap().to_owned();
        let token = admin.mutation("auth.generateToken", Value::Null).await.ok()["token"].as_str().unwrap().to_owned();
        let invitation = admin.mutation("admin.createUserInvitation", json!({"email": "u@example.com"})).await;
        let invitation = invitation.ok()["token"].as_str().unwrap().to_owned();
        // As an older store holds them: a secret, the token and the invitation in clear.
        let secret = "JBSWY3DPEHPK3PXPJBSWY3DP";
        {
            let mut conn = s.prepared.store.conn().unwrap();
            diesel::update(auth::table.find(&id))
                .set((auth::secret.eq(secret), auth::token.eq(&token), auth::is_2fa_enabled.eq(true)))
                .execute(&mut *conn)
                .unwrap();
            diesel::update(user::table).set(user::token.eq(&invitation)).execute(&mut *conn).unwrap();
        }
        let (key, _) = gateway_server::load_root_key(&s.settings).unwrap();
        assert_eq!(gateway_auth::seal_stored_secrets(&s.prepared.store, &key).unwrap(), (1, 1));
        assert_eq!(gateway_auth::seal_stored_secrets(&s.prepared.store, &key).unwrap(), (0, 0), "once");
        let (stored_secret, stored_token, invitations) = stored(s, &id);
        assert!(stored_secret.unwrap().starts_with("enc1:"));
        assert!(stored_token.unwrap().starts_with("enc1:"));
        assert!(invitations[0].starts_with("sha256:"));

        let b = s.browser();
        let login = b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        assert_eq!(login.ok()["is2FAEnabled"], true);
        let pin = gateway_auth::totp_code_at(secret, step_now()).unwrap();
        b.mutation("auth.verifyLogin2FA", json!({"id": id, "pin": pin})).await.ok();
        assert_eq!(b.query("auth.get", Value::Null).await.ok()["token"], token.as_str());
        s.browser().query("admin.getUserByToken", json!({"token": invitation})).await.ok();
    }
    on_backend!(backend, scenario);
}

#[cfg(unix)]
#[actix_web::test]
async fn the_data_directory_and_the_sqlite_files_are_their_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let parent = temp_dir("private");
    let dir = &parent.path().join("new").join("data");
    // The default SQLite store in a data directory whose parents do not exist yet.
    let in_private_dir = || {
        let mut settings = settings("unused");
        settings.data_dir = dir.clone();
        settings.database_url = None;
        settings
    };
    let s = TestServer::start_with(in_private_dir()).await;
    admin(&s).await;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    assert_eq!(mode(dir.parent().unwrap()), 0o700, "missing parents too");
    for file in ["gateway.db", "gateway.db-wal", "gateway.db-shm", "root.key"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    s.stop().await;
    // A store whose files were left readable by others is made private at the next start.
    for file in ["gateway.db", "gateway.db-wal", "gateway.db-shm"] {
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let s = TestServer::start_with(in_private_dir()).await;
    for file in ["gateway.db", "gateway.db-wal", "gateway.db-shm"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    s.stop().await;
}
