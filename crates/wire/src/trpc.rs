//! The tRPC HTTP surface: single and batched calls over GET and POST, and the two
//! streaming batch formats (v11 JSON lines, v10 streamed object).

use std::sync::Arc;

use actix_web::http::{Method, StatusCode, header};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::stream::{self, FuturesUnordered, StreamExt};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::config::WireConfig;
use crate::context::Ctx;
use crate::dispatch::{Call, Dispatcher, Verb};
use crate::error::{ErrorCode, RpcError};
use crate::http::{context, finish, is_json, parse_json, read_body, status_of};
use crate::metrics;
use crate::procedure::Kind;
use crate::registry::Registry;
use crate::superjson::Transformer;
use crate::upstream::{Answer, Forward, Forwarded, Upstream};

const PREFIX: &str = "/api/trpc/";

/// How the answer is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One JSON document (an array for batches).
    Whole,
    /// v11 `httpBatchStreamLink`: JSON lines.
    JsonLines,
    /// v10 `unstable_httpBatchStreamLink`: one object streamed a member per line.
    StreamedObject,
}

struct Request {
    calls: Vec<Call>,
    batch: bool,
    mode: Mode,
    /// Each call's input as the client wrote it, when some call goes upstream.
    raw_inputs: Option<Vec<Option<Box<RawValue>>>>,
}

pub(crate) async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    registry: web::Data<Registry>,
    config: web::Data<WireConfig>,
) -> HttpResponse {
    if req.method() == Method::HEAD {
        return HttpResponse::NoContent().finish();
    }
    let transformer = config.transformer;
    let request = match decode(&req, payload, &registry, &config).await {
        Ok(request) => request,
        Err(e) => return whole_request_error(&e, transformer),
    };
    let ctx = context(&req, &config, &registry);
    let dispatcher =
        Dispatcher { registry: registry.into_inner(), method_override: config.method_override, transformer };
    match request.mode {
        Mode::Whole if request.raw_inputs.is_some() => {
            let upstream = config.upstream.clone().expect("raw inputs are read for an upstream");
            respond_forwarding(dispatcher, ctx, request, &upstream, req.headers()).await
        }
        Mode::Whole => respond_whole(dispatcher, ctx, request).await,
        streamed => {
            let forwarding = request.raw_inputs.map(|raw_inputs| Forwarding {
                upstream: config.upstream.clone().expect("raw inputs are read for an upstream"),
                headers: req.headers().clone(),
                raw_inputs,
            });
            if streamed == Mode::JsonLines {
                stream_json_lines(dispatcher, ctx, request.calls, forwarding)
            } else {
                stream_object(dispatcher, ctx, request.calls, forwarding)
            }
        }
    }
}

async fn decode(
    req: &HttpRequest,
    payload: web::Payload,
    registry: &Registry,
    config: &WireConfig,
) -> Result<Request, RpcError> {
    let verb = match *req.method() {
        Method::GET => Verb::Get,
        Method::POST => Verb::Post,
        _ => return Err(RpcError::new(ErrorCode::MethodNotSupported, "Unsupported HTTP method")),
    };
    if verb == Verb::Post {
        config.origins.check(req)?;
    }
    let body = match verb {
        Verb::Get => None,
        Verb::Post if !is_json(req) => {
            return Err(RpcError::new(
                ErrorCode::UnsupportedMediaType,
                "Unsupported content type: send application/json",
            ));
        }
        Verb::Post => Some(read_body(req, payload, config.max_body_bytes, config.body_timeout).await?),
    };
    let raw_path = req.uri().path().strip_prefix(PREFIX).unwrap_or_default();
    let (calls, batch) = parse_calls(raw_path, req.query_string(), verb, body.as_deref(), config.max_batch_calls)?;
    let forwards = config.upstream.is_some() && calls.iter().any(|c| registry.get(&c.path).is_none());
    let raw_inputs = forwards.then(|| raw_inputs(req.query_string(), verb, body.as_deref(), batch, calls.len()));

    let mode = stream_mode(req);
    if mode != Mode::Whole && !batch {
        return Err(RpcError::bad_request("Streaming responses need a batch request (?batch=1)"));
    }
    if verb == Verb::Post && batch {
        let kinds: Vec<Kind> = calls.iter().filter_map(|c| registry.get(&c.path)).map(|p| p.info().kind).collect();
        if kinds.contains(&Kind::Query) && kinds.contains(&Kind::Mutation) {
            return Err(RpcError::bad_request("Queries and mutations cannot be mixed in one batch"));
        }
    }
    Ok(Request { calls, batch, mode, raw_inputs })
}

