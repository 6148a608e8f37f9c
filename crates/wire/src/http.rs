//! HTTP helpers the surfaces share: the request context, bodies, statuses and what calls
//! add to a response.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder, web};
use futures_util::StreamExt;
use serde_json::Value;
use tracing_actix_web::RequestId;

use crate::config::WireConfig;
use crate::context::{Ctx, RequestInfo};
use crate::error::{ErrorCode, RpcError};
use crate::registry::Registry;

/// The context of a request's calls: who may be calling, from where.
pub(crate) fn context(req: &HttpRequest, config: &WireConfig, registry: &Registry) -> Ctx {
    Ctx::new(request_info(req, config), registry.authenticator())
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
        user_agent: req.headers().get(header::USER_AGENT).cloned(),
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
