//! A real database outage: the test runs its own PostgreSQL cluster (initdb and pg_ctl under
//! a temp dir, on a free port), stops it under a running gateway, and starts it again.
//! Once the gateway knows the database is down, calls answer 503 SERVICE_UNAVAILABLE at
//! once, not after the pool timeout (10 s here), /ready says not ready and /health stays up;
//! a probe reconnects in the background, and the first call after the database is back
//! succeeds. Skipped when PostgreSQL's server binaries are not installed (a failure under CI).

#[allow(unused_imports)] // the shared helpers re-export more than this test uses
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::*;
use serde_json::{Value, json};

/// Long, so that an answer that waited for the pool could not pass for a fast one.
const DB_TIMEOUT: Duration = Duration::from_secs(10);
/// What "at once" means below: a tenth of the pool timeout. (Measured: a few milliseconds.)
const FAST: Duration = Duration::from_secs(1);

/// A throwaway PostgreSQL cluster; dropping it stops it and deletes its files.
struct Cluster {
    bin: PathBuf,
    /// Removed after the server stops (fields drop after `drop`).
    dir: tempfile::TempDir,
    port: u16,
}

fn pg_bin() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.filter_map(Result::ok).map(|d| d.path().join("bin")).collect())
        .unwrap_or_default();
    candidates.sort();
    candidates.reverse();
    candidates.push("/usr/local/bin".into());
    candidates.push("/usr/bin".into());
    candidates.into_iter().find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl Cluster {
    fn init() -> Option<Cluster> {
        let bin = pg_bin()?;
        let dir = temp_dir("pg");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if is_root() {
            // initdb refuses to run as root: the cluster belongs to the postgres user.
            assert!(Command::new("chown").args(["-R", "postgres:"]).arg(dir.path()).status().unwrap().success());
        }
        let cluster = Cluster { bin, dir, port };
        let data = cluster.data();
        cluster.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]);
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let tool = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&tool);
            c
        } else {
            Command::new(&tool)
        };
        let out = cmd.args(args).current_dir(self.dir.path()).output().unwrap();
        assert!(out.status.success(), "{tool:?} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-o", &options, "-w", "-t", "60", "start"]);
    }

    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(if is_root() { "runuser" } else { "true" })
            .args(if is_root() { vec!["-u", "postgres", "--"] } else { vec![] })
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

async fn blocking(f: impl FnOnce() + Send + 'static) {
    actix_web::rt::task::spawn_blocking(f).await.unwrap();
}

async fn timed(f: impl std::future::Future<Output = Reply>) -> (Reply, Duration) {
    let start = Instant::now();
    let reply = f.await;
    (reply, start.elapsed())
}

#[actix_web::test]
async fn a_database_outage_answers_503_quickly_and_recovers_without_a_restart() {
    let Some(cluster) = Cluster::init() else {
        skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed");
        return;
    };
    let cluster = std::sync::Arc::new(cluster);
    let c = cluster.clone();
    blocking(move || c.start()).await;

    let mut settings = settings(&cluster.url());
    settings.db_timeout_secs = DB_TIMEOUT.as_secs();
    settings.db_pool_size = 4;
    let s = TestServer::start_with(settings).await;
    let admin = admin(&s).await;
    let token = admin.mutation("auth.generateToken", Value::Null).await;
    let api = s.browser().bearer(token.ok()["token"].as_str().unwrap());
    assert_eq!(api.query("auth.get", Value::Null).await.status, 200);
    // Fill the pool with connections that the outage will leave stale.
    futures_util::future::join_all((0..8).map(|_| api.query("auth.get", Value::Null))).await;

    let c = cluster.clone();
    blocking(move || c.stop()).await;
    let down = Instant::now();

    // The first call finds out (a pooled connection fails, or a new one cannot be made);
    // every call after it is refused without waiting.
    let (first, first_took) = timed(api.query("auth.get", Value::Null)).await;
    first.fails(503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable");
    assert!(first_took < FAST, "the first call took {first_took:?} to find the database down");
    let mut slowest = Duration::ZERO;
    for i in 0..10 {
        let (r, took) = if i % 2 == 0 {
            timed(api.query("auth.get", Value::Null)).await
        } else {
            timed(admin.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))).await
        };
        r.fails(503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable");
        assert!(took < FAST, "a call took {took:?} while the database was known to be down");
        slowest = slowest.max(took);
    }
    let (ready, ready_took) = timed(s.browser().raw(|c, base| c.get(format!("{base}/ready")))).await;
    assert_eq!((ready.status, &ready.body["status"]), (503, &json!("unavailable")));
    assert!(ready_took < FAST, "{ready_took:?}");
    let (health, health_took) = timed(s.browser().raw(|c, base| c.get(format!("{base}/health")))).await;
    assert_eq!(health.status, 200);
    assert!(health_took < FAST, "{health_took:?}");
    eprintln!(
        "database down for {:?}: the first call answered 503 in {first_took:?}, the next ten within {slowest:?} \
         (pool timeout {DB_TIMEOUT:?}), /ready 503 in {ready_took:?}, /health 200 in {health_took:?}",
        down.elapsed()
    );

    let c = cluster.clone();
    blocking(move || c.start()).await;
    let up = Instant::now();
    let mut failed = 0;
    loop {
        let r = api.query("auth.get", Value::Null).await;
        if r.status == 200 {
            break;
        }
        r.fails(503, "SERVICE_UNAVAILABLE", "");
        failed += 1;
        assert!(up.elapsed() < Duration::from_secs(15), "no recovery 15 s after the database came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = up.elapsed();
    assert!(recovered < Duration::from_secs(5), "first success {recovered:?} after the database was back");
    // Recovered for good: no stale connection is left to fail a later call.
    for _ in 0..20 {
        assert_eq!(api.query("auth.get", Value::Null).await.status, 200);
    }
    let again = futures_util::future::join_all((0..8).map(|_| api.query("auth.get", Value::Null))).await;
    assert!(again.iter().all(|r| r.status == 200), "{again:?}");
    assert_eq!(s.browser().raw(|c, base| c.get(format!("{base}/ready"))).await.status, 200);
    let login = s.browser().mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
    login.ok();
    eprintln!("database back: first success after {recovered:?} and {failed} failed calls");

    // A restart with no call in between leaves every pooled connection stale: the first call
    // on one fails (503, at once), the probe reconnects and renews the pool, and from then on
    // every call succeeds; meanwhile calls are refused at once.
    futures_util::future::join_all((0..8).map(|_| api.query("auth.get", Value::Null))).await;
    let c = cluster.clone();
    blocking(move || {
        c.stop();
        c.start();
    })
    .await;
    let restarted = Instant::now();
    let mut statuses = Vec::new();
    while !statuses.ends_with(&[200; 20]) {
        let (r, took) = timed(api.query("auth.get", Value::Null)).await;
        statuses.push(r.status);
        if r.status != 200 {
            r.fails(503, "SERVICE_UNAVAILABLE", "");
            assert!(took < FAST, "a stale connection failed slowly: {took:?}");
            assert!(!statuses.contains(&200), "a failure after the recovery: {statuses:?}");
        }
        assert!(restarted.elapsed() < Duration::from_secs(15), "no recovery after the restart: {statuses:?}");
    }
    assert_eq!(statuses[0], 503, "the first call, on a stale connection, fails: {statuses:?}");
    let failed = statuses.iter().filter(|s| **s != 200).count();
    eprintln!("after a quick restart: {failed} failed calls in {:?}, then all succeed", restarted.elapsed());
    s.stop().await;
}
