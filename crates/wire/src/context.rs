//! The per-request context procedures and the authenticator see: who calls, from
//! where, under which request id, and a place to put cookies and headers.

use std::any::Any;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use actix_web::cookie::Cookie;
use actix_web::http::header::HeaderValue;
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
    /// The `User-Agent` header as sent (a shared handle, not a copy): read through
    /// [`Ctx::user_agent`], which cleans and bounds it, only when something keeps it.
    pub user_agent: Option<HeaderValue>,
}

/// The most characters of a User-Agent kept ([`Ctx::user_agent`]).
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// A User-Agent as something to store and show: invalid UTF-8 replaced, control and
/// invisible formatting characters (bidirectional overrides, zero-width) dropped, runs of
/// whitespace made one space, at most [`MAX_USER_AGENT_CHARS`] characters (a longer one is
/// cut, `…` marking the cut). `None` when nothing is left.
pub fn clean_user_agent(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let (mut out, mut count, mut space) = (String::new(), 0, false);
    for c in text.chars() {
        if c.is_whitespace() {
            space = count > 0;
        } else if !c.is_control() && !is_invisible_format(c) {
            if std::mem::take(&mut space) {
                out.push(' ');
                count += 1;
            }
            out.push(c);
            count += 1;
            if count > MAX_USER_AGENT_CHARS {
                out = out.chars().take(MAX_USER_AGENT_CHARS - 1).collect::<String>().trim_end().to_owned();
                out.push('…');
                break;
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Characters that draw nothing and can make a text display as another one.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
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

    /// The client's User-Agent, fit to store and show: see [`clean_user_agent`].
    pub fn user_agent(&self) -> Option<String> {
        self.0.info.user_agent.as_ref().and_then(|v| clean_user_agent(v.as_bytes()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_cleaned_and_bounded() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(clean_user_agent(firefox.as_bytes()).as_deref(), Some(firefox));
        assert_eq!(clean_user_agent(b" curl/8.5\t\r\n  x\x00\x1b[31m ").as_deref(), Some("curl/8.5 x[31m"));
        assert_eq!(clean_user_agent("a\u{202E}b\u{200B}c\u{7F}\u{9F}d".as_bytes()).as_deref(), Some("abcd"));
        assert_eq!(clean_user_agent(b"\xff\xfeok").as_deref(), Some("\u{FFFD}\u{FFFD}ok"));
        for nothing in [&b""[..], b"   ", b"\x00\x01\t", "\u{200B}".as_bytes()] {
            assert_eq!(clean_user_agent(nothing), None, "{nothing:?}");
        }
        for long in ["x".repeat(100_000), "é".repeat(300), "ab ".repeat(200), "x".repeat(MAX_USER_AGENT_CHARS + 1)] {
            let cut = clean_user_agent(long.as_bytes()).unwrap();
            assert!((MAX_USER_AGENT_CHARS - 1..=MAX_USER_AGENT_CHARS).contains(&cut.chars().count()), "{cut}");
            assert!(cut.ends_with('…') && !cut.contains(" …"), "{cut}");
        }
        let fits = "y".repeat(MAX_USER_AGENT_CHARS);
        assert_eq!(clean_user_agent(fits.as_bytes()), Some(fits));
    }
}
