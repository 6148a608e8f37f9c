//! Token key rotation without logging anyone out, on every backend: tokens signed before a
//! rotation keep working after it, new ones name the new key, two replicas with the same
//! key configuration agree, and once the old key is retired its tokens get 401. The ring
//! is made by the real `keygen --rotate` / `--retire` commands, as an operator would.

use std::process::Command;

use gateway_store::Backend;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_auth-gateway");

/// `auth-gateway keygen ARGS` with the keys given as settings; prints the new ring setting.
fn keygen(root_key: &str, token_keys: Option<&str>, args: &[&str]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("keygen").args(args).env_remove("DATABASE_URL").env("GATEWAY_ROOT_KEY", root_key);
    cmd.env("GATEWAY_TOKEN_KEYS", token_keys.unwrap_or("root"));
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ring = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&ring), "the keys are printed once, on stdout");
    ring
}

/// A replica: the shared database and key configuration, a data directory of its own.
async fn replica(url: &str, root_key: &str, token_keys: Option<&str>) -> TestServer {
    let mut s = settings(url);
    s.root_key = Some(root_key.to_owned());
    s.token_keys = token_keys.map(str::to_owned);
    TestServer::start_with(s).await
}

/// The key id a token names (biscuit's root key id); `None` for the root key.
fn key_id(token: &str) -> Option<u32> {
    biscuit_auth::UnverifiedBiscuit::from_base64(token).unwrap().root_key_id()
}

async fn status_of(server: &TestServer, cookie: Option<&str>, bearer: Option<&str>) -> u16 {
    let b = server.browser();
    let b = match (cookie, bearer) {
        (Some(c), _) => b.with_header("cookie", &format!("auth_session={c}")),
        (_, Some(t)) => b.bearer(t),
        _ => b,
    };
    b.query("auth.get", Value::Null).await.status
}

/// A browser signed in as the admin, and its session cookie.
async fn login_browser(server: &TestServer) -> (Browser, String) {
    let b = server.browser();
    let r = b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
    r.ok();
    let header = r.set_cookie("auth_session").unwrap();
    let value = header.strip_prefix("auth_session=").unwrap().split(';').next().unwrap().to_owned();
    (b, value)
}

async fn login(server: &TestServer) -> String {
    login_browser(server).await.1
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn rotated_keys_keep_old_tokens_until_retired_and_replicas_agree(#[case] backend: Backend) {
    let Some(db) = fresh_database(backend) else { return };
    let root_key = gateway_auth::RootKey::generate().to_hex();

    // Before any rotation: the root key signs, and tokens name no key.
    let before = replica(&db.url, &root_key, None).await;
    admin(&before).await;
    let (admin_browser, old_cookie) = login_browser(&before).await;
    let old_token = admin_browser.mutation0("auth.generateToken").await.ok()["token"].as_str().unwrap().to_owned();
    assert_eq!((key_id(&old_cookie), key_id(&old_token)), (None, None));
    before.stop().await;

    // Rotated: two replicas with the same configuration.
    let rotated = keygen(&root_key, None, &["--rotate"]);
    assert!(rotated.starts_with("1:") && rotated.ends_with(",root"), "current first: {}", rotated.len());
    let (a, b) = (replica(&db.url, &root_key, Some(&rotated)).await, replica(&db.url, &root_key, Some(&rotated)).await);
    let new_cookie = login(&a).await;
    assert_eq!(key_id(&new_cookie), Some(1), "new tokens are signed by the new key");
    for server in [&a, &b] {
        assert_eq!(status_of(server, Some(&old_cookie), None).await, 200, "a session from before the rotation");
        assert_eq!(status_of(server, None, Some(&old_token)).await, 200, "an API token from before the rotation");
        assert_eq!(status_of(server, Some(&new_cookie), None).await, 200, "the new key, on either replica");
    }
    let from_b = login(&b).await;
    assert_eq!(status_of(&a, Some(&from_b), None).await, 200);
    a.stop().await;
    b.stop().await;

    // The root key retired: what it signed is refused everywhere, the rest still works.
    let retired = keygen(&root_key, Some(&rotated), &["--retire", "root"]);
    assert!(retired.starts_with("1:") && !retired.contains("root"));
    let (a, b) = (replica(&db.url, &root_key, Some(&retired)).await, replica(&db.url, &root_key, Some(&retired)).await);
    for server in [&a, &b] {
        assert_eq!(status_of(server, Some(&old_cookie), None).await, 401, "its key is retired");
        assert_eq!(status_of(server, None, Some(&old_token)).await, 401, "its key is retired");
        assert_eq!(status_of(server, Some(&new_cookie), None).await, 200);
        assert_eq!(status_of(server, Some(&from_b), None).await, 200);
    }
    // A replica with another ring under the same ids does not take these tokens.
    let other = keygen(&root_key, None, &["--rotate"]);
    let stranger = replica(&db.url, &root_key, Some(&other)).await;
    assert_eq!(status_of(&stranger, Some(&new_cookie), None).await, 401);
    for server in [a, b, stranger] {
        server.stop().await;
    }
}

#[test]
fn keygen_rotates_the_key_file_and_refuses_to_retire_the_current_key() {
    let dir = temp_dir("rotation");
    let data_dir = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("keygen")
            .args(args)
            .args(["--data-dir", data_dir])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    let out = run(&["--rotate"]);
    assert!(!out.status.success(), "no root key yet");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no root key"));
    assert!(run(&[]).status.success());
    let out = run(&["--rotate"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("token key 1 signs new tokens") && said.contains("1, root"),
        "{said}"
    );
    let ring = std::fs::read_to_string(dir.path().join("token.keys")).unwrap();
    assert!(!said.contains(ring.lines().find(|l| l.starts_with("1:")).unwrap()), "no key in the report");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.path().join("token.keys")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let out = run(&["--retire", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("current one"));
    let out = run(&["--rotate"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("2, 1, root"));
    let out = run(&["--retire", "root"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("keys now 2, 1 "));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("token.keys")).unwrap().lines().filter(|l| !l.starts_with('#')).count(),
        2
    );
}
