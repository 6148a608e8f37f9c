//! `auth-gateway backup`: an online copy of the SQLite store, taken while the gateway serves
//! and writes, restored as the README says, and served again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::Client;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::helpers::temp_dir;
use crate::process::{Process, gateway};

const ADMIN: &str = "admin@example.com";
const PASSWORD: &str = "password-1";

/// A write the gateway acknowledged: a login's session cookie, or an invitation.
#[derive(Debug, Clone)]
enum Write {
    Session(String),
    Invitation { token: String, email: String },
}

/// The `auth_session=...` pair a response sets.
fn session_cookie(response: &reqwest::Response) -> String {
    let prefix = format!("{}=", gateway_auth::SESSION_COOKIE);
    let header = response.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok());
    let cookie = header.into_iter().find(|c| c.starts_with(&prefix)).expect("a session cookie");
    cookie.split(';').next().unwrap().to_owned()
}

async fn post(client: &Client, base: &str, path: &str, body: Value, cookie: Option<&str>) -> reqwest::Response {
    let mut request = client.post(format!("{base}/api/{path}")).json(&body);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// `auth.get`'s status for a session cookie (`Cookie`) or an API token (`Bearer`).
async fn auth_get(client: &Client, base: &str, header: (&str, &str)) -> u16 {
    let request = client.get(format!("{base}/api/auth.get")).header(header.0, header.1);
    request.send().await.unwrap().status().as_u16()
}

/// Whether `write` is in the store `base` serves from.
async fn present(client: &Client, base: &str, write: &Write) -> bool {
    match write {
        Write::Session(cookie) => auth_get(client, base, ("cookie", cookie)).await == 200,
        Write::Invitation { token, email } => {
            let request = client.get(format!("{base}/api/admin.getUserByToken")).query(&[("token", token)]);
            let response = request.send().await.unwrap();
            response.status() == 200 && response.json::<Value>().await.unwrap()["email"] == email.as_str()
        }
    }
}

/// Logs in and invites, one write at a time, until `stop`; each acknowledged write is
/// appended to `acked` once its answer is in.
async fn write_until(stop: Arc<AtomicBool>, base: String, admin: String, acked: watch::Sender<Vec<Write>>) {
    let client = Client::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let write = if n % 2 == 0 {
            let login = post(&client, &base, "auth.login", json!({"email": ADMIN, "password": PASSWORD}), None).await;
            assert_eq!(login.status(), 200);
            Write::Session(session_cookie(&login))
        } else {
            let email = format!("user-{n}@example.com");
            let invite =
                post(&client, &base, "admin.createUserInvitation", json!({"email": email}), Some(&admin)).await;
            assert_eq!(invite.status(), 200);
            let token = invite.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
            Write::Invitation { token, email }
        };
        acked.send_modify(|acked| acked.push(write));
    }
}

