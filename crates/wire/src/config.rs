//! Settings of the wire layer.

use std::sync::Arc;
use std::time::Duration;

use crate::origin::OriginPolicy;
use crate::superjson::Transformer;
use crate::upstream::Upstream;

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
    /// Where tRPC calls of paths the registry does not know go; `None`: they are 404s.
    pub upstream: Option<Arc<Upstream>>,
    /// The headers `/api/forward-auth` answers a signed-in caller with.
    pub forward_auth_headers: ForwardAuthHeaders,
}

/// Names of the identity headers of `/api/forward-auth`.
#[derive(Debug, Clone)]
pub struct ForwardAuthHeaders {
    pub id: String,
    pub role: String,
    pub email: String,
}

impl ForwardAuthHeaders {
    /// `{prefix}Id`, `{prefix}Role` and `{prefix}Email`.
    pub fn with_prefix(prefix: &str) -> Self {
        ForwardAuthHeaders { id: format!("{prefix}Id"), role: format!("{prefix}Role"), email: format!("{prefix}Email") }
    }
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
            upstream: None,
            forward_auth_headers: ForwardAuthHeaders::with_prefix("X-Auth-"),
        }
    }
}
