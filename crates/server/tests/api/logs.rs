//! The logs of the real binary: a whole Dokploy flow at `--log-level trace` (text, then
//! JSON) leaks none of the secrets it used, and the JSON run carries one audit event
//! (`target = "audit"`) per security-relevant action, with auth id, client and request id.
//! The metrics text after the same flow counts exactly what it did, and holds no secret,
//! id, email or address either. Each runs on SQLite and on PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway_store::Backend;
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::fresh_database;

const BIN: &str = env!("CARGO_BIN_EXE_auth-gateway");

/// The gateway process, on the database `database_url`; every stderr line is kept.
struct Gateway {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
    _data_dir: tempfile::TempDir,
}

/// What `find` takes from the first log line it accepts, once the process has written it
/// (within a minute).
fn wait_for_line<T>(log: &Mutex<Vec<String>>, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = log.lock().unwrap().iter().find_map(|l| find(l)) {
            return found;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no {what} line: {:?}", log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Gateway {
    #[allow(clippy::zombie_processes)] // Drop kills and waits for the child.
    fn start(database_url: &str, extra: &[&str]) -> Gateway {
        let dir = crate::helpers::temp_dir("logs");
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--bcrypt-cost", "4", "--data-dir", dir.path().to_str().unwrap()])
            .args(["--database-url", database_url])
            .args(extra)
            .env_remove("DATABASE_URL")
            .env_remove("GATEWAY_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (sink, stderr) = (Arc::clone(&log), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let port = wait_for_line(&log, "start-up", |l| {
            let rest = l.split("http://127.0.0.1:").nth(1)?;
            Some(rest.chars().take_while(char::is_ascii_digit).collect::<String>())
        });
        Gateway { child, base: format!("http://127.0.0.1:{port}"), log, _data_dir: dir }
    }

    /// The metrics listener's URL, from its start-up line (written after the main one).
    fn metrics_url(&self) -> String {
        wait_for_line(&self.log, "metrics start-up", |l| {
            let address = l.contains("metrics listening").then(|| l.split("address=").nth(1))??;
            Some(address.split_whitespace().next()?.to_owned())
        })
    }

    /// Stops the process (SIGTERM, so everything is flushed) and returns its log.
    fn finish(mut self) -> Vec<String> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of cookie `name` in a response's Set-Cookie headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}="))?.split(';').next().map(str::to_owned))
        .filter(|v| !v.is_empty())
}

fn step_now() -> i64 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 30) as i64
}

fn pin(secret: &str, step: i64) -> String {
    gateway_auth::totp_code_at(secret, step).unwrap()
}

