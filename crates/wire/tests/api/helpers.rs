//! A small test router and helpers shared by the HTTP integration tests.
//!
//! Procedures: `test.echo` (validated query), `test.add` (mutation), `test.ping` (no input),
//! `test.raw` (returns its decoded input untouched), `test.slow` (sleeps), `test.fail`
//! (internal error with a secret cause), `test.panic`, `test.throttled` (429), `test.cookie`
//! (sets a cookie and a header),
//! `test.whoami` (protected), `test.adminonly` (admin, validated input).
//! Callers authenticate with `Authorization: Bearer user` or `Bearer admin`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use actix_web::web::Bytes;
use actix_web::{App, HttpServer};
use futures_util::future::BoxFuture;
use gateway_wire::{
    Authenticator, CredentialSource, Ctx, Gateway, Identity, NoInput, Registry, RpcError, WireConfig, response_headers,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Appears only in internal causes: a body containing it is a leak.
pub const SECRET: &str = "hunter2@postgres://admin:s3cr3t@db:5432";
pub const SLOW: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, Deserialize, Serialize, garde::Validate, JsonSchema)]
pub struct EchoInput {
    #[garde(email)]
    pub email: String,
    #[garde(length(min = 8))]
    pub password: String,
    #[garde(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<i64>,
}

#[derive(Debug, Deserialize, garde::Validate, JsonSchema)]
pub struct AddInput {
    #[garde(skip)]
    pub a: i64,
    #[garde(skip)]
    pub b: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Sum {
    pub sum: i64,
}

#[derive(Debug, Deserialize, garde::Validate, JsonSchema)]
pub struct AdminInput {
    #[garde(length(min = 3))]
    pub reason: String,
}

/// Any JSON: lets a test see exactly what the transformer handed the procedure.
#[derive(Debug, Deserialize, garde::Validate, JsonSchema)]
#[serde(transparent)]
pub struct Raw(#[garde(skip)] pub Value);

gateway_wire::procedures! {
    Echo: "test.echo", Query, Public, |_ctx, input: EchoInput| -> EchoInput { Ok(input) }
    Add: "test.add", Mutation, Public, |_ctx, input: AddInput| -> Sum { Ok(Sum { sum: input.a + input.b }) }
    Ping: "test.ping", Query, Public, |_ctx, _input: NoInput| -> String { Ok("pong".into()) }
    RawEcho: "test.raw", Query, Public, |_ctx, input: Raw| -> Value { Ok(input.0) }
    Slow: "test.slow", Query, Public, |_ctx, _input: NoInput| -> String {
        tokio::time::sleep(SLOW).await;
        Ok("done".into())
    }
    Fail: "test.fail", Query, Public, |_ctx, _input: NoInput| -> String {
        Err(RpcError::internal(format!("connect {SECRET} failed: relation \"users\" does not exist")))
    }
    Panic: "test.panic", Query, Public, |_ctx, _input: NoInput| -> String { panic!("boom: {SECRET}") }
    Throttled: "test.throttled", Query, Public, |_ctx, _input: NoInput| -> String {
        Err(RpcError::too_many_requests(42))
    }
    SetsCookie: "test.cookie", Query, Public, |ctx, _input: NoInput| -> String {
        ctx.set_cookie(gateway_wire::Cookie::build("flavour", "oat").path("/").http_only(true).finish());
        ctx.set_header("x-test", "yes");
        Ok("ok".into())
    }
    WhoAmI: "test.whoami", Query, Protected, |ctx, _input: NoInput| -> String {
        Ok(ctx.caller()?.subject.clone())
    }
    AdminOnly: "test.adminonly", Query, Admin, |ctx, input: AdminInput| -> Value {
        Ok(json!({ "subject": ctx.caller()?.subject, "reason": input.reason }))
    }
}

/// `Bearer user` is a plain user, `Bearer admin` an administrator; anything else is anonymous.
pub struct TestAuth;

impl Authenticator for TestAuth {
    fn authenticate<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Option<Identity>, RpcError>> {
        Box::pin(async move {
            let identity = |subject: &str, admin| Identity {
                subject: subject.into(),
                admin,
                email: Some(format!("{subject}@example.com")),
                session_id: format!("session-of-{subject}"),
                source: CredentialSource::Bearer,
                details: None,
            };
            Ok(match ctx.bearer() {
                Some("user") => Some(identity("user-1", false)),
                Some("admin") => Some(identity("admin-1", true)),
                _ => None,
            })
        })
    }
}

pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(Echo)
        .register(Add)
        .register(Ping)
        .register(RawEcho)
        .register(Slow)
        .register(Fail)
        .register(Panic)
        .register(Throttled)
        .register(SetsCookie)
        .register(WhoAmI)
        .register(AdminOnly)
        .authenticate_with(TestAuth);
    r
}

pub fn gateway_with(config: WireConfig) -> Arc<Gateway> {
    Arc::new(Gateway::new(registry(), config))
}

pub fn gateway() -> Arc<Gateway> {
    gateway_with(WireConfig::default())
}

/// The app as the server mounts it: gateway routes, security headers, request ids.
pub async fn app(
    gateway: &Arc<Gateway>,
) -> impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    test::init_service(
        App::new()
            .configure(|c| gateway.configure(c))
            .wrap(actix_web::middleware::from_fn(response_headers))
            .wrap(tracing_actix_web::TracingLogger::default()),
    )
    .await
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request to an app; every response must carry the security headers and a request id.
pub async fn call<S, B>(app: &S, req: TestRequest) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, req.to_request()).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = test::read_body(res).await;
    let reply = Reply { status, headers, body };
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"), "{reply:?}");
    assert!(reply.header("x-request-id").is_some_and(|id| !id.is_empty()), "{reply:?}");
    reply
}

