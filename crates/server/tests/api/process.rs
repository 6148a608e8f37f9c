//! The binary as an operator meets it: flags, errors, start-up, shutdown, subcommands,
//! the checked-in OpenAPI document, and two replicas sharing one PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use gateway_store::Backend;
use serde_json::{Value, json};

use crate::helpers::{fresh_database, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_auth-gateway");

pub(crate) fn gateway(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("DATABASE_URL").env("GATEWAY_LOG", "info");
    cmd
}

/// A running gateway process and its base URL, read from its start-up line.
pub(crate) struct Process {
    child: Child,
    pub(crate) base: String,
    log: mpsc::Receiver<String>,
}

impl Process {
    #[allow(clippy::zombie_processes)] // Drop kills and waits for the child.
    pub(crate) fn start(data_dir: &std::path::Path, extra: &[&str]) -> Process {
        let mut args = vec!["serve", "--bind", "127.0.0.1:0", "--data-dir", data_dir.to_str().unwrap()];
        if !extra.contains(&"--bcrypt-cost") {
            args.extend(["--bcrypt-cost", "4"]);
        }
        args.extend_from_slice(extra);
        let mut child = gateway(&args).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        loop {
            let line =
                log.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("no start-up line: {seen:?}"));
            if let Some(rest) = line.split("address=http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap();
                seen.push(line.clone());
                return Process { child, base: format!("http://{addr}"), log };
            }
            seen.push(line);
        }
    }

    fn lines(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// Sends SIGTERM and waits for the exit. The gateway bounds that wait itself (its
    /// shutdown deadline, then a watchdog), so there is no timer here.
    fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        self.child.wait().unwrap()
    }

    /// CPU time (in clock ticks) the gateway's password threads have used (Linux: /proc):
    /// it grows only while a request has them check or hash a password.
    #[cfg(target_os = "linux")]
    fn password_ticks(&self) -> u64 {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.id())).unwrap();
        tasks
            .flatten()
            .filter(|task| std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.starts_with("password-")))
            .map(|task| {
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
                // After the parenthesised name: state is field 3, utime and stime 14 and 15.
                let fields: Vec<&str> = stat.rsplit_once(") ").map_or("", |(_, rest)| rest).split(' ').collect();
                let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
                field(14) + field(15)
            })
            .sum()
    }
}

/// Two gateway processes on one database with one root key, named `{name}-a` and `{name}-b`,
/// each with a data directory of its own (removed after its process stops).
pub(crate) fn replicas(database_url: &str, name: &str) -> [(Process, tempfile::TempDir); 2] {
    let key = gateway_auth::RootKey::generate().to_hex();
    ["a", "b"].map(|which| {
        let dir = temp_dir(&format!("{name}-{which}"));
        (Process::start(dir.path(), &["--database-url", database_url, "--root-key", &key]), dir)
    })
}

