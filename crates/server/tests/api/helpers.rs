//! Real gateways for tests: each on its own fresh database (SQLite, and PostgreSQL when
//! TEST_DATABASE_URL is set), listening on a loopback port, driven over HTTP. A test that
//! cannot run here says so with `skip` (a failure under CI).

use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use gateway_server::{Prepared, Settings, build_server, prepare};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tempfile::TempDir;

pub use gateway_store::testing::fresh as fresh_database;
pub use gateway_store::testing::skip;

/// Runs `scenario` against a fresh gateway on `backend`'s fresh database (a PostgreSQL
/// case is skipped when TEST_DATABASE_URL is not set: see `gateway_store::testing::skip`).
macro_rules! on_backend {
    ($backend:expr, $scenario:ident) => {
        if let Some(db) = fresh_database($backend) {
            let server = TestServer::start(&db.url).await;
            $scenario(&server).await;
            server.stop().await;
        }
    };
}

/// Settings for a test gateway, with the data directory they name: it is removed when
/// they (or the server started with them) are dropped.
pub struct TestSettings {
    settings: Settings,
    data_dir: TempDir,
}

impl std::ops::Deref for TestSettings {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.settings
    }
}

impl std::ops::DerefMut for TestSettings {
    fn deref_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }
}

/// Test settings: a fresh data directory, the given database, cheap bcrypt.
pub fn settings(database_url: &str) -> TestSettings {
    let data_dir = temp_dir("data");
    let settings = Settings {
        data_dir: data_dir.path().to_owned(),
        database_url: Some(database_url.to_owned()),
        bind: "127.0.0.1:0".parse().unwrap(),
        bcrypt_cost: 4,
        workers: Some(2),
        db_pool_size: 8,
        ..Settings::defaults()
    };
    TestSettings { settings, data_dir }
}

/// A fresh directory, removed when dropped.
pub fn temp_dir(what: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("gw-test-{what}-")).tempdir().expect("a temporary directory")
}

pub struct TestServer {
    pub base: String,
    pub addr: SocketAddr,
    pub settings: Settings,
    pub prepared: Prepared,
    handle: ServerHandle,
    _data_dir: TempDir,
}

impl TestServer {
    pub async fn start(database_url: &str) -> Self {
        Self::start_with(settings(database_url)).await
    }

    pub async fn start_with(settings: TestSettings) -> Self {
        let TestSettings { settings, data_dir } = settings;
        let prepared = {
            let s = settings.clone();
            actix_web::rt::task::spawn_blocking(move || prepare(&s)).await.unwrap().expect("gateway prepares")
        };
        let (server, addr) = build_server(&prepared, &settings).expect("gateway binds");
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestServer { base: format!("http://{addr}"), addr, settings, prepared, handle, _data_dir: data_dir }
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// An HTTP client with its own cookie jar, like one browser.
#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    base: String,
    headers: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The tRPC result data (superjson unwrapped).
    pub fn data(&self) -> &Value {
        &self.body["result"]["data"]["json"]
    }
    /// The tRPC error shape (superjson unwrapped).
    pub fn error(&self) -> &Value {
        &self.body["error"]["json"]
    }
    pub fn code(&self) -> &str {
        self.error()["data"]["code"].as_str().unwrap_or_default()
    }
    pub fn message(&self) -> &str {
        self.error()["message"].as_str().unwrap_or_default()
    }
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "expected success, got {:?}", self.body);
        self.data()
    }
    #[track_caller]
    pub fn fails(&self, status: u16, code: &str, message: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{:?}", self.body);
        if !message.is_empty() {
            assert_eq!(self.message(), message, "{:?}", self.body);
        }
    }
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
        Browser { client, base: base.to_owned(), headers: Vec::new() }
    }

    /// A new browser (its own, empty cookie jar) that sends this one's headers and
    /// `name: value` on every request.
    pub fn with_header(&self, name: &str, value: &str) -> Self {
        let mut b = Browser::new(&self.base);
        b.headers = self.headers.clone();
        b.headers.push((name.to_owned(), value.to_owned()));
        b
    }

    pub fn bearer(&self, token: &str) -> Self {
        self.with_header("authorization", &format!("Bearer {token}"))
    }

    async fn send(&self, mut req: reqwest::RequestBuilder) -> Reply {
        for (n, v) in &self.headers {
            req = req.header(n, v);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, headers, body }
    }

    /// A tRPC mutation with superjson.
    pub async fn mutation(&self, path: &str, input: Value) -> Reply {
        let req = self.client.post(format!("{}/api/trpc/{path}", self.base)).json(&json!({ "json": input }));
        self.send(req).await
    }

    /// A tRPC mutation without input.
    pub async fn mutation0(&self, path: &str) -> Reply {
        let req = self.client.post(format!("{}/api/trpc/{path}", self.base)).header("content-type", "application/json");
        self.send(req).await
    }

    /// A tRPC query with superjson; `Value::Null` sends no input.
    pub async fn query(&self, path: &str, input: Value) -> Reply {
        let mut req = self.client.get(format!("{}/api/trpc/{path}", self.base));
        if !input.is_null() {
            req = req.query(&[("input", json!({ "json": input }).to_string())]);
        }
        self.send(req).await
    }

    pub async fn rest_post(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.post(format!("{}/api/{path}", self.base)).json(&body)).await
    }

    pub async fn rest_get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.send(self.client.get(format!("{}/api/{path}", self.base)).query(query)).await
    }

    pub async fn raw(&self, req: impl FnOnce(&reqwest::Client, &str) -> reqwest::RequestBuilder) -> Reply {
        self.send(req(&self.client, &self.base)).await
    }
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password";