/// Each call's input as the client wrote it (a call whose input cannot be read gets none:
/// the upstream then judges it as absent, as it would have the unreadable original).
fn raw_inputs(query: &str, verb: Verb, body: Option<&[u8]>, batch: bool, n: usize) -> Vec<Option<Box<RawValue>>> {
    let text = match verb {
        Verb::Get => serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .ok()
            .and_then(|q| q.into_iter().find(|(k, _)| k == "input").map(|(_, v)| v)),
        Verb::Post => body.and_then(|b| std::str::from_utf8(b).ok()).map(str::to_owned),
    };
    let text = text.filter(|t| !t.trim().is_empty());
    if !batch {
        let single = text.and_then(|t| RawValue::from_string(t).ok());
        return vec![single];
    }
    let mut members: std::collections::HashMap<String, Box<RawValue>> =
        text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    (0..n).map(|i| members.remove(&i.to_string())).collect()
}

/// The calls of a tRPC request from its raw (percent-encoded) path after `/api/trpc/`, its
/// query string and its body: all of decoding that needs no I/O. Returns the calls and
/// whether the request is a batch. Errors here fail the whole request; a call's unreadable
/// input fails that call only.
pub fn parse_calls(
    raw_path: &str,
    query: &str,
    verb: Verb,
    body: Option<&[u8]>,
    max_batch_calls: usize,
) -> Result<(Vec<Call>, bool), RpcError> {
    let path = percent_encoding::percent_decode_str(raw_path)
        .decode_utf8()
        .map_err(|_| RpcError::bad_request("The procedure path is not valid UTF-8"))?;
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| RpcError::bad_request("Malformed query string"))?;
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let batch = matches!(param("batch"), Some("1" | "true"));

    let paths: Vec<String> = if batch { path.split(',').map(str::to_owned).collect() } else { vec![path.into_owned()] };
    if paths.len() > max_batch_calls {
        return Err(RpcError::bad_request(format!(
            "Batch of {} calls is over the limit of {max_batch_calls}",
            paths.len()
        )));
    }
    let raw_input = match verb {
        Verb::Get => param("input").map(|s| parse_json(s.as_bytes())).transpose().map(Option::flatten),
        Verb::Post => parse_json(body.unwrap_or_default()),
    };
    let calls = paths
        .into_iter()
        .enumerate()
        .map(|(index, path)| Call { path, verb, input: call_input(&raw_input, batch, index) })
        .collect();
    Ok((calls, batch))
}

fn stream_mode(req: &HttpRequest) -> Mode {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if header("trpc-accept").contains("application/jsonl") || header("accept").contains("application/jsonl") {
        Mode::JsonLines
    } else if header("trpc-batch-mode").eq_ignore_ascii_case("stream") {
        Mode::StreamedObject
    } else {
        Mode::Whole
    }
}

/// A batch's inputs are `{"0": .., "1": ..}`; a missing index is an absent input.
fn call_input(raw: &Result<Option<Value>, RpcError>, batch: bool, index: usize) -> Result<Option<Value>, RpcError> {
    match raw {
        Err(e) => Err(e.clone()),
        Ok(input) if !batch => Ok(input.clone()),
        Ok(None) => Ok(None),
        Ok(Some(Value::Object(inputs))) => Ok(inputs.get(&index.to_string()).cloned()),
        Ok(Some(_)) => Err(RpcError::bad_request("\"input\" needs to be an object when doing a batch call")),
    }
}

