//! Forwarding: the calls of a tRPC request whose path the registry does not know go to an
//! upstream tRPC server, together, as one batch (or several, where one URL would be too
//! long). Their inputs pass through as the client wrote them, and their answers come back
//! as the upstream wrote them: the gateway never decodes what it does not own. Each
//! forwarded request says who is calling in a header the gateway signs.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::context::Identity;
use crate::dispatch::Verb;
use crate::error::{ErrorCode, RpcError};
use crate::metrics;

/// The header that carries the caller's signed identity to the upstream. A client's own
/// header of this name never reaches it.
pub const IDENTITY_HEADER: &str = "x-gateway-identity";

/// Signs the identity of a caller for the upstream (see `IDENTITY_HEADER`).
pub trait IdentitySigner: Send + Sync + 'static {
    fn sign(&self, identity: &Identity) -> String;
}

/// Headers that describe one connection, not the request (RFC 9110 §7.6.1), and those the
/// gateway sets itself.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-type",
    // The gateway reads the upstream's answer as it is: no compression, no streaming.
    "accept-encoding",
    "content-encoding",
    "expect",
    "trpc-accept",
    "trpc-batch-mode",
    IDENTITY_HEADER,
    // The gateway's credentials: it used them, and vouches for the caller instead.
    "authorization",
    "x-api-key",
    // Who the client is, as the client claims it: the gateway says it itself.
    "forwarded",
    "x-forwarded-for",
    "x-real-ip",
];

/// Where forwarded calls go, and how.
pub struct Upstream {
    /// The upstream's tRPC endpoint, without a trailing slash (`http://app:3000/api/trpc`).
    base: String,
    client: reqwest::Client,
    /// Longest URL a forwarded GET may have; a longer batch is split.
    max_url_bytes: usize,
    /// Cookies of the gateway's own, kept from the upstream.
    own_cookies: Vec<String>,
    signer: Option<Arc<dyn IdentitySigner>>,
    /// Forwarded calls need a signed-in caller, but for these paths.
    require_session: Option<Vec<String>>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("base", &self.base).finish_non_exhaustive()
    }
}

/// Settings of an [`Upstream`].
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    pub url: String,
    /// How long the upstream may take to answer a forwarded request.
    pub timeout: Duration,
    pub max_url_bytes: usize,
    /// Names of the gateway's own cookies (the session, ...).
    pub own_cookies: Vec<String>,
    /// `Some`: forwarded calls need a valid session or token, except calls of these paths
    /// (exact, or `router.*` for a whole router); the gateway refuses the others itself.
    pub require_session: Option<Vec<String>>,
}

/// What came back for one forwarded call: the upstream's item as it wrote it, and the HTTP
/// status it stands for; or the gateway's own error when the upstream gave no usable answer.
pub enum Answer {
    Upstream { item: Box<RawValue>, status: u16 },
    Failed(RpcError),
}

impl Answer {
    /// What came of the call, for metrics: `OK` and `UPSTREAM_ERROR` for the upstream's own
    /// answers, the gateway's code where it answered for the upstream.
    pub fn code(&self) -> &'static str {
        match self {
            Answer::Upstream { status: 200, .. } => "OK",
            Answer::Upstream { .. } => "UPSTREAM_ERROR",
            Answer::Failed(e) => e.code.key(),
        }
    }
}

/// One forwarded call: its path and its input as the client wrote it.
pub struct Forward {
    pub path: String,
    pub input: Option<Box<RawValue>>,
}

/// The answers of a forwarded batch in call order, and the upstream's `Set-Cookie` headers.
pub struct Forwarded {
    pub answers: Vec<Answer>,
    pub set_cookies: Vec<String>,
}