/// Creates the admin; the returned browser is signed in as it.
pub async fn admin(server: &TestServer) -> Browser {
    let b = server.browser();
    let r = b.mutation("auth.createAdmin", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
    assert_eq!(r.ok(), &json!(true));
    b
}

/// Invites and registers a user; the returned browser is signed in as it.
pub async fn user(server: &TestServer, admin: &Browser, email: &str, password: &str) -> (Browser, String) {
    let inv = admin.mutation("admin.createUserInvitation", json!({ "email": email })).await;
    let inv = inv.ok().clone();
    let b = server.browser();
    let id = inv["authId"].as_str().unwrap().to_owned();
    let r = b.mutation("auth.createUser", json!({"id": id, "token": inv["token"], "password": password})).await;
    assert_eq!(r.ok(), &json!(true));
    (b, id)
}

/// Decodes a `data:image/svg+xml;base64,...` QR code back to its text: the SVG's dark
/// rectangles (`M{x} {y}h{w}v{h}...`) are drawn into a raster that rqrr reads.
pub fn decode_qr_data_url(url: &str) -> String {
    let b64 = url.strip_prefix("data:image/svg+xml;base64,").expect("an SVG data URL");
    let svg = String::from_utf8(data_encoding::BASE64.decode(b64.as_bytes()).unwrap()).unwrap();
    let number_after = |key: &str| -> usize {
        let rest = &svg[svg.find(key).expect(key) + key.len()..];
        rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
    };
    let (width, height) = (number_after("width=\""), number_after("height=\""));
    let mut dark = vec![false; width * height];
    for rect in svg.split('M').skip(1) {
        let nums: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .take(4)
            .map(|s| s.parse().unwrap())
            .collect();
        let [left, top, w, h] = nums[..] else { continue };
        for y in top..(top + h).min(height) {
            for x in left..(left + w).min(width) {
                dark[y * width + x] = true;
            }
        }
    }
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| if dark[y * width + x] { 0 } else { 255 });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("a readable QR code").1
}

pub fn step_now() -> i64 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 30) as i64
}

pub fn pin(secret: &str, step: i64) -> String {
    gateway_auth::totp_code_at(secret, step).unwrap()
}

/// A six-digit pin that is none of the codes a check around `step` would accept.
pub fn wrong_pin(secret: &str, step: i64) -> String {
    let near: Vec<String> = (step - 2..=step + 2).map(|s| pin(secret, s)).collect();
    (0..).map(|n: u32| format!("{:06}", n * 7919 % 1_000_000)).find(|p| !near.contains(p)).unwrap()
}

/// Turns on 2FA for the signed-in browser; returns the secret and the step its setup pin used.
pub async fn enable_2fa(b: &Browser) -> (String, i64) {
    let r = b.query("auth.generate2FASecret", Value::Null).await;
    let out = r.ok();
    let secret = out["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 24);
    let uri = decode_qr_data_url(out["qrCodeUrl"].as_str().unwrap());
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/Dokploy:admin%40example.com?secret={secret}&issuer=Dokploy&algorithm=SHA1&digits=6&period=30"
        )
    );
    let step = step_now();
    let bad = b.mutation("auth.verify2FASetup", json!({"pin": wrong_pin(&secret, step), "secret": secret})).await;
    bad.fails(400, "BAD_REQUEST", "Invalid 2FA code");
    let r = b.mutation("auth.verify2FASetup", json!({"pin": pin(&secret, step), "secret": secret})).await;
    assert_eq!((r.ok()["is2FAEnabled"].as_bool(), &r.ok()["secret"]), (Some(true), &Value::Null));
    (secret, step)
}