/// The calls of a batch, yielding `(index, path, result)` in completion order.
fn completions(
    dispatcher: &Dispatcher,
    ctx: &Ctx,
    calls: impl IntoIterator<Item = (usize, Call)>,
) -> FuturesUnordered<impl Future<Output = (usize, String, Result<Value, RpcError>)> + 'static> {
    calls
        .into_iter()
        .map(|(i, call)| {
            let path = call.path.clone();
            let fut = dispatcher.clone().dispatch(ctx.clone(), call);
            async move { (i, path, fut.await) }
        })
        .collect()
}

/// `{"result": {"data": ..}}` or `{"error": ..}`, transformer applied.
fn response_item(result: &Result<Value, RpcError>, path: &str, transformer: Transformer) -> Value {
    match result {
        Ok(data) => json!({ "result": { "data": transformer.encode(data.clone()) } }),
        Err(e) => json!({ "error": transformer.encode(e.trpc_shape(Some(path))) }),
    }
}

fn whole_request_error(e: &RpcError, transformer: Transformer) -> HttpResponse {
    let mut builder = status_of(e);
    if e.code == ErrorCode::MethodNotSupported {
        builder.insert_header((header::ALLOW, "GET, POST, HEAD"));
    }
    if let Some(secs) = e.retry_after {
        builder.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    builder.insert_header((header::VARY, "trpc-accept, accept")).json(error_body(e, transformer))
}

/// A whole-request error as the tRPC surface sends it (`{"error": shape}`).
pub(crate) fn error_body(e: &RpcError, transformer: Transformer) -> Value {
    json!({ "error": transformer.encode(e.trpc_shape(None)) })
}

async fn respond_whole(dispatcher: Dispatcher, ctx: Ctx, request: Request) -> HttpResponse {
    let transformer = dispatcher.transformer;
    let paths: Vec<String> = request.calls.iter().map(|c| c.path.clone()).collect();
    let calls = request.calls.into_iter().map(|call| dispatcher.clone().dispatch(ctx.clone(), call));
    let results = futures_util::future::join_all(calls).await;

    let statuses: Vec<u16> = results.iter().map(|r| r.as_ref().err().map_or(200, RpcError::http_status)).collect();
    let status = if statuses.iter().all(|s| *s == statuses[0]) { statuses[0] } else { 207 };
    let items: Vec<Value> = results.iter().zip(&paths).map(|(r, p)| response_item(r, p, transformer)).collect();
    let body = if request.batch { Value::Array(items) } else { items.into_iter().next().unwrap_or(Value::Null) };

    let mut builder = HttpResponse::build(StatusCode::from_u16(status).expect("valid status"));
    let errors: Vec<&RpcError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    finish(&mut builder, &ctx, &errors);
    builder.insert_header((header::VARY, "trpc-accept, accept")).json(body)
}

/// A whole answer to a request some of whose calls go upstream: local calls run here,
/// forwarded ones go upstream together, at the same time; answers merge in call order.
async fn respond_forwarding(
    dispatcher: Dispatcher,
    ctx: Ctx,
    request: Request,
    upstream: &Upstream,
    headers: &actix_web::http::header::HeaderMap,
) -> HttpResponse {
    let transformer = dispatcher.transformer;
    let Request { calls, batch, raw_inputs, .. } = request;
    let mut raw_inputs = raw_inputs.unwrap_or_default();
    raw_inputs.resize_with(calls.len(), || None);
    let verb = calls.first().map_or(Verb::Get, |c| c.verb);
    let (mut local, mut forwards, mut forwarded_at) = (Vec::new(), Vec::new(), Vec::new());
    for ((i, call), raw) in calls.into_iter().enumerate().zip(raw_inputs) {
        if !goes_upstream(&dispatcher, &call) {
            let path = call.path.clone();
            let fut = dispatcher.clone().dispatch(ctx.clone(), call);
            local.push(async move { (i, path, fut.await) });
        } else {
            forwarded_at.push((i, call.path.clone()));
            forwards.push((Forward { path: call.path, input: raw }, call.input.err()));
        }
    }
    let forwarding = forward_calls(upstream, &ctx, headers, verb, forwards, batch);
    let (local, forwarded) = futures_util::future::join(futures_util::future::join_all(local), forwarding).await;

    let n = local.len() + forwarded_at.len();
    let mut items: Vec<Option<(String, u16)>> = vec![None; n];
    let mut errors = Vec::new();
    for (i, path, result) in local {
        let status = result.as_ref().err().map_or(200, RpcError::http_status);
        items[i] = Some((response_item(&result, &path, transformer).to_string(), status));
        errors.extend(result.err());
    }
    let mut set_cookies = Vec::new();
    match forwarded {
        Ok(forwarded) => {
            set_cookies = forwarded.set_cookies;
            for ((i, path), answer) in forwarded_at.into_iter().zip(forwarded.answers) {
                items[i] = Some(forwarded_item(answer, &path, transformer));
            }
        }
        Err(e) => {
            for (i, path) in forwarded_at {
                items[i] = Some((response_item(&Err(e.clone()), &path, transformer).to_string(), e.http_status()));
            }
        }
    }
    let items: Vec<(String, u16)> = items.into_iter().map(|item| item.expect("every call answered")).collect();
    let status = if items.iter().all(|(_, s)| *s == items[0].1) { items[0].1 } else { 207 };
    let texts: Vec<&str> = items.iter().map(|(text, _)| text.as_str()).collect();
    let body = if batch { format!("[{}]", texts.join(",")) } else { texts.concat() };

    let mut builder = HttpResponse::build(StatusCode::from_u16(status).expect("valid status"));
    let errors: Vec<&RpcError> = errors.iter().collect();
    finish(&mut builder, &ctx, &errors);
    for cookie in set_cookies {
        builder.append_header((header::SET_COOKIE, cookie));
    }
    builder.insert_header((header::VARY, "trpc-accept, accept")).content_type("application/json").body(body)
}

/// A streamed batch's calls with their places: those answered here, and, when forwarding,
/// those that go upstream.
type Placed = Vec<(usize, Call)>;
fn split_calls(
    dispatcher: &Dispatcher,
    calls: Vec<Call>,
    forwarding: Option<Forwarding>,
) -> (Placed, Option<(Forwarding, Placed)>) {
    let Some(forwarding) = forwarding else { return (calls.into_iter().enumerate().collect(), None) };
    let (local, forwarded) = calls.into_iter().enumerate().partition(|(_, c)| !goes_upstream(dispatcher, c));
    (local, Some((forwarding, forwarded)))
}

/// Whether a call goes upstream: a path the registry does not know, spelled as tRPC paths
/// are (dot-separated names; never `..` or anything else a URL would read as more than a
/// procedure). Other unknown paths stay here, and are NOT_FOUND.
fn goes_upstream(dispatcher: &Dispatcher, call: &Call) -> bool {
    let name =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'-');
    dispatcher.registry.get(&call.path).is_none() && call.path.len() <= 256 && call.path.split('.').all(name)
}