impl Drop for Process {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[test]
fn help_explains_every_setting() {
    let out = gateway(&["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--bind",
        "--data-dir",
        "--database-url",
        "--root-key-file",
        "--root-key",
        "--transformer",
        "--cookie-secure",
        "--session-ttl-hours",
        "--api-token-ttl-days",
        "--last-used-resolution-secs",
        "--bcrypt-cost",
        "--max-body-bytes",
        "--max-batch-calls",
        "--method-override",
        "--client-ip-header",
        "--log-format",
        "--log-level",
        "--upstream",
        "--upstream-timeout-secs",
        "--upstream-max-url-bytes",
        "--upstream-require-session",
        "--upstream-public-path",
        "--forward-auth-header-prefix",
        "--metrics-bind",
        "--token-keys-file",
        "--token-keys",
        "GATEWAY_BIND",
        "DATABASE_URL",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
}

#[test]
fn a_bad_setting_stops_the_start_with_one_line() {
    for (args, env, setting) in [
        (vec!["serve", "--bcrypt-cost", "99"], None, "--bcrypt-cost"),
        (vec!["serve"], Some(("GATEWAY_BIND", "not-an-address")), "--bind"),
        (vec!["serve", "--transformer", "xml"], None, "--transformer"),
        (vec!["serve", "--log-format", "yaml"], None, "--log-format"),
    ] {
        let mut cmd = gateway(&args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(setting), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A database that cannot be opened: one error line, exit 1.
    let tmp = temp_dir("baddb");
    let dir = tmp.path();
    let out = gateway(&[
        "serve",
        "--data-dir",
        dir.to_str().unwrap(),
        "--database-url",
        "postgres://nobody@127.0.0.1:1/none",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("error:") && err.contains("database") && !err.contains("panicked"), "{err}");
    // An upstream that is not a plain http:// URL (the app behind the gateway): one line, exit 1.
    for upstream in ["https://app.example.com/api/trpc", "not a url"] {
        let out = gateway(&["serve", "--data-dir", dir.to_str().unwrap(), "--upstream", upstream]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{upstream}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("--upstream"), "{err}");
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn start_line_names_address_backend_and_key_origin_and_sigterm_finishes_requests() {
    let tmp = temp_dir("proc");
    let dir = tmp.path();
    // A high bcrypt cost makes createAdmin slow enough to be in flight during SIGTERM; the
    // shutdown deadline is long enough for it on a busy machine.
    let mut p = Process::start(dir, &["--bcrypt-cost", "13", "--shutdown-timeout-secs", "300"]);
    let start = p.lines().join("\n");
    let key = std::fs::read_to_string(dir.join("root.key")).unwrap();
    assert!(!start.contains(key.trim()), "the key must never be printed");

    let idle = p.password_ticks();
    let url = format!("{}/api/auth.createAdmin", p.base);
    let slow = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&json!({"email": "a@example.com", "password": "password-1"}))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    // SIGTERM once the request is being served: its password is being hashed.
    let status = tokio::task::spawn_blocking(move || {
        while p.password_ticks() == idle {
            std::thread::sleep(Duration::from_millis(2));
        }
        p.terminate()
    })
    .await
    .unwrap();
    assert_eq!(slow.await.unwrap().unwrap(), 200, "the in-flight request completes");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn keygen_writes_a_private_key_once() {
    let tmp = temp_dir("keygen");
    let dir = tmp.path();
    let file = dir.join("k");
    let args = ["keygen", "--root-key-file", file.to_str().unwrap()];
    assert!(gateway(&args).output().unwrap().status.success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = gateway(&args).output().unwrap();
    assert!(!again.status.success(), "an existing key is never overwritten");
}

#[test]
fn checked_in_openapi_document_is_current() {
    let out = gateway(&["openapi"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let generated: Value = serde_json::from_slice(&out.stdout).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/openapi.json");
    let checked_in: Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or(Value::Null);
    assert!(generated == checked_in, "schemas/openapi.json is out of date: run `make openapi`");
}

#[test]
fn checked_in_typescript_router_is_current() {
    let out = gateway(&["typescript"]).env_remove("GATEWAY_TRANSFORMER").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../clients/typescript/router.ts");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(out.stdout == checked_in.as_bytes(), "clients/typescript/router.ts is out of date: run `make typescript`");
}

#[test]
fn operator_commands_invite_and_reset_passwords() {
    let tmp = temp_dir("operator");
    let dir = tmp.path();
    let d = dir.to_str().unwrap();
    let no_admin = gateway(&["admin", "invite", "--email", "x@example.com", "--data-dir", d]).output().unwrap();
    assert!(!no_admin.status.success());

    // Create the admin through the API, then reset its password without it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut p = Process::start(dir, &[]);
    let base = p.base.clone();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let r = c
            .post(format!("{base}/api/auth.createAdmin"))
            .json(&json!({"email": "a@example.com", "password": "password-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    p.terminate();

    let mut reset =
        gateway(&["admin", "reset-password", "--email", "A@example.com", "--data-dir", d, "--bcrypt-cost", "4"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
    use std::io::Write;
    reset.stdin.take().unwrap().write_all(b"brand-new-password\n").unwrap();
    assert!(reset.wait_with_output().unwrap().status.success());

    let invite = gateway(&["admin", "invite", "--email", "u@example.com", "--data-dir", d]).output().unwrap();
    assert!(invite.status.success());
    let invitation: Value = serde_json::from_slice(&invite.stdout).unwrap();
    assert_eq!(invitation["token"].as_str().unwrap().len(), 64);

    // Behind a proxy, so that each attempt below comes from its own address: only the
    // account's counter fills up.
    let p = Process::start(dir, &["--client-ip-header", "x-forwarded-for"]);
    let attempts = std::sync::atomic::AtomicU8::new(0);
    let login = |pw: &'static str| {
        let n = attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        reqwest::Client::new()
            .post(format!("{}/api/auth.login", p.base))
            .header("x-forwarded-for", format!("192.0.2.{n}"))
            .json(&json!({"email": "a@example.com", "password": pw}))
            .send()
    };
    rt.block_on(async {
        let c = reqwest::Client::new();
        assert_eq!(login("password-1").await.unwrap().status(), 400);
        assert_eq!(login("brand-new-password").await.unwrap().status(), 200);
        let view = c
            .get(format!("{}/api/admin.getUserByToken", p.base))
            .query(&[("token", invitation["token"].as_str().unwrap())])
            .send()
            .await
            .unwrap();
        assert_eq!(view.json::<Value>().await.unwrap()["email"], "u@example.com");
        // Five wrong passwords (after the last success) fill the account's counter: the
        // right one waits.
        for _ in 0..5 {
            assert_eq!(login("password-1").await.unwrap().status(), 400);
        }
        assert_eq!(login("brand-new-password").await.unwrap().status(), 429);
    });
    // `admin unlock` clears it, without a restart.
    let unlock = gateway(&["admin", "unlock", "--email", "a@example.com", "--data-dir", d]).output().unwrap();
    assert!(unlock.status.success(), "{}", String::from_utf8_lossy(&unlock.stderr));
    rt.block_on(async { assert_eq!(login("brand-new-password").await.unwrap().status(), 200) });
    let unknown = gateway(&["admin", "unlock", "--email", "nobody@example.com", "--data-dir", d]).output().unwrap();
    assert!(!unknown.status.success());
}

/// A user who lost their authenticator: `admin disable-2fa` turns 2FA off and ends the
/// browser sessions, the API token keeps working, and the password alone logs in again.
#[test]
fn migrate_status_and_check_tell_pending_applied_and_unknown_migrations() {
    use diesel::connection::SimpleConnection;
    let tmp = temp_dir("migrate");
    let d = tmp.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--data-dir", d]);
        let out = gateway(&all).output().unwrap();
        (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let migrations =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite")).unwrap().count();

    let (ok, _, stderr) = run(&["migrate", "--check"]);
    assert!(!ok && stderr.contains(&format!("{migrations} migrations pending")), "{stderr}");
    let (ok, stdout, _) = run(&["migrate", "--status"]);
    assert!(ok, "--status alone reports, and succeeds");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("pending  ")).count(), migrations, "{stdout}");
    assert!(!stdout.contains("applied"), "{stdout}");

    assert!(run(&["migrate"]).0);
    let (ok, stdout, _) = run(&["migrate", "--check", "--status"]);
    assert!(ok, "up to date");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("applied  ")).count(), migrations, "{stdout}");

    // A newer version migrated this database: this one reports it and refuses to serve.
    let mut db = <diesel::SqliteConnection as diesel::Connection>::establish(&format!("{d}/gateway.db")).unwrap();
    db.batch_execute("INSERT INTO __diesel_schema_migrations (version) VALUES ('20990101000000')").unwrap();
    let (ok, stdout, stderr) = run(&["migrate", "--status"]);
    assert!(!ok && stdout.contains("unknown  20990101000000"), "{stdout}{stderr}");
    let (ok, _, stderr) = run(&["serve", "--bind", "127.0.0.1:0"]);
    assert!(!ok, "a newer schema is refused");
    assert_eq!(stderr.trim().lines().filter(|l| l.contains("error")).count(), 1, "{stderr}");
    assert!(stderr.contains("migrations this version does not know"), "{stderr}");
}

#[test]
fn import_dokploy_reports_refuses_collisions_and_dry_runs_without_writing() {
    use crate::dokploy::*;
    let Some(source) = dokploy_database(true) else { return };
    let tmp = temp_dir("import");
    let d = tmp.path().to_str().unwrap();
    let import = |extra: &[&str]| {
        let mut args = vec!["import", "dokploy", "--from", &source.url, "--data-dir", d, "--bcrypt-cost", "4"];
        args.extend_from_slice(extra);
        let out = gateway(&args).output().unwrap();
        let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
        for secret in [API_TOKEN, LIVE_SESSION, TOTP_SECRET, INVITATION, "$2a$"] {
            assert!(!stdout.contains(secret) && !stderr.contains(secret), "nothing secret is printed");
        }
        (out.status.success(), stdout, stderr)
    };

    // Without the gateway's key nothing runs: a new key would seal secrets it cannot open.
    let (ok, _, stderr) = import(&[]);
    assert!(!ok && stderr.contains("no root key"), "{stderr}");
    assert!(gateway(&["keygen", "--data-dir", d]).status().unwrap().success());

    let (ok, stdout, stderr) = import(&[]);
    assert!(!ok && stdout.contains(CASE_A) && stdout.contains(CASE_B), "{stdout}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    fix_collision(&source);
    let (ok, stdout, _) = import(&["--dry-run"]);
    assert!(ok && stdout.contains("Would import: 7 accounts") && stdout.contains("Dry run: nothing was written"));
    assert!(stdout.contains("1 expired sessions and tokens (not imported)"), "{stdout}");
    let (ok, stdout, _) = import(&[]);
    assert!(
        ok && stdout.contains("Imported: 7 accounts, 1 admin, 5 invitations, 2 sessions, 1 API tokens"),
        "{stdout}"
    );
    let (ok, stdout, _) = import(&[]);
    assert!(ok && stdout.contains("Nothing to do"), "{stdout}");

    // An unreachable source: one clear line, and the password in its URL is not echoed.
    let out = gateway(&[
        "import",
        "dokploy",
        "--from",
        "postgres://dokploy:hunter2-secret@127.0.0.1:1/dokploy",
        "--data-dir",
        d,
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success() && stderr.contains("reading the Dokploy database"), "{stderr}");
    assert!(!stderr.contains("hunter2-secret"), "{stderr}");
}

#[test]
fn operator_disable_2fa_ends_browser_sessions_and_lets_the_password_log_in() {
    let tmp = temp_dir("disable-2fa");
    let (dir, d) = (tmp.path(), tmp.path().to_str().unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let call = |base: &str, method: &str, path: &str, body: Value, cookie: &str| {
        let request = if method == "GET" {
            client.get(format!("{base}/api/{path}"))
        } else {
            client.post(format!("{base}/api/{path}")).json(&body)
        };
        let request = request.header("cookie", cookie.to_owned());
        async move {
            let r = request.send().await.unwrap();
            let cookie =
                r.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
            (r.status().as_u16(), cookie, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let creds = json!({"email": "a@example.com", "password": "password-1"});
    let mut p = Process::start(dir, &[]);
    let (session, token) = rt.block_on(async {
        let (_, cookie, _) = call(&p.base, "POST", "auth.createAdmin", creds.clone(), "").await;
        let session = cookie.unwrap();
        let (_, _, secret) = call(&p.base, "GET", "auth.generate2FASecret", Value::Null, &session).await;
        let secret = secret["secret"].as_str().unwrap().to_owned();
        let step = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 / 30;
        let pin = gateway_auth::totp_code_at(&secret, step).unwrap();
        let setup = json!({"secret": secret, "pin": pin});
        assert_eq!(call(&p.base, "POST", "auth.verify2FASetup", setup, &session).await.0, 200);
        let (_, _, me) = call(&p.base, "POST", "auth.generateToken", json!({}), &session).await;
        let (_, _, login) = call(&p.base, "POST", "auth.login", creds.clone(), "").await;
        assert_eq!(login["is2FAEnabled"], true);
        (session, me["token"].as_str().unwrap().to_owned())
    });
    p.terminate();

    let off = gateway(&["admin", "disable-2fa", "--email", "A@example.com", "--data-dir", d]).output().unwrap();
    assert!(off.status.success(), "{}", String::from_utf8_lossy(&off.stderr));
    let unknown =
        gateway(&["admin", "disable-2fa", "--email", "nobody@example.com", "--data-dir", d]).output().unwrap();
    assert!(!unknown.status.success());

    let p = Process::start(dir, &[]);
    rt.block_on(async {
        assert_eq!(call(&p.base, "GET", "auth.get", Value::Null, &session).await.0, 401, "the browser session ended");
        let bearer = client.get(format!("{}/api/auth.get", p.base)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(bearer.status(), 200, "the API token still works");
        let (status, cookie, login) = call(&p.base, "POST", "auth.login", creds.clone(), "").await;
        assert_eq!((status, &login["is2FAEnabled"]), (200, &json!(false)));
        let (_, _, me) = call(&p.base, "GET", "auth.get", Value::Null, &cookie.unwrap()).await;
        assert_eq!((&me["is2FAEnabled"], &me["secret"]), (&json!(false), &Value::Null));
    });
}

#[tokio::test]
async fn two_replicas_on_one_postgres_share_sessions_revocations_and_throttles() {
    let Some(db) = fresh_database(Backend::Postgres) else { return };
    let [(a, _a_dir), (b, _b_dir)] = replicas(&db.url, "replica");
    let client = reqwest::Client::new();
    let post = |base: &str, path: &str, body: Value, cookie: Option<&str>| {
        let mut req = client.post(format!("{base}/api/{path}")).json(&body);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    let creds = json!({"email": "a@example.com", "password": "password-1"});
    let r = post(&a.base, "auth.createAdmin", creds.clone(), None).await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let get = |base: String, cookie: String| {
        let client = client.clone();
        async move {
            client.get(format!("{base}/api/auth.get")).header("cookie", cookie).send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(get(b.base.clone(), cookie.clone()).await, 200, "a session made on A works on B");
    assert_eq!(get(a.base.clone(), cookie.clone()).await, 200, "and on A (which now has it in memory)");
    assert_eq!(post(&b.base, "auth.logout", json!({}), Some(&cookie)).await.unwrap().status(), 200);
    assert_eq!(get(b.base.clone(), cookie.clone()).await, 401, "logout on B is seen by B at once");
    let seen_by_a = refused_within(Duration::from_secs(1), || get(a.base.clone(), cookie.clone())).await;
    eprintln!("logout on B refused by A after {seen_by_a:?}");

    let wrong = json!({"email": "a@example.com", "password": "wrong-password"});
    for i in 0..5 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        assert_eq!(post(base, "auth.login", wrong.clone(), None).await.unwrap().status(), 400);
    }
    assert_eq!(post(&a.base, "auth.login", creds.clone(), None).await.unwrap().status(), 429);
    assert_eq!(post(&b.base, "auth.login", creds, None).await.unwrap().status(), 429);
}

/// Calls `status` until it answers 401; panics if that takes longer than `limit`. Another
/// process's change reaches a gateway's memory through the store's notification (PostgreSQL)
/// or its poll of the file (SQLite), a few milliseconds after the change.
pub(crate) async fn refused_within<F: std::future::Future<Output = u16>>(
    limit: Duration,
    status: impl Fn() -> F,
) -> Duration {
    let start = std::time::Instant::now();
    loop {
        match status().await {
            401 => return start.elapsed(),
            200 if start.elapsed() < limit => tokio::time::sleep(Duration::from_millis(5)).await,
            other => panic!("still {other} after {:?}", start.elapsed()),
        }
    }
}

#[tokio::test]
async fn a_password_reset_by_the_operator_revokes_the_sessions_of_a_running_gateway() {
    let tmp = temp_dir("operator-live");
    let dir = tmp.path();
    let d = dir.to_str().unwrap().to_owned();
    let p = Process::start(dir, &[]);
    let c = reqwest::Client::new();
    let creds = json!({"email": "a@example.com", "password": "password-1"});
    let r = c.post(format!("{}/api/auth.createAdmin", p.base)).json(&creds).send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let get = || {
        let req = c.get(format!("{}/api/auth.get", p.base)).header("cookie", cookie.clone());
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get().await, 200);
    assert_eq!(get().await, 200, "answered from memory now");

    let reset = tokio::task::spawn_blocking(move || {
        let mut reset = gateway(&["admin", "reset-password", "--email", "a@example.com", "--data-dir", &d])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        reset.stdin.take().unwrap().write_all(b"brand-new-password\n").unwrap();
        reset.wait_with_output().unwrap()
    });
    assert!(reset.await.unwrap().status.success());
    let took = refused_within(Duration::from_secs(2), get).await;
    eprintln!("the reset (another process, SQLite) was seen by the gateway after {took:?}");
}

/// The README's curl walk-through, run as written against a live gateway (the 2FA and
/// invitation steps, which need values a person reads off earlier answers, are left out:
/// `auth_api.rs` covers them).
#[test]
fn readme_curl_walk_through_works_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme.split("## A walk through the Dokploy flow with curl").nth(1).expect("the walk-through");
    let block = section.split("```sh\n").nth(1).unwrap().split("```").next().unwrap();
    let mut script = String::from("set -euo pipefail\n");
    let mut skipping = false;
    for line in block.lines() {
        if line.starts_with("# 5.") {
            skipping = true;
        } else if line.starts_with("# 8.") {
            skipping = false;
        }
        if !skipping {
            script.push_str(line);
            script.push('\n');
        }
    }
    let tmp = temp_dir("readme");
    let dir = tmp.path();
    let p = Process::start(dir, &[]);
    let script = script.replace("http://127.0.0.1:3000", &p.base) + "curl -s -b jar $B/auth.get\n";
    let out = Command::new("bash").arg("-c").arg(&script).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("true{\"authId\""), "createAdmin answers true, login the account: {stdout}");
    assert!(
        stdout.matches("\"email\":\"admin@example.com\"").count() >= 3,
        "get by cookie, Bearer, x-api-key: {stdout}"
    );
    assert!(stdout.contains("UNAUTHORIZED"), "the logged-out cookie is refused at the end: {stdout}");
}

/// A request stuck on a database lock cannot keep the process alive: SIGTERM waits for it
/// until `--shutdown-timeout-secs`, then the process exits (by itself, or by its watchdog
/// with code 3 when a worker does not let go).
#[tokio::test]
async fn sigterm_ends_the_process_at_its_deadline_even_with_a_request_stuck() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let Some(db) = fresh_database(Backend::Postgres) else { return };
    let tmp = temp_dir("stuck");
    let dir = tmp.path();
    let mut p = Process::start(dir, &["--database-url", &db.url, "--shutdown-timeout-secs", "1"]);
    let c = reqwest::Client::new();
    let creds = json!({"email": "a@example.com", "password": "password-1"});
    let r = c.post(format!("{}/api/auth.createAdmin", p.base)).json(&creds).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // Another client holds the account table: the next login waits on it for as long as it is held.
    let mut holder = PgConnection::establish(&db.url).unwrap();
    holder.batch_execute("BEGIN; LOCK TABLE auth IN ACCESS EXCLUSIVE MODE;").unwrap();
    let stuck = tokio::spawn(c.post(format!("{}/api/auth.login", p.base)).json(&creds).send());
    let mut watcher = PgConnection::establish(&db.url).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let waiting = |w: &mut PgConnection| {
        diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result::<Waiting>(w)
        .unwrap()
        .n
    };
    for _ in 0..600 {
        if waiting(&mut watcher) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(waiting(&mut watcher) > 0, "the login never reached the lock");

    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || p.terminate()).await.unwrap();
    assert!(matches!(status.code(), Some(0 | 3)), "{status:?}");
    eprintln!("stopped {:?} after SIGTERM with a request stuck (deadline 1 s): {status:?}", started.elapsed());
    assert!(stuck.await.unwrap().is_err(), "the stuck request got no answer");
    holder.batch_execute("ROLLBACK").unwrap();
}

/// Two gateway processes on one PostgreSQL: concurrent wrong logins from one address, half
/// to each, for as many unknown emails, still get exactly five failures through.
#[tokio::test]
async fn two_replicas_hold_the_address_limit_together_under_concurrency() {
    let Some(db) = fresh_database(Backend::Postgres) else { return };
    let [(a, _a_dir), (b, _b_dir)] = replicas(&db.url, "limit");
    let client = reqwest::Client::new();
    let attempts = (0..40).map(|i| {
        let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
        let body = json!({"email": format!("ghost-{i}@example.com"), "password": "wrong-password"});
        let req = client.post(format!("{base}/api/auth.login")).json(&body);
        async move { req.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert!(statuses.iter().all(|s| *s == 400 || *s == 429), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 5, "{statuses:?}");
}
