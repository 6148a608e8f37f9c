//! Middleware every response passes through: request spans without query strings, the
//! request id and security headers, and the answer for unknown paths.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};
use tracing_actix_web::RequestId;

use crate::error::RpcError;
use crate::http::status_of;

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