struct Flow {
    client: Client,
    base: String,
    secrets: Vec<(&'static str, String)>,
}

impl Flow {
    fn post(&self, path: &str, body: Value, cookies: &[(&str, &str)]) -> RequestBuilder {
        self.with_cookies(self.client.post(format!("{}/api/{path}", self.base)).json(&body), cookies)
    }
    fn get(&self, path: &str, cookies: &[(&str, &str)]) -> RequestBuilder {
        self.with_cookies(self.client.get(format!("{}/api/{path}", self.base)), cookies)
    }
    fn with_cookies(&self, req: RequestBuilder, cookies: &[(&str, &str)]) -> RequestBuilder {
        let header: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
        if header.is_empty() { req } else { req.header("cookie", header.join("; ")) }
    }
    fn secret(&mut self, what: &'static str, value: &str) -> String {
        self.secrets.push((what, value.to_owned()));
        value.to_owned()
    }
}

async fn send(req: RequestBuilder, status: u16) -> (HeaderMap, Value) {
    let res = req.send().await.unwrap();
    assert_eq!(res.status().as_u16(), status, "{:?}", res.url().path());
    let headers = res.headers().clone();
    let body = res.text().await.unwrap();
    (headers, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

const SESSION: &str = "auth_session";
const CHALLENGE: &str = "auth_2fa_challenge";
const DEVICE: &str = "auth_device";

/// The whole flow over HTTP; returns every secret it used or received.
async fn dokploy_flow(base: &str) -> Vec<(&'static str, String)> {
    let mut f = Flow { client: Client::new(), base: base.to_owned(), secrets: Vec::new() };
    let admin_pw = f.secret("admin password", "Admin-Pa55word-x1");
    let creds = json!({"email": "admin@example.com", "password": admin_pw});
    let (r, _) = send(f.post("auth.createAdmin", creds.clone(), &[]), 200).await;
    f.secret("createAdmin session cookie", &cookie(&r, SESSION).unwrap());
    let wrong = f.secret("wrong password", "Wrong-Pa55word-y2");
    send(f.post("auth.login", json!({"email": "admin@example.com", "password": wrong}), &[]), 400).await;
    let (r, _) = send(f.post("auth.login", creds.clone(), &[]), 200).await;
    let admin = f.secret("login session cookie", &cookie(&r, SESSION).unwrap());
    let device = f.secret("device cookie", &cookie(&r, DEVICE).unwrap());
    send(f.post("auth.login", creds, &[(DEVICE, &device)]), 200).await;
    send(f.get("auth.get", &[(SESSION, &admin)]), 200).await;
    let (_, out) = send(f.post("auth.generateToken", json!({}), &[(SESSION, &admin)]), 200).await;
    let token = f.secret("API token", out["token"].as_str().unwrap());
    send(f.get("auth.get", &[]).bearer_auth(&token), 200).await;
    send(f.get("auth.get", &[]).header("x-api-key", &token), 200).await;

    // An invitation, read through a query string (REST and tRPC), then redeemed.
    let (_, inv) =
        send(f.post("admin.createUserInvitation", json!({"email": "dev@example.com"}), &[(SESSION, &admin)]), 200)
            .await;
    let invitation = f.secret("invitation token", inv["token"].as_str().unwrap());
    let user_id = inv["authId"].as_str().unwrap().to_owned();
    send(f.get(&format!("admin.getUserByToken?token={invitation}"), &[]), 200).await;
    let input = json!({"json": {"token": invitation}}).to_string();
    let q = f.client.get(format!("{base}/api/trpc/admin.getUserByToken")).query(&[("input", input)]);
    send(q, 200).await;
    let user_pw = f.secret("user password", "User-Pa55word-z3");
    let body = json!({"id": user_id, "token": invitation, "password": user_pw});
    let (r, _) = send(f.post("auth.createUser", body, &[]), 200).await;
    let user = f.secret("createUser session cookie", &cookie(&r, SESSION).unwrap());

    let new_pw = f.secret("new user password", "New-Pa55word-w4");
    let body = json!({"password": new_pw, "currentPassword": user_pw});
    send(f.post("auth.update", body, &[(SESSION, &user)]), 200).await;
    send(f.post("auth.update", json!({"email": "dev2@example.com"}), &[(SESSION, &user)]), 200).await;

    // Two-factor: setup, then a login challenge, a wrong pin and the right one.
    let (_, out) = send(f.get("auth.generate2FASecret", &[(SESSION, &user)]), 200).await;
    let secret = f.secret("TOTP secret", out["secret"].as_str().unwrap());
    let step = step_now();
    let setup_pin = f.secret("setup pin", &pin(&secret, step));
    send(f.post("auth.verify2FASetup", json!({"secret": secret, "pin": setup_pin}), &[(SESSION, &user)]), 200).await;
    let creds = json!({"email": "dev2@example.com", "password": new_pw});
    let (r, _) = send(f.post("auth.login", creds, &[]), 200).await;
    let challenge = f.secret("challenge cookie", &cookie(&r, CHALLENGE).unwrap());
    let near: Vec<String> = (step - 2..=step + 3).map(|s| pin(&secret, s)).collect();
    let bad_pin = (0..).map(|n: u32| format!("{:06}", n * 7919 % 1_000_000)).find(|p| !near.contains(p)).unwrap();
    let bad_pin = f.secret("wrong pin", &bad_pin);
    let body = json!({"id": user_id, "pin": bad_pin});
    send(f.post("auth.verifyLogin2FA", body, &[(CHALLENGE, &challenge)]), 400).await;
    let login_pin = f.secret("login pin", &pin(&secret, step + 1));
    let body = json!({"id": user_id, "pin": login_pin});
    let (r, _) = send(f.post("auth.verifyLogin2FA", body, &[(CHALLENGE, &challenge)]), 200).await;
    let user = f.secret("2FA session cookie", &cookie(&r, SESSION).unwrap());
    send(f.post("auth.disable2FA", json!({}), &[(SESSION, &user)]), 200).await;
    send(f.post("auth.logout", json!({}), &[(SESSION, &user)]), 200).await;

    // Last: failures from this address until the throttle trips.
    let wrong = json!({"email": "dev2@example.com", "password": "Wrong-Pa55word-y2"});
    for _ in 0..3 {
        send(f.post("auth.login", wrong.clone(), &[]), 400).await;
    }
    send(f.post("auth.login", wrong, &[]), 429).await;
    f.secrets
}

/// A six-digit pin counts as leaked only as a number of its own, outside the timestamp
/// that starts each line (a timestamp's microseconds may be any six digits).
fn leaks(line: &str, secret: &str) -> bool {
    let is_pin = secret.len() == 6 && secret.bytes().all(|b| b.is_ascii_digit());
    if !is_pin {
        return line.contains(secret);
    }
    let body = match serde_json::from_str::<Value>(line) {
        Ok(mut v) => {
            v.as_object_mut().map(|o| o.remove("timestamp"));
            v.to_string()
        }
        Err(_) => line.split_once(' ').map_or(line, |(_, rest)| rest).to_owned(),
    };
    body.split(|c: char| !c.is_ascii_alphanumeric()).any(|word| word == secret)
}

fn assert_no_secrets(log: &[String], secrets: &[(&str, String)]) {
    assert!(log.len() > 50, "the flow should log plenty at trace: {} lines", log.len());
    // The capture works: what is not secret (a path) is there.
    assert!(log.iter().any(|l| l.contains("/api/admin.getUserByToken")), "no request in the log");
    for (what, secret) in secrets {
        let hits: Vec<&String> = log.iter().filter(|l| leaks(l, secret)).collect();
        assert!(
            hits.is_empty(),
            "the {what} appears in the log:\n{}",
            hits.iter().take(5).map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
        );
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn trace_logs_of_a_whole_flow_hold_no_secret(#[case] backend: Backend) {
    let Some(db) = fresh_database(backend) else { return };
    let gw = Gateway::start(&db.url, &["--log-level", "trace"]);
    let secrets = dokploy_flow(&gw.base.clone()).await;
    let log = gw.finish();
    eprintln!("{} log lines, {} secrets checked", log.len(), secrets.len());
    assert_no_secrets(&log, &secrets);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn json_logs_hold_no_secret_and_an_audit_event_per_action(#[case] backend: Backend) {
    let Some(db) = fresh_database(backend) else { return };
    let gw = Gateway::start(&db.url, &["--log-level", "trace", "--log-format", "json"]);
    let secrets = dokploy_flow(&gw.base.clone()).await;
    let log = gw.finish();
    assert_no_secrets(&log, &secrets);

    let audit: Vec<Value> =
        log.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|v| v["target"] == "audit").collect();
    for e in &audit {
        assert!(e["request_id"].as_str().is_some_and(|id| id.len() >= 32), "{e}");
        assert_eq!(e["client"], "127.0.0.1", "{e}");
    }
    let events = |name: &str| audit.iter().filter(|e| e["event"] == name).collect::<Vec<_>>();
    // (event, how many, each carries an auth id)
    for (name, count) in [
        ("admin_created", 1),
        ("login_failed", 4),
        ("login_succeeded", 3),
        ("api_token_generated", 1),
        ("invitation_created", 1),
        ("invitation_accepted", 1),
        ("password_changed", 1),
        ("email_changed", 1),
        ("2fa_enabled", 1),
        ("login_password_step", 1),
        ("2fa_failed", 1),
        ("2fa_disabled", 1),
        ("logout", 1),
        ("throttled", 1),
    ] {
        let found = events(name);
        assert_eq!(found.len(), count, "{name}: {found:?}");
        for e in found {
            assert!(e["auth_id"].as_str().is_some_and(|id| id.len() == 21), "{name} without auth_id: {e}");
        }
    }
    assert!(events("login_failed").iter().all(|e| e["reason"] == "credentials"));
    assert!(events("throttled")[0]["retry_after"].as_u64().is_some());
}

/// The value of each series in a metrics text (`name{labels}` as written).
async fn scrape(url: &str) -> (String, std::collections::HashMap<String, f64>) {
    let res = Client::new().get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    let values = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(series, value)| (series.to_owned(), value.parse::<f64>().unwrap()))
        .collect();
    (text, values)
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn metrics_count_a_whole_flow_exactly_and_hold_no_secret(#[case] backend: Backend) {
    let Some(db) = fresh_database(backend) else { return };
    // Through a trusted proxy header, so that one login can come from an address the flow
    // has not throttled.
    let gw = Gateway::start(&db.url, &["--metrics-bind", "127.0.0.1:0", "--client-ip-header", "x-forwarded-for"]);
    let url = gw.metrics_url();
    let (_, before) = scrape(&url).await;
    let secrets = dokploy_flow(&gw.base.clone()).await;
    let client = Client::new();
    let unknown = json!({"email": "nobody@example.com", "password": "Any-Pa55word-v5"});
    let req = client.post(format!("{}/api/auth.login", gw.base)).header("x-forwarded-for", "192.0.2.7").json(&unknown);
    send(req, 400).await;
    // Paths no procedure has share one label, whatever they spell.
    for path in ["nobody@example.com", "x.Wrong-Pa55word-y2", "\u{1F600}.y"] {
        send(client.get(format!("{}/api/trpc/{path}", gw.base)), 404).await;
    }
    let (text, after) = scrape(&url).await;
    let moved = |series: &str| after.get(series).copied().unwrap_or(0.0) - before.get(series).copied().unwrap_or(0.0);

    // What the flow did: see `dokploy_flow`.
    for (outcome, count) in [
        ("success", 3.0),
        ("wrong_password", 4.0),
        ("unknown_account", 1.0),
        ("throttled", 1.0),
        ("2fa_required", 1.0),
        ("2fa_failed", 1.0),
    ] {
        assert_eq!(moved(&format!("auth_gateway_logins_total{{outcome=\"{outcome}\"}}")), count, "{outcome}\n{text}");
    }
    for (procedure, code, count) in [
        ("auth.login", "OK", 3.0),
        ("auth.login", "BAD_REQUEST", 5.0),
        ("auth.login", "TOO_MANY_REQUESTS", 1.0),
        ("auth.verifyLogin2FA", "OK", 1.0),
        ("auth.verifyLogin2FA", "BAD_REQUEST", 1.0),
        ("auth.get", "OK", 3.0),
        ("admin.getUserByToken", "OK", 2.0),
        ("auth.update", "OK", 2.0),
        ("auth.logout", "OK", 1.0),
        ("auth.createAdmin", "OK", 1.0),
        ("unknown", "NOT_FOUND", 3.0),
    ] {
        let series = format!("auth_gateway_calls_total{{procedure=\"{procedure}\",code=\"{code}\"}}");
        assert_eq!(moved(&series), count, "{series}\n{text}");
    }
    assert_eq!(moved("auth_gateway_call_duration_seconds_count{procedure=\"auth.login\"}"), 9.0);
    // Every password check and hash waited in the queue once, and none waits now.
    assert!(moved("auth_gateway_password_wait_seconds_count") >= 9.0, "{text}");
    assert_eq!(after["auth_gateway_password_queue_depth"], 0.0);
    // Sessions and API tokens were answered from the caches.
    assert!(moved("auth_gateway_cache_lookups_total{cache=\"session\",result=\"hit\"}") >= 1.0, "{text}");
    assert!(moved("auth_gateway_cache_lookups_total{cache=\"token\",result=\"hit\"}") >= 1.0, "{text}");
    assert_eq!(after["auth_gateway_store_up"], 1.0);
    assert_eq!(after["auth_gateway_auth_epoch_watcher_up"], 1.0);
    assert!(after["auth_gateway_store_connections_in_use"] <= after["auth_gateway_store_connections_open"]);
    assert!(after["auth_gateway_store_connections_open"] <= after["auth_gateway_store_connections_max"]);
    assert!(moved("auth_gateway_store_checkout_wait_seconds_count") >= 1.0, "{text}");

    // Nothing from the callers in any series: no secret, email, id or address.
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for (what, secret) in &secrets {
        assert!(!lines.iter().any(|l| leaks(l, secret)), "the {what} appears in the metrics");
    }
    for word in ["@", "example", "127.0.0.1", "192.0.2.7", "Pa55word", "\u{1F600}"] {
        assert!(!text.contains(word), "{word:?} appears in the metrics:\n{text}");
    }
}