impl Upstream {
    pub fn new(options: UpstreamOptions, signer: Option<Arc<dyn IdentitySigner>>) -> Result<Self, String> {
        let url = reqwest::Url::parse(&options.url).map_err(|e| format!("--upstream: {e}"))?;
        if url.scheme() != "http" {
            return Err("--upstream: an http:// URL (the app behind the gateway, on a private network)".into());
        }
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("--upstream: {e}"))?;
        Ok(Upstream {
            base: options.url.trim_end_matches('/').to_owned(),
            client,
            max_url_bytes: options.max_url_bytes,
            own_cookies: options.own_cookies,
            signer,
            require_session: options.require_session,
        })
    }

    /// Whether a call of `path` may go upstream for a caller who is not signed in.
    pub fn lets_anonymous_call(&self, path: &str) -> bool {
        let Some(public) = &self.require_session else { return true };
        public.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => p == path,
        })
    }

    /// Sends `calls` (all with the client's `verb`) upstream as a batch, or for a single
    /// call (`batch` false) as that one call; answers in call order.
    pub async fn forward(
        &self,
        headers: &HeaderMap,
        identity: Option<&Identity>,
        client: Option<std::net::IpAddr>,
        verb: Verb,
        calls: Vec<Forward>,
        batch: bool,
    ) -> Forwarded {
        let headers = self.headers(headers, identity, client);
        // A GET stays a GET: the gateway cannot tell a forwarded mutation from a query, and a
        // GET carries no origin check. Too long for one URL, it goes as several.
        let groups = if verb == Verb::Get { self.url_sized_groups(calls, batch) } else { vec![calls] };
        // One budget for the whole request, however many groups it takes.
        let budget = MAX_UPSTREAM_BODY / groups.len().max(1);
        let headers = &headers;
        let requests = groups.into_iter().map(|group| async move {
            let started = std::time::Instant::now();
            let answered = self.send(headers, verb, group, batch, budget).await;
            metrics::upstream_request(started.elapsed());
            answered
        });
        let mut out = Forwarded { answers: Vec::new(), set_cookies: Vec::new() };
        for (answers, cookies) in futures_util::future::join_all(requests).await {
            out.answers.extend(answers);
            out.set_cookies.extend(cookies);
        }
        out
    }

    /// The client's headers, less those of one hop, the gateway's cookies and any identity
    /// header it sent; plus the caller's signed identity.
    fn headers(
        &self,
        from: &HeaderMap,
        identity: Option<&Identity>,
        client: Option<std::net::IpAddr>,
    ) -> reqwest::header::HeaderMap {
        let mut out = reqwest::header::HeaderMap::new();
        // Headers the client named as this connection's own are not forwarded either.
        let connection: Vec<String> = from
            .get_all("connection")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|n| n.trim().to_ascii_lowercase())
            .collect();
        for (name, value) in from {
            let name = name.as_str();
            if NOT_FORWARDED.contains(&name) || connection.iter().any(|c| c == name) {
                continue;
            }
            let value = if name == "cookie" {
                match self.without_own_cookies(value.to_str().unwrap_or_default()) {
                    Some(kept) => kept,
                    None => continue,
                }
            } else {
                value.as_bytes().to_vec()
            };
            if let (Ok(n), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_bytes(&value),
            ) {
                out.append(n, v);
            }
        }
        if let Some(client) = client.and_then(|c| reqwest::header::HeaderValue::from_str(&c.to_string()).ok()) {
            out.insert("x-forwarded-for", client);
        }
        if let (Some(signer), Some(identity)) = (&self.signer, identity)
            && let Ok(value) = reqwest::header::HeaderValue::from_str(&signer.sign(identity))
        {
            out.insert(IDENTITY_HEADER, value);
        }
        out
    }

    fn without_own_cookies(&self, cookie: &str) -> Option<Vec<u8>> {
        let kept: Vec<&str> =
            cookie.split(';').map(str::trim).filter(|pair| !pair.is_empty() && !self.is_own(pair)).collect();
        (!kept.is_empty()).then(|| kept.join("; ").into_bytes())
    }

    /// Whether a `name=value` pair (of a `Cookie` or the start of a `Set-Cookie`) is, or
    /// would reach a browser's requests as, one of the gateway's cookies: names are compared
    /// percent-decoded (as the gateway reads them), and a nameless cookie (`=name=value`,
    /// which browsers send as `name=value`) by its value.
    fn is_own(&self, pair: &str) -> bool {
        let decoded = |s: &str| percent_encoding::percent_decode_str(s.trim()).decode_utf8_lossy().into_owned();
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let mut name = decoded(name);
        if name.is_empty() {
            name = decoded(value.split('=').next().unwrap_or_default());
        }
        self.own_cookies.contains(&name)
    }

    fn too_long(&self, calls: &[Forward], batch: bool) -> bool {
        self.get_url(calls, batch).len() > self.max_url_bytes
    }

    /// Calls in groups whose GET URLs stay within the limit (a call too long on its own
    /// still goes alone: the upstream answers it as it does).
    fn url_sized_groups(&self, calls: Vec<Forward>, batch: bool) -> Vec<Vec<Forward>> {
        let mut groups: Vec<Vec<Forward>> = Vec::new();
        for call in calls {
            if let Some(last) = groups.last_mut() {
                last.push(call);
                if !self.too_long(last, batch) {
                    continue;
                }
                let call = last.pop().expect("just pushed");
                groups.push(vec![call]);
            } else {
                groups.push(vec![call]);
            }
        }
        groups
    }

    fn paths(calls: &[Forward]) -> String {
        const PATH: &percent_encoding::AsciiSet =
            &percent_encoding::NON_ALPHANUMERIC.remove(b'.').remove(b'-').remove(b'_').remove(b'~');
        let paths: Vec<String> =
            calls.iter().map(|c| percent_encoding::utf8_percent_encode(&c.path, PATH).to_string()).collect();
        paths.join(",")
    }

    /// The input as tRPC sends it: the call's own for a single call, `{"0": .., "1": ..}`
    /// for a batch, each input as the client wrote it.
    fn input(calls: &[Forward], batch: bool) -> Option<String> {
        if !batch {
            return calls.first().and_then(|c| c.input.as_ref()).map(|raw| raw.get().to_owned());
        }
        let members: Vec<String> = calls
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.input.as_ref().map(|raw| format!("\"{i}\":{}", raw.get())))
            .collect();
        Some(format!("{{{}}}", members.join(",")))
    }

    fn get_url(&self, calls: &[Forward], batch: bool) -> String {
        let mut url = format!("{}/{}", self.base, Self::paths(calls));
        let mut query = Vec::new();
        if batch {
            query.push("batch=1".to_owned());
        }
        if let Some(input) = Self::input(calls, batch) {
            query.push(format!(
                "input={}",
                percent_encoding::utf8_percent_encode(&input, percent_encoding::NON_ALPHANUMERIC)
            ));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        url
    }

    async fn send(
        &self,
        headers: &reqwest::header::HeaderMap,
        verb: Verb,
        calls: Vec<Forward>,
        batch: bool,
        budget: usize,
    ) -> (Vec<Answer>, Vec<String>) {
        let n = calls.len();
        let request = match verb {
            Verb::Get => self.client.get(self.get_url(&calls, batch)),
            Verb::Post => {
                let mut url = format!("{}/{}", self.base, Self::paths(&calls));
                if batch {
                    url.push_str("?batch=1");
                }
                let body = Self::input(&calls, batch).unwrap_or_default();
                self.client.post(url).header("content-type", "application/json").body(body)
            }
        };
        let response = match request.headers(headers.clone()).send().await {
            Ok(response) => response,
            Err(e) => return (failed(n, unreachable(&e)), Vec::new()),
        };
        let status = response.status().as_u16();
        // The upstream's cookies, but none of the gateway's own names: it cannot replace
        // the session.
        let cookies: Vec<String> = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .filter(|c| !self.is_own(c.split(';').next().unwrap_or_default()))
            .collect();
        match read_limited(response, budget).await {
            Ok(body) => (answers(&body, n, batch, status), cookies),
            Err(e) => (failed(n, e), cookies),
        }
    }
}