/// A backup taken while logins and invitations are being written, restored into a fresh
/// data directory (the file as the database, with the root key file), passes `migrate` and
/// serves: the admin signs in, and every write acknowledged before the backup started is
/// there, while those sent after it ended are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_to_a_gateway_with_everything_acknowledged_before_it() {
    let (live_dir, restored_dir, backups) = (temp_dir("backup-live"), temp_dir("backup-restored"), temp_dir("backups"));
    let live = Process::start(live_dir.path(), &[]);
    let client = Client::new();
    let creds = json!({"email": ADMIN, "password": PASSWORD});
    let created = post(&client, &live.base, "auth.createAdmin", creds.clone(), None).await;
    assert_eq!(created.status(), 200);
    let admin = session_cookie(&created);
    let token = post(&client, &live.base, "auth.generateToken", json!({}), Some(&admin)).await;
    let token = token.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();

    let (acked, mut watched) = watch::channel(Vec::new());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_until(stop.clone(), live.base.clone(), admin.clone(), acked));
    watched.wait_for(|acked| acked.len() >= 20).await.expect("the writer runs");

    let file = backups.path().join("gateway-backup.db");
    let args = ["backup", "--to", file.to_str().unwrap(), "--data-dir", live_dir.path().to_str().unwrap()];
    let mut backup = gateway(&args);
    // Everything acknowledged so far was acknowledged before the backup started.
    let before = watched.borrow().len();
    let out = tokio::task::spawn_blocking(move || backup.output().unwrap()).await.unwrap();
    let after = watched.borrow().len();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("accounts to {}", file.display())), "{stdout}");
    eprintln!("{} writes acknowledged while the backup ran", after - before);
    // Writes sent once the backup had ended: the one in flight then is the one at `after`.
    watched.wait_for(|acked| acked.len() >= after + 3).await.expect("the writer runs");
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let acked = watched.borrow().clone();

    // The restore, as the README gives it.
    let restored = restored_dir.path();
    std::fs::copy(&file, restored.join("gateway.db")).unwrap();
    std::fs::copy(live_dir.path().join("root.key"), restored.join("root.key")).unwrap();
    let migrate = gateway(&["migrate", "--data-dir", restored.to_str().unwrap()]).output().unwrap();
    let migrated = String::from_utf8(migrate.stdout).unwrap();
    assert!(migrate.status.success(), "{migrated}{}", String::from_utf8_lossy(&migrate.stderr));
    assert!(migrated.contains("(0 migrations applied now)"), "{migrated}");
    drop(live);
    let served = Process::start(restored, &[]);

    let login = post(&client, &served.base, "auth.login", creds, None).await;
    assert_eq!(login.status(), 200, "the admin signs in");
    assert_eq!(auth_get(&client, &served.base, ("cookie", &session_cookie(&login))).await, 200);
    assert_eq!(auth_get(&client, &served.base, ("authorization", &format!("Bearer {token}"))).await, 200);
    for (n, write) in acked.iter().enumerate().take(before) {
        assert!(
            present(&client, &served.base, write).await,
            "write {n} of {before} before the backup is missing: {write:?}"
        );
    }
    for (n, write) in acked.iter().enumerate().skip(after + 1) {
        assert!(!present(&client, &served.base, write).await, "write {n}, sent after the backup ended, is in it");
    }
}

/// The file is private; an existing file, a PostgreSQL URL and a data directory without a
/// database are refused with one line, and nothing is written.
#[test]
fn a_backup_is_private_and_refuses_an_existing_file_postgresql_and_a_missing_database() {
    let (data, backups) = (temp_dir("backup-refusals"), temp_dir("backups"));
    let d = data.path().to_str().unwrap();
    let backup = |to: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["backup", "--to", to.to_str().unwrap(), "--data-dir", d];
        args.extend_from_slice(extra);
        let out = gateway(&args).output().unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let one_line = |stderr: &str, says: &str| {
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(says) && !stderr.contains("panicked"), "{stderr}");
    };

    let file = backups.path().join("b.db");
    let (code, _, stderr) = backup(&file, &[]);
    assert_eq!(code, Some(1));
    one_line(&stderr, "no database at");
    assert!(!data.path().join("gateway.db").exists() && !file.exists(), "nothing is created");

    let (code, _, stderr) = backup(&file, &["--database-url", "postgres://gateway:hunter2-secret@127.0.0.1:1/gateway"]);
    assert_eq!(code, Some(1));
    one_line(&stderr, "pg_dump");
    assert!(!stderr.contains("hunter2-secret") && !file.exists(), "{stderr}");

    assert!(gateway(&["migrate", "--data-dir", d]).output().unwrap().status.success());
    let (code, stdout, stderr) = backup(&file, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let key = std::fs::read_to_string(data.path().join("root.key")).unwrap();
    assert!(stdout.contains(&data.path().join("root.key").display().to_string()), "names the key file: {stdout}");
    assert!(!stdout.contains(key.trim()), "never the key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let written = std::fs::read(&file).unwrap();
    let (code, _, stderr) = backup(&file, &[]);
    assert_eq!(code, Some(1));
    one_line(&stderr, "already exists");
    assert_eq!(std::fs::read(&file).unwrap(), written, "the existing file is left as it was");
    let names: Vec<_> = std::fs::read_dir(backups.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names, ["b.db"], "no partial file is left behind");
}