/// Sends the forwarded calls of a request upstream (each with the error of its input, if
/// the gateway could not read it: that call gets the error and is not sent); one answer per
/// call, in order. Without a session, calls the upstream may not get are refused here; a
/// caller the gateway cannot resolve (its store is down) is not vouched for: the calls get
/// that error.
async fn forward_calls(
    upstream: &Upstream,
    ctx: &Ctx,
    headers: &actix_web::http::header::HeaderMap,
    verb: Verb,
    forwards: Vec<(Forward, Option<RpcError>)>,
    batch: bool,
) -> Result<Forwarded, RpcError> {
    let identity = ctx.identity().await?.cloned();
    let anonymous = identity.is_none();
    let (mut sent, mut refused) = (Vec::new(), Vec::with_capacity(forwards.len()));
    for (call, unreadable) in forwards {
        let refusal = unreadable
            .or_else(|| (anonymous && !upstream.lets_anonymous_call(&call.path)).then(RpcError::unauthorized));
        if refusal.is_none() {
            sent.push(call);
        }
        refused.push(refusal);
    }
    let mut forwarded = if sent.is_empty() {
        Forwarded { answers: Vec::new(), set_cookies: Vec::new() }
    } else {
        upstream.forward(headers, identity.as_ref(), ctx.client_addr(), verb, sent, batch).await
    };
    let mut answers = forwarded.answers.into_iter();
    forwarded.answers = refused
        .into_iter()
        .map(|refusal| match refusal {
            Some(e) => Answer::Failed(e),
            None => answers.next().expect("one per sent call"),
        })
        .collect();
    forwarded.answers.iter().for_each(|a| metrics::forwarded(a.code()));
    Ok(forwarded)
}

