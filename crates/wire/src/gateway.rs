//! The gateway: a registry, its settings, and the actix-web routes that serve it.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder, web};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tracing_actix_web::RequestId;

use crate::context::{Ctx, RequestInfo};
use crate::error::{ErrorCode, RpcError};
use crate::origin::OriginPolicy;
use crate::registry::Registry;
use crate::superjson::Transformer;
use crate::{openapi, rest, trpc};

/// Settings of the wire layer.
#[derive(Debug, Clone)]
pub struct WireConfig {
    pub transformer: Transformer,
    /// Accept queries over POST (tRPC's `methodOverride: 'POST'`).
    pub method_override: bool,
    pub max_body_bytes: usize,
    pub max_batch_calls: usize,
    /// Header a trusted reverse proxy appends the client address to (e.g. `x-forwarded-for`);
    /// the right-most entry of its last line is used. `None`: the socket's peer address.
    pub client_ip_header: Option<String>,
    /// Longest time a client may take to send its body: a stalled upload answers 408
    /// instead of holding the request forever.
    pub body_timeout: Duration,
    /// Which browser origins may send state-changing requests.
    pub origins: OriginPolicy,
    /// Cookie that carries a session, named in the OpenAPI document.
    pub session_cookie: String,
    pub title: String,
    pub version: String,
}

impl Default for WireConfig {
    fn default() -> Self {
        Self {
            transformer: Transformer::Superjson,
            method_override: true,
            max_body_bytes: 1024 * 1024,
            max_batch_calls: 50,
            client_ip_header: None,
            body_timeout: Duration::from_secs(10),
            origins: OriginPolicy::default(),
            session_cookie: "auth_session".into(),
            title: "API".into(),
            version: "0.0.0".into(),
        }
    }
}

/// Tells `/ready` whether the service's dependencies answer.
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

pub struct Gateway {
    registry: Registry,
    config: WireConfig,
    readiness: Option<ReadinessCheck>,
    openapi: Value,
}

impl Gateway {
    pub fn new(registry: Registry, config: WireConfig) -> Self {
        let openapi = openapi::document(&registry, &config);
        Self { registry, config, readiness: None, openapi }
    }

    pub fn with_readiness(mut self, check: ReadinessCheck) -> Self {
        self.readiness = Some(check);
        self
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
    pub fn config(&self) -> &WireConfig {
        &self.config
    }
    pub fn openapi(&self) -> &Value {
        &self.openapi
    }

    /// Mounts `/health`, `/ready`, `/api/openapi.json`, `/api/trpc/..` and `/api/{path}`.
    pub fn configure(self: &Arc<Self>, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::from(Arc::clone(self)))
            .route("/health", web::get().to(health))
            .route("/ready", web::get().to(ready))
            .route("/api/openapi.json", web::get().to(openapi_json))
            .service(web::resource("/api/trpc/{tail:.*}").to(trpc::handle))
            .service(web::resource("/api/{path}").to(rest::handle));
    }

    /// A whole-request error as the tRPC surface sends it (`{"error": shape}`).
    pub(crate) fn trpc_error_body(&self, e: &RpcError) -> Value {
        json!({ "error": self.config.transformer.encode(e.trpc_shape(None)) })
    }

    pub(crate) fn context(&self, req: &HttpRequest) -> Ctx {
        Ctx::new(request_info(req, &self.config), self.registry.authenticator())
    }
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn ready(gateway: web::Data<Gateway>) -> HttpResponse {
    let ok = match &gateway.readiness {
        Some(check) => check().await,
        None => true,
    };
    if ok {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable" }))
    }
}

async fn openapi_json(gateway: web::Data<Gateway>) -> HttpResponse {
    HttpResponse::Ok().json(gateway.openapi())
}

/// Answer for paths no route matches, in the one error shape.
pub async fn not_found() -> HttpResponse {
    let e = RpcError::not_found("Not found");
    status_of(&e).json(e.rest_body())
}

/// Adds the request id and the security headers to every response.
pub async fn response_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        headers.insert(HeaderName::from_static("x-request-id"), id);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

fn request_info(req: &HttpRequest, config: &WireConfig) -> RequestInfo {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let client_addr = config
        .client_ip_header
        .as_deref()
        .and_then(|name| forwarded_client(req, name))
        .or_else(|| req.peer_addr().map(|a| a.ip()));
    let bearer = header("authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let cookies = req
        .cookies()
        .map(|jar| jar.iter().map(|c| (c.name().to_owned(), c.value().to_owned())).collect())
        .unwrap_or_default();
    RequestInfo {
        request_id: req.extensions().get::<RequestId>().map(|id| id.to_string()).unwrap_or_default(),
        client_addr,
        cookies,
        bearer,
        api_key: header("x-api-key").map(str::to_owned),
    }
}

/// The client address a trusted proxy recorded in `header`: the right-most entry of the
/// last line, which is the one the proxy itself appended (entries to its left came from the
/// client and prove nothing). `None` when the header is missing or that entry is not an
/// address: the request then did not come through the proxy, and its peer is the client.
fn forwarded_client(req: &HttpRequest, header: &str) -> Option<std::net::IpAddr> {
    let line = req.headers().get_all(header).last()?.to_str().ok()?;
    let entry = line.rsplit(',').next()?.trim();
    entry.parse().ok().or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

pub(crate) fn status_of(e: &RpcError) -> HttpResponseBuilder {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(e.http_status()).expect("valid status"))
}

/// Cookies and headers the calls set, plus `Retry-After` for throttled calls.
pub(crate) fn finish(builder: &mut HttpResponseBuilder, ctx: &Ctx, errors: &[&RpcError]) {
    let parts = ctx.take_response_parts();
    for cookie in parts.cookies {
        builder.cookie(cookie);
    }
    for (name, value) in parts.headers {
        builder.insert_header((name, value));
    }
    if let Some(secs) = errors.iter().filter_map(|e| e.retry_after).max() {
        builder.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
}

pub(crate) fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads a body up to the limit: a larger declared or actual body is a 413, and one that
/// does not arrive within `timeout` (a stalled or trickling client) is a 408.
pub(crate) async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, RpcError> {
    tokio::time::timeout(timeout, read_body_unbounded(req, payload, limit))
        .await
        .unwrap_or_else(|_| Err(RpcError::new(ErrorCode::Timeout, "Request body not received in time")))
}

async fn read_body_unbounded(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, RpcError> {
    let too_large = || RpcError::new(ErrorCode::PayloadTooLarge, format!("Request body larger than {limit} bytes"));
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| RpcError::bad_request("Could not read the request body").with_cause(e))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a JSON input; empty means absent.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Option<Value>, RpcError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| RpcError::new(ErrorCode::ParseError, format!("Invalid JSON: {e}")))
}

/// Request spans for tracing-actix-web that leave the query string out: queries carry
/// inputs (an invitation token, say), and inputs never reach the logs.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(req: &ServiceRequest) -> tracing::Span {
        let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string()).unwrap_or_default();
        tracing::info_span!(
            "request",
            method = %req.method(),
            path = %req.path(),
            request_id = %request_id,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: tracing::Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        if let Ok(res) = outcome {
            span.record("status", res.status().as_u16());
        }
    }
}