/// Most bytes of an upstream answer the gateway reads: an answer this large is not one a
/// batch of tRPC calls gives, and the gateway holds it whole in memory.
const MAX_UPSTREAM_BODY: usize = 16 * 1024 * 1024;
/// Most bytes of an error the upstream gives for a whole batch.
const MAX_WHOLE_ERROR: usize = 64 * 1024;

async fn read_limited(mut response: reqwest::Response, budget: usize) -> Result<Vec<u8>, RpcError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(&e))? {
        if body.len() + chunk.len() > budget {
            return Err(RpcError::new(ErrorCode::BadGateway, "The upstream's answer is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn failed(n: usize, e: RpcError) -> Vec<Answer> {
    (0..n).map(|_| Answer::Failed(e.clone())).collect()
}

/// The error of a request that got no answer: 504 for a timeout, else 502.
fn unreachable(e: &reqwest::Error) -> RpcError {
    if e.is_timeout() {
        RpcError::new(ErrorCode::GatewayTimeout, "The upstream did not answer in time").with_cause(e.to_string())
    } else {
        RpcError::new(ErrorCode::BadGateway, "The upstream could not be reached").with_cause(e.to_string())
    }
}

/// The upstream's answers to `n` calls: a batch's array, one call's item, or one error item
/// for the whole request (which then answers each call). Anything else is a 502.
pub fn answers(body: &[u8], n: usize, batch: bool, status: u16) -> Vec<Answer> {
    let garbage =
        || failed(n, RpcError::new(ErrorCode::BadGateway, "The upstream answered something that is not tRPC"));
    if batch && let Ok(items) = serde_json::from_slice::<Vec<Box<RawValue>>>(body) {
        if items.len() != n {
            return garbage();
        }
        return items.into_iter().map(item_answer).collect::<Option<_>>().unwrap_or_else(garbage);
    }
    match serde_json::from_slice::<Box<RawValue>>(body).ok().and_then(item_answer) {
        // A whole-request error answers each call: small, since it is copied for each.
        Some(Answer::Upstream { item, status: item_status })
            if !batch || (item_status >= 400 && item.get().len() <= MAX_WHOLE_ERROR) =>
        {
            let status = if item_status >= 400 { item_status } else { status };
            (0..n).map(|_| Answer::Upstream { item: item.clone(), status }).collect()
        }
        _ => garbage(),
    }
}

/// An item `{"result": ..}` (200) or `{"error": ..}` (its `data.httpStatus`, superjson's
/// `json` wrapper or not); `None` if it is neither.
fn item_answer(item: Box<RawValue>) -> Option<Answer> {
    #[derive(Deserialize)]
    struct Item {
        result: Option<serde::de::IgnoredAny>,
        error: Option<serde_json::Value>,
    }
    let parsed: Item = serde_json::from_str(item.get()).ok()?;
    let status = match (parsed.result, parsed.error) {
        (Some(_), None) => 200,
        (None, Some(error)) => {
            let shape = error.get("json").unwrap_or(&error);
            let status = shape.pointer("/data/httpStatus").and_then(serde_json::Value::as_u64);
            status.and_then(|s| u16::try_from(s).ok()).filter(|s| (400..600).contains(s)).unwrap_or(500)
        }
        _ => return None,
    };
    Some(Answer::Upstream { item, status })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn answers_keep_the_upstreams_items_and_read_their_statuses() {
        let body = br#"[{"result":{"data":{"json":1}}},{"error":{"json":{"message":"no","code":-32003,"data":{"httpStatus":403}}}}]"#;
        let statuses: Vec<u16> = answers(body, 2, true, 207)
            .iter()
            .map(|a| match a {
                Answer::Upstream { status, .. } => *status,
                Answer::Failed(e) => e.http_status(),
            })
            .collect();
        assert_eq!(statuses, [200, 403]);
        for (body, n) in [(&b"[1,2]"[..], 2), (b"[]", 1), (b"<html>", 1), (b"{\"result\":1}", 2), (b"[{\"x\":1}]", 1)] {
            let all_502 = answers(body, n, true, 200)
                .iter()
                .all(|a| matches!(a, Answer::Failed(e) if e.code == ErrorCode::BadGateway));
            assert!(all_502, "{}", String::from_utf8_lossy(body));
        }
        // A whole-request error answers each call.
        let whole = br#"{"error":{"message":"too big","code":-32600,"data":{"httpStatus":400}}}"#;
        assert!(answers(whole, 3, true, 400).iter().all(|a| matches!(a, Answer::Upstream { status: 400, .. })));
    }

    #[test]
    fn inputs_pass_through_as_written_and_long_gets_are_split() {
        let calls = vec![
            Forward { path: "project.all".into(), input: None },
            Forward { path: "project.one".into(), input: Some(raw(r#"{"json":{"id":1.50,"x":"é"}}"#)) },
        ];
        assert_eq!(Upstream::input(&calls, true).unwrap(), r#"{"1":{"json":{"id":1.50,"x":"é"}}}"#);
        let options = UpstreamOptions {
            url: "http://127.0.0.1:1/api/trpc/".into(),
            timeout: Duration::from_secs(1),
            max_url_bytes: 120,
            own_cookies: vec!["auth_session".into()],
            require_session: Some(vec!["project.all".into(), "public.*".into()]),
        };
        let upstream = Upstream::new(options, None).unwrap();
        assert!(
            upstream
                .get_url(&calls, true)
                .starts_with("http://127.0.0.1:1/api/trpc/project.all,project.one?batch=1&input=")
        );
        let many: Vec<Forward> =
            (0..6).map(|i| Forward { path: format!("p.q{i}"), input: Some(raw("\"xxxxxxxxxx\"")) }).collect();
        let groups = upstream.url_sized_groups(many, true);
        assert!(groups.len() > 1 && groups.iter().all(|g| !upstream.too_long(g, true)));
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 6);
        assert_eq!(upstream.without_own_cookies("a=1; auth_session=x; b=2").unwrap(), b"a=1; b=2");
        assert_eq!(upstream.without_own_cookies("auth_session=x"), None);
        assert_eq!(upstream.without_own_cookies("auth%5Fsession=x; =auth_session=y; b=2").unwrap(), b"b=2");
        for planted in [
            "auth_session=x; Path=/",
            "auth%5Fsession=x; Path=/api/trpc/",
            "=auth_session=x; Path=/",
            " auth_session =x",
        ] {
            assert!(upstream.is_own(planted.split(';').next().unwrap()), "{planted}");
        }
        assert!(!upstream.is_own("app_theme=dark"));
        let public: Vec<bool> = ["project.all", "project.allx", "public.a.b", "publicx.a", "project.one"]
            .map(|p| upstream.lets_anonymous_call(p))
            .into();
        assert_eq!(public, [true, false, true, false, false]);
    }
}