/// Sends one request to a fresh app over `gateway`.
pub async fn send(gateway: &Arc<Gateway>, req: TestRequest) -> Reply {
    call(&app(gateway).await, req).await
}

/// `{"json": value}`: a superjson payload without meta.
pub fn sj(value: Value) -> Value {
    json!({ "json": value })
}

/// The superjson encoding of an absent input.
pub fn sj_undefined() -> Value {
    json!({ "json": null, "meta": { "values": ["undefined"], "v": 1 } })
}

pub fn valid_echo() -> Value {
    json!({ "email": "a@b.co", "password": "12345678", "n": 5 })
}

/// `/api/trpc/{paths}?[batch=1&][input=..]`, input URL-encoded.
pub fn trpc_url(paths: &str, batch: bool, input: Option<&Value>) -> String {
    let mut params = Vec::new();
    if batch {
        params.push(("batch", "1".to_owned()));
    }
    if let Some(input) = input {
        params.push(("input", input.to_string()));
    }
    let query = serde_urlencoded::to_string(&params).expect("encodable");
    if query.is_empty() { format!("/api/trpc/{paths}") } else { format!("/api/trpc/{paths}?{query}") }
}

pub fn get(uri: &str) -> TestRequest {
    TestRequest::get().uri(uri)
}

pub fn post_json(uri: &str, body: &Value) -> TestRequest {
    TestRequest::post().uri(uri).insert_header(("content-type", "application/json")).set_payload(body.to_string())
}

pub fn bearer(req: TestRequest, token: &str) -> TestRequest {
    req.insert_header(("authorization", format!("Bearer {token}")))
}

/// The data of a superjson success item: `{"result": {"data": {"json": data}}}`.
pub fn sj_data(item: &Value) -> &Value {
    assert!(item.get("error").is_none(), "expected a result, got {item}");
    &item["result"]["data"]["json"]
}

/// Checks a superjson tRPC error item `{"error": {"json": shape}}` and returns the shape.
pub fn sj_error<'a>(item: &'a Value, http_status: u16, key: &str) -> &'a Value {
    let shape = &item["error"]["json"];
    assert!(shape["message"].is_string(), "error without a message: {item}");
    assert!(shape["code"].is_i64(), "error without a numeric code: {item}");
    assert_eq!(shape["data"]["code"], key, "{item}");
    assert_eq!(shape["data"]["httpStatus"], http_status, "{item}");
    shape
}

/// A real server on 127.0.0.1:0, for tests where timing on the wire matters.
pub struct TestServer {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
}

impl TestServer {
    pub async fn start(gateway: Arc<Gateway>) -> Self {
        let server = HttpServer::new(move || {
            let gateway = Arc::clone(&gateway);
            App::new()
                .configure(move |c| gateway.configure(c))
                .wrap(actix_web::middleware::from_fn(response_headers))
                .wrap(tracing_actix_web::TracingLogger::default())
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind a free port");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self { base: format!("http://{addr}"), handle }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
