//! The per-request context procedures and the authenticator see: who calls, from
//! where, under which request id, and a place to put cookies and headers.

use std::any::Any;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use actix_web::cookie::Cookie;
use futures_util::future::BoxFuture;
use tokio::sync::OnceCell;

use crate::error::RpcError;

/// How the caller presented its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    Cookie,
    Bearer,
    ApiKey,
}

/// A verified caller.
#[derive(Clone)]
pub struct Identity {
    /// The account id.
    pub subject: String,
    pub admin: bool,
    /// The account's email, for the apps the gateway vouches for it to (forward-auth).
    pub email: Option<String>,
    /// The session (or API token) the credential belongs to.
    pub session_id: String,
    pub source: CredentialSource,
    /// Whatever the authenticator loaded along the way (the account record, say), so that
    /// procedures need not load it again.
    pub details: Option<Arc<dyn Any + Send + Sync>>,
}

impl Identity {
    pub fn details<T: 'static>(&self) -> Option<&T> {
        self.details.as_deref().and_then(|d| d.downcast_ref())
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.subject)
            .field("admin", &self.admin)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Turns a request's credentials into an identity. `Ok(None)` means anonymous: a missing,
/// invalid, expired or revoked credential. `Err` is for failures (database down).
pub trait Authenticator: Send + Sync + 'static {
    fn authenticate<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Option<Identity>, RpcError>>;
}

/// What the request carried, copied out of actix's (non-`Send`) request.
#[derive(Debug, Default, Clone)]
pub struct RequestInfo {
    pub request_id: String,
    pub client_addr: Option<IpAddr>,
    pub cookies: Vec<(String, String)>,
    pub bearer: Option<String>,
    pub api_key: Option<String>,
}

#[derive(Default)]
pub(crate) struct ResponseParts {
    pub cookies: Vec<Cookie<'static>>,
    pub headers: Vec<(String, String)>,
}

struct Inner {
    info: RequestInfo,
    authenticator: Option<Arc<dyn Authenticator>>,
    identity: OnceCell<Option<Identity>>,
    response: Mutex<ResponseParts>,
}

/// Shared by every call of one request (a batch resolves the caller once).
#[derive(Clone)]
pub struct Ctx(Arc<Inner>);

impl Ctx {
    pub fn new(info: RequestInfo, authenticator: Option<Arc<dyn Authenticator>>) -> Self {
        Ctx(Arc::new(Inner { info, authenticator, identity: OnceCell::new(), response: Mutex::default() }))
    }

    pub fn request_id(&self) -> &str {
        &self.0.info.request_id
    }
    pub fn client_addr(&self) -> Option<IpAddr> {
        self.0.info.client_addr
    }
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.0.info.cookies.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
    pub fn bearer(&self) -> Option<&str> {
        self.0.info.bearer.as_deref()
    }
    pub fn api_key(&self) -> Option<&str> {
        self.0.info.api_key.as_deref()
    }

    /// The caller, resolved on first use and then remembered for the whole request.
    pub async fn identity(&self) -> Result<Option<&Identity>, RpcError> {
        let resolved = self
            .0
            .identity
            .get_or_try_init(|| async {
                match &self.0.authenticator {
                    Some(a) => a.authenticate(self).await,
                    None => Ok(None),
                }
            })
            .await?;
        Ok(resolved.as_ref())
    }

    /// The caller of a protected procedure (the dispatcher resolved it before the call).
    pub fn caller(&self) -> Result<&Identity, RpcError> {
        self.0.identity.get().and_then(Option::as_ref).ok_or_else(RpcError::unauthorized)
    }

    pub fn set_cookie(&self, cookie: Cookie<'static>) {
        let mut parts = self.0.response.lock().expect("response parts lock");
        parts.cookies.retain(|c| c.name() != cookie.name());
        parts.cookies.push(cookie);
    }

    pub fn set_header(&self, name: &str, value: impl Into<String>) {
        let mut parts = self.0.response.lock().expect("response parts lock");
        parts.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        parts.headers.push((name.to_owned(), value.into()));
    }

    pub(crate) fn take_response_parts(&self) -> ResponseParts {
        std::mem::take(&mut *self.0.response.lock().expect("response parts lock"))
    }
}
