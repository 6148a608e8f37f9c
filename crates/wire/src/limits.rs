//! Limits on the request line and headers, below actix-http's own: a request over them gets
//! `413 PAYLOAD_TOO_LARGE` in the error shape of its surface. (Past actix-http's limits, or
//! with bytes outside HTTP's grammar, actix-http answers a bare 400 or 431 itself, before any
//! application code runs: see the README.)

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::config::WireConfig;
use crate::error::{ErrorCode, RpcError};
use crate::http::status_of;
use crate::trpc;

/// Longest path and query string: room for a tRPC batch of 50 queries with their inputs.
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// Most bytes of header names and values together (cookies, tokens and proxies' additions).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses requests whose URI or headers are over the limits.
pub async fn request_limits(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let uri = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    let headers: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    let refusal = if uri > MAX_URI_BYTES {
        Some(format!("Request URI longer than {MAX_URI_BYTES} bytes"))
    } else if headers > MAX_HEADER_BYTES {
        Some(format!("Request headers larger than {MAX_HEADER_BYTES} bytes"))
    } else {
        None
    };
    let Some(message) = refusal else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let e = RpcError::new(ErrorCode::PayloadTooLarge, message);
    let body = match req.app_data::<web::Data<WireConfig>>() {
        Some(config) if req.path().starts_with("/api/trpc/") => trpc::error_body(&e, config.transformer),
        _ => e.rest_body(),
    };
    let response = status_of(&e).insert_header(("connection", "close")).json(body);
    Ok(req.into_response(response).map_into_right_body())
}
