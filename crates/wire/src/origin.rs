//! Cross-site request protection for state-changing calls (auth-api.md §1), the rule of
//! Go's `CrossOriginProtection`, which Lucia and better-auth also follow:
//! - an `Origin` header must be the gateway's own origin or a trusted one;
//! - without `Origin`, `Sec-Fetch-Site` must be `same-origin` or `none`;
//! - with neither, the request did not come from a modern browser (curl, scripts, servers)
//!   and passes.
//!
//! Same-site is not enough: Dokploy serves its users' apps on subdomains of its own domain,
//! and `SameSite=Lax` cookies go along with their requests. Calls that carry a Bearer token
//! or an `x-api-key` are exempt: a browser page cannot set those headers on a cross-site
//! request without a CORS preflight, which only trusted origins pass.

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::error::{ErrorCode, RpcError};

/// Where the gateway's pages are served from, and which other origins may act.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// The origin browsers see the gateway at (`https://dokploy.example.com`). `None`: the
    /// request's own `Host` stands for it, as in Go's rule.
    pub public_origin: Option<String>,
    /// Other origins allowed to act, for example a frontend on another host.
    pub trusted: Vec<String>,
}

impl OriginPolicy {
    /// `Err(FORBIDDEN)` when `req`, a state-changing request, comes from another site.
    pub(crate) fn check(&self, req: &HttpRequest) -> Result<(), RpcError> {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        // (Only Bearer: browsers attach cached Basic credentials to cross-site requests.)
        let bearer =
            header("authorization").is_some_and(|v| v.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("bearer ")));
        if bearer || header("x-api-key").is_some() {
            return Ok(());
        }
        let allowed = match (header("origin"), header("sec-fetch-site")) {
            (Some(origin), _) => self.is_own(origin, req) || self.trusted.iter().any(|t| same_origin(t, origin)),
            (None, Some(site)) => site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"),
            (None, None) => true,
        };
        if allowed { Ok(()) } else { Err(RpcError::new(ErrorCode::Forbidden, "Cross-site request refused")) }
    }

    fn is_own(&self, origin: &str, req: &HttpRequest) -> bool {
        match &self.public_origin {
            Some(own) => same_origin(own, origin),
            None => {
                let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok());
                let origin_host = origin.split_once("://").map(|(_, rest)| rest);
                matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
            }
        }
    }
}

/// Origins compare as ASCII case-insensitive text (`scheme://host[:port]`, no path).
fn same_origin(a: &str, b: &str) -> bool {
    a.trim_end_matches('/').eq_ignore_ascii_case(b)
}