/// What a streamed batch needs to forward its calls: headers it owns, since the stream
/// outlives the request handler.
struct Forwarding {
    upstream: Arc<Upstream>,
    headers: actix_web::http::header::HeaderMap,
    raw_inputs: Vec<Option<Box<RawValue>>>,
}

impl Forwarding {
    /// The answers of `calls` as batch items (with their places in the batch).
    async fn items(self, ctx: Ctx, calls: Vec<(usize, Call)>, transformer: Transformer) -> Vec<(usize, String)> {
        let answers = self.answers(ctx, calls).await;
        answers.into_iter().map(|(i, path, a)| (i, forwarded_item(a, &path, transformer).0)).collect()
    }

    /// The answers of `calls` (with their places in the batch and paths) once the upstream
    /// gives them. Cookies it sets are lost: a streamed answer's headers are sent before any
    /// call ends, as with tRPC's own streaming.
    async fn answers(mut self, ctx: Ctx, calls: Vec<(usize, Call)>) -> Vec<(usize, String, Answer)> {
        let verb = calls.first().map_or(Verb::Get, |(_, c)| c.verb);
        let places: Vec<(usize, String)> = calls.iter().map(|(i, c)| (*i, c.path.clone())).collect();
        let forwards = calls
            .into_iter()
            .map(|(i, c)| {
                (Forward { path: c.path, input: self.raw_inputs.get_mut(i).and_then(Option::take) }, c.input.err())
            })
            .collect();
        let answers = match forward_calls(&self.upstream, &ctx, &self.headers, verb, forwards, true).await {
            Ok(forwarded) => forwarded.answers,
            Err(e) => places.iter().map(|_| Answer::Failed(e.clone())).collect(),
        };
        places.into_iter().zip(answers).map(|((i, path), a)| (i, path, a)).collect()
    }
}

/// A forwarded call's answer as a batch item: the upstream's item as it wrote it (on one
/// line, which the streamed format needs), or the gateway's error for the call.
fn forwarded_item(answer: Answer, path: &str, transformer: Transformer) -> (String, u16) {
    match answer {
        Answer::Upstream { item, status } if item.get().contains('\n') => {
            let compact = serde_json::from_str::<Value>(item.get()).map(|v| v.to_string());
            (compact.unwrap_or_else(|_| item.get().replace('\n', " ")), status)
        }
        Answer::Upstream { item, status } => (item.get().to_owned(), status),
        Answer::Failed(e) => (response_item(&Err(e.clone()), path, transformer).to_string(), e.http_status()),
    }
}

/// The JSON lines of a forwarded call's answer, as `stream_json_lines` writes a local one,
/// built from the upstream's item without decoding its values: superjson's `json` goes where
/// a local value goes, and its `meta` paths move under that place.
fn forwarded_lines(i: usize, n: usize, answer: Answer, path: &str, transformer: Transformer) -> String {
    #[derive(serde::Deserialize)]
    struct Item<'a> {
        #[serde(borrow)]
        result: Option<ItemResult<'a>>,
        #[serde(borrow)]
        error: Option<&'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct ItemResult<'a> {
        #[serde(borrow)]
        data: Option<&'a RawValue>,
    }
    let not_trpc = || RpcError::new(ErrorCode::BadGateway, "The upstream answered something that is not tRPC");
    let raw = match answer {
        Answer::Upstream { item, .. } => item,
        Answer::Failed(e) => return line(json!([i, 0, [[{"error": e.trpc_shape(Some(path))}]]]), transformer),
    };
    let (result_chunk, data_chunk) = (n + 2 * i, n + 2 * i + 1);
    match serde_json::from_str::<Item<'_>>(raw.get()) {
        Ok(Item { result: Some(result), error: None }) => {
            let null = RawValue::from_string("null".into()).expect("null is JSON");
            [
                line(json!([i, 0, [[{"result": 0}], ["result", 0, result_chunk]]]), transformer),
                line(json!([result_chunk, 0, [[{"data": 0}], ["data", 0, data_chunk]]]), transformer),
                placed(result.data.unwrap_or(&null), (&format!("[{data_chunk},0,[["), "]]]"), "2.0.0", transformer),
            ]
            .concat()
        }
        Ok(Item { result: None, error: Some(error) }) => {
            placed(error, (&format!("[{i},0,[[{{\"error\":"), "}]]]"), "2.0.0.error", transformer)
        }
        _ => line(json!([i, 0, [[{"error": not_trpc().trpc_shape(Some(path))}]]]), transformer),
    }
}

/// One line holding `encoded` (a value as the upstream's transformer wrote it) between the
/// two halves of `frame`, at the superjson path `at`: what serializing the whole frame would
/// have written. The value's JSON is copied as the upstream wrote it (key order, numbers).
fn placed(encoded: &RawValue, frame: (&str, &str), at: &str, transformer: Transformer) -> String {
    #[derive(serde::Deserialize)]
    struct Encoded<'a> {
        #[serde(borrow)]
        json: &'a RawValue,
        meta: Option<Map<String, Value>>,
    }
    let (open, close) = frame;
    let Transformer::Superjson = transformer else {
        return format!("{open}{}{close}\n", encoded.get());
    };
    let (json, meta) = match serde_json::from_str::<Encoded<'_>>(encoded.get()) {
        Ok(Encoded { json, meta }) => (json.get(), meta),
        Err(_) => (encoded.get(), None),
    };
    let Some(meta) = meta else {
        return format!("{{\"json\":{open}{json}{close}}}\n");
    };
    let mut moved = Map::new();
    if let Some(values) = meta.get("values") {
        moved.insert("values".into(), under(at, values));
    }
    if let Some(equal) = meta.get("referentialEqualities") {
        moved.insert("referentialEqualities".into(), equalities_under(at, equal));
    }
    // The path syntax version: only what the upstream's superjson wrote.
    if let Some(v) = meta.get("v") {
        moved.insert("v".into(), v.clone());
    }
    format!("{{\"json\":{open}{json}{close},\"meta\":{}}}\n", Value::Object(moved))
}

/// superjson annotation paths moved under `at`: `{"a.b": ..}` to `{"at.a.b": ..}`, and a
/// root annotation (an array) to `{"at": ..}`.
fn under(at: &str, values: &Value) -> Value {
    match values {
        Value::Object(tree) => Value::Object(tree.iter().map(|(k, v)| (format!("{at}.{k}"), v.clone())).collect()),
        root => json!({ at: root }),
    }
}

/// superjson's referential equalities (paths to paths) moved under `at`.
fn equalities_under(at: &str, equal: &Value) -> Value {
    let paths = |v: &Value| -> Value {
        Value::Array(
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|p| Value::from(if p.is_empty() { at.to_owned() } else { format!("{at}.{p}") }))
                .collect(),
        )
    };
    let moved = |tree: &Map<String, Value>| -> Map<String, Value> {
        tree.iter().map(|(k, v)| (if k.is_empty() { at.to_owned() } else { format!("{at}.{k}") }, paths(v))).collect()
    };
    match equal {
        Value::Object(tree) => Value::Object(moved(tree)),
        // The root form: [paths equal to the root] or [those, {other paths}].
        Value::Array(parts) => {
            let mut tree = parts.get(1).and_then(Value::as_object).map(moved).unwrap_or_default();
            if let Some(root) = parts.first() {
                tree.insert(at.to_owned(), paths(root));
            }
            Value::Object(tree)
        }
        _ => json!({}),
    }
}

fn line(value: Value, transformer: Transformer) -> String {
    let mut s = transformer.encode(value).to_string();
    s.push('\n');
    s
}

/// v11 JSON lines: a head announcing one pending promise per call, then each call's
/// chunks as soon as it finishes (`[chunkId, 0, [[value], ...nested chunk defs]]`).
fn stream_json_lines(
    dispatcher: Dispatcher,
    ctx: Ctx,
    calls: Vec<Call>,
    forwarding: Option<Forwarding>,
) -> HttpResponse {
    let (n, transformer) = (calls.len(), dispatcher.transformer);
    let head: Map<String, Value> = (0..n).map(|i| (i.to_string(), json!([[0], [null, 0, i]]))).collect();
    let head = line(Value::Object(head), transformer);

    let (local, forwarded) = split_calls(&dispatcher, calls, forwarding);
    let forwarded = forwarded.map(|(forwarding, calls)| forwarding.answers(ctx.clone(), calls));
    let local = completions(&dispatcher, &ctx, local).map(move |(i, path, result)| {
        let text = match result {
            Ok(data) => {
                let (result_chunk, data_chunk) = (n + 2 * i, n + 2 * i + 1);
                [
                    line(json!([i, 0, [[{"result": 0}], ["result", 0, result_chunk]]]), transformer),
                    line(json!([result_chunk, 0, [[{"data": 0}], ["data", 0, data_chunk]]]), transformer),
                    line(json!([data_chunk, 0, [[data]]]), transformer),
                ]
                .concat()
            }
            Err(e) => line(json!([i, 0, [[{"error": e.trpc_shape(Some(&path))}]]]), transformer),
        };
        Bytes::from(text)
    });
    let chunks: futures_util::stream::BoxStream<'static, Bytes> = match forwarded {
        None => local.boxed(),
        Some(forwarded) => {
            let lines = async move {
                let answers: Vec<(usize, String, Answer)> = forwarded.await;
                let lines = answers
                    .into_iter()
                    .map(move |(i, path, a)| Bytes::from(forwarded_lines(i, n, a, &path, transformer)));
                stream::iter(lines)
            };
            stream::select(local, stream::once(lines).flatten()).boxed()
        }
    };
    let body = stream::once(async move { Bytes::from(head) }).chain(chunks).map(Ok::<_, actix_web::Error>);
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::VARY, "trpc-accept, accept"))
        .streaming(body)
}

/// v10 streaming: `{"1":<item>\n`, `,"0":<item>\n`, ..., `}` in completion order.
fn stream_object(dispatcher: Dispatcher, ctx: Ctx, calls: Vec<Call>, forwarding: Option<Forwarding>) -> HttpResponse {
    let transformer = dispatcher.transformer;
    let (local, forwarded) = split_calls(&dispatcher, calls, forwarding);
    let forwarded = forwarded.map(|(forwarding, calls)| forwarding.items(ctx.clone(), calls, transformer));
    let local = completions(&dispatcher, &ctx, local)
        .map(move |(i, path, result)| (i, response_item(&result, &path, transformer).to_string()));
    // The upstream's answers join the stream as they arrive, beside the local ones.
    let items: futures_util::stream::BoxStream<'static, (usize, String)> = match forwarded {
        None => local.boxed(),
        Some(forwarded) => stream::select(local, stream::once(forwarded).flat_map(stream::iter)).boxed(),
    };
    let mut first = true;
    let members = items.map(move |(i, item)| {
        let prefix = if std::mem::take(&mut first) { '{' } else { ',' };
        Bytes::from(format!("{prefix}\"{i}\":{item}\n"))
    });
    let body = members.chain(stream::once(async { Bytes::from_static(b"}") })).map(Ok::<_, actix_web::Error>);
    HttpResponse::Ok().content_type("application/json").insert_header((header::VARY, "trpc-batch-mode")).streaming(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(value: Value) -> Box<RawValue> {
        RawValue::from_string(value.to_string()).unwrap()
    }

    /// What superjson itself writes for `[7, 0, [[value]]]` (node: `superjson.serialize`).
    #[test]
    fn an_upstream_value_placed_in_a_line_gets_superjsons_own_meta_paths() {
        let upstream = json!({
            "json": {"at": "1970-01-01T00:00:00.000Z", "tags": [["a", "1970-01-01T00:00:00.001Z"]], "a": {"x": 1}, "b": {"x": 1}},
            "meta": {"values": {"at": ["Date"], "tags": ["map", {"0.1": ["Date"]}]}, "referentialEqualities": {"a": ["b"]}, "v": 1}
        });
        let line = placed(&raw(upstream), ("[7,0,[[", "]]]"), "2.0.0", Transformer::Superjson);
        let expected = json!({
            "json": [7, 0, [[{"at": "1970-01-01T00:00:00.000Z", "tags": [["a", "1970-01-01T00:00:00.001Z"]], "a": {"x": 1}, "b": {"x": 1}}]]],
            "meta": {
                "values": {"2.0.0.at": ["Date"], "2.0.0.tags": ["map", {"0.1": ["Date"]}]},
                "referentialEqualities": {"2.0.0.a": ["2.0.0.b"]},
                "v": 1
            }
        });
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), expected);
        let root = raw(json!({"json": "1970-01-01T00:00:00.005Z", "meta": {"values": ["Date"], "v": 1}}));
        let root = placed(&root, ("[3,0,[[", "]]]"), "2.0.0", Transformer::Superjson);
        let expected =
            json!({"json": [3, 0, [["1970-01-01T00:00:00.005Z"]]], "meta": {"values": {"2.0.0": ["Date"]}, "v": 1}});
        assert_eq!(serde_json::from_str::<Value>(&root).unwrap(), expected);
        let plain = placed(&raw(json!({"json": [1, 2]})), ("[3,0,[[", "]]]"), "2.0.0", Transformer::Superjson);
        assert_eq!(serde_json::from_str::<Value>(&plain).unwrap(), json!({"json": [3, 0, [[[1, 2]]]]}));
        assert_eq!(placed(&raw(json!([1])), ("[3,0,[[", "]]]"), "2.0.0", Transformer::Json), "[3,0,[[[1]]]]\n");
        // The value's text as the upstream wrote it: key order and number spelling kept.
        let written = RawValue::from_string(r#"{"json":{"zeta":1,"alpha":1.50,"big":1e400}}"#.into()).unwrap();
        let line = placed(&written, ("[3,0,[[", "]]]"), "2.0.0", Transformer::Superjson);
        assert_eq!(line, "{\"json\":[3,0,[[{\"zeta\":1,\"alpha\":1.50,\"big\":1e400}]]]}\n");
    }
}
