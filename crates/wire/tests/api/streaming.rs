//! Streaming batches: v11 JSON lines (`trpc-accept: application/jsonl`) and the v10
//! streamed object (`trpc-batch-mode: stream`). Timing tests run against a real server
//! and read the chunked body as it arrives; the margins only prove that a fast call is
//! not held back by a slow one.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::helpers::*;
use futures_util::StreamExt;
use gateway_wire::{Transformer, WireConfig};
use serde_json::{Value, json};

/// Well before the slow call (1500 ms) finishes.
const FAST: Duration = Duration::from_millis(1000);
/// The slow call's answer cannot come before this.
const AFTER_SLOW: Duration = Duration::from_millis(1400);

/// Reads a body line by line as it arrives: (time since `t0`, line without its `\n`).
/// A last fragment without a newline is a line too.
async fn timed_lines(resp: reqwest::Response, t0: Instant) -> Vec<(Duration, String)> {
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        buf.extend_from_slice(&chunk.expect("body chunk"));
        let at = t0.elapsed();
        while let Some(end) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            lines.push((at, String::from_utf8(line[..end].to_vec()).expect("utf-8")));
        }
    }
    if !buf.is_empty() {
        lines.push((t0.elapsed(), String::from_utf8(buf).expect("utf-8")));
    }
    lines
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("line is not JSON ({e}): {line}"))
}

/// Checks the three lines of a successful call, `[promise, 0, [[{"result": 0}], ["result", 0, a]]]`,
/// `[a, 0, [[{"data": 0}], ["data", 0, b]]]`, `[b, 0, [[output]]]`; the chunk ids `a` and `b`
/// must be new.
fn assert_result_chunks(lines: &[Value], promise: u64, output: &Value, used: &mut HashSet<u64>) {
    assert_eq!(lines.len(), 3, "{lines:?}");
    let mut chunk_id = |line: &Value, key: &str| {
        let id = line[2][1][2].as_u64().unwrap_or_else(|| panic!("no {key} chunk in {line}"));
        assert!(used.insert(id), "chunk id {id} reused: {lines:?}");
        id
    };
    let result = chunk_id(&lines[0], "result");
    assert_eq!(lines[0], json!([promise, 0, [[{ "result": 0 }], ["result", 0, result]]]));
    let data = chunk_id(&lines[1], "data");
    assert_eq!(lines[1], json!([result, 0, [[{ "data": 0 }], ["data", 0, data]]]));
    assert_eq!(lines[2], json!([data, 0, [[output]]]));
}

#[actix_web::test]
async fn jsonl_stream_sends_each_call_as_soon_as_it_finishes() {
    let server = TestServer::start(gateway()).await;
    let input = json!({ "1": sj(valid_echo()) });
    let t0 = Instant::now();
    let resp = reqwest::Client::new()
        .get(server.url(&trpc_url("test.slow,test.echo", true, Some(&input))))
        .header("trpc-accept", "application/jsonl")
        .send()
        .await
        .expect("request");
    assert!(t0.elapsed() < FAST, "headers held back by the slow call: {:?}", t0.elapsed());
    assert_eq!(resp.status(), 200);
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(header("vary").as_deref(), Some("trpc-accept, accept"));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert!(header("x-request-id").is_some());

    let lines = timed_lines(resp, t0).await;
    server.stop().await;
    assert_eq!(lines.len(), 7, "head + 3 lines per call: {lines:?}");
    // Superjson wraps each whole line.
    let values: Vec<Value> = lines
        .iter()
        .map(|(_, l)| {
            let v = parse(l);
            assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{l}");
            v["json"].clone()
        })
        .collect();

    assert_eq!(values[0], json!({ "0": [[0], [null, 0, 0]], "1": [[0], [null, 0, 1]] }));
    let mut used = HashSet::from([0, 1]);
    // The echo (call 1) comes first, the slow call (0) last.
    assert_result_chunks(&values[1..4], 1, &valid_echo(), &mut used);
    assert_result_chunks(&values[4..7], 0, &json!("done"), &mut used);

    for (at, line) in &lines[..4] {
        assert!(*at < FAST, "{line} arrived at {at:?}, held back by the slow call");
    }
    for (at, line) in &lines[4..] {
        assert!(*at >= AFTER_SLOW, "{line} arrived at {at:?}, before the slow call could finish");
    }
}

#[actix_web::test]
async fn jsonl_stream_error_items_and_plain_json() {
    // An error call is one line: `[chunkId, 0, [[{"error": shape}]]]`.
    let r =
        send(&gateway(), get(&trpc_url("test.ping,x", true, None)).insert_header(("trpc-accept", "application/jsonl")))
            .await;
    assert_eq!(r.status, 200);
    let values: Vec<Value> = r.text().lines().map(|l| parse(l)["json"].clone()).collect();
    assert_eq!(values.len(), 1 + 3 + 1, "{}", r.text());
    assert_eq!(values[0], json!({ "0": [[0], [null, 0, 0]], "1": [[0], [null, 0, 1]] }));
    let error_line = values.iter().find(|v| v[0] == 1 && v[2][0][0].get("error").is_some()).expect("error line");
    assert_eq!(error_line[1], 0);
    assert_eq!(error_line[2].as_array().map(Vec::len), Some(1), "{error_line}");
    let shape = &error_line[2][0][0]["error"];
    assert_eq!(shape["code"], -32004);
    assert_eq!(shape["message"], "No procedure found on path \"x\"");
    assert_eq!(shape["data"]["code"], "NOT_FOUND");
    assert_eq!(shape["data"]["httpStatus"], 404);
    assert_eq!(shape["data"]["path"], "x");
    let ping: Vec<Value> = values[1..].iter().filter(|v| *v != error_line).cloned().collect();
    assert_result_chunks(&ping, 0, &json!("pong"), &mut HashSet::from([0, 1]));

    // With the plain JSON transformer, lines are not wrapped; `Accept` works as well.
    let plain = gateway_with(WireConfig { transformer: Transformer::Json, ..WireConfig::default() });
    let r = send(&plain, get(&trpc_url("test.ping", true, None)).insert_header(("accept", "application/jsonl"))).await;
    assert_eq!(r.status, 200);
    let values: Vec<Value> = r.text().lines().map(parse).collect();
    assert_eq!(values[0], json!({ "0": [[0], [null, 0, 0]] }));
    assert_result_chunks(&values[1..], 0, &json!("pong"), &mut HashSet::from([0]));
}

#[actix_web::test]
async fn jsonl_needs_a_batch() {
    let r =
        send(&gateway(), get(&trpc_url("test.ping", false, None)).insert_header(("trpc-accept", "application/jsonl")))
            .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json();
    assert!(body.is_object(), "{body}");
    assert_eq!(sj_error(&body, 400, "BAD_REQUEST")["code"], -32600);
}

#[actix_web::test]
async fn v10_streamed_object_in_completion_order() {
    let server = TestServer::start(gateway()).await;
    let input = json!({ "1": sj(valid_echo()) });
    let t0 = Instant::now();
    let resp = reqwest::Client::new()
        .get(server.url(&trpc_url("test.slow,test.echo", true, Some(&input))))
        .header("trpc-batch-mode", "stream")
        .header("content-type", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let vary = resp.headers().get("vary").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(vary.contains("trpc-batch-mode"), "vary: {vary}");

    let lines = timed_lines(resp, t0).await;
    server.stop().await;
    let texts: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    let echo = texts[0].strip_prefix("{\"1\":").unwrap_or_else(|| panic!("first member: {}", texts[0]));
    assert_eq!(parse(echo), json!({ "result": { "data": { "json": valid_echo() } } }));
    let slow = texts[1].strip_prefix(",\"0\":").unwrap_or_else(|| panic!("second member: {}", texts[1]));
    assert_eq!(parse(slow), json!({ "result": { "data": { "json": "done" } } }));
    assert_eq!(texts[2], "}");

    assert!(lines[0].0 < FAST, "the fast member was held back: {:?}", lines[0].0);
    assert!(lines[1].0 >= AFTER_SLOW, "{:?}", lines[1].0);

    // Read as a whole, the body is one JSON object keyed by call index.
    let whole = format!("{}\n{}\n{}", texts[0], texts[1], texts[2]);
    let object = parse(&whole);
    assert_eq!(sj_data(&object["0"]), "done");
    assert_eq!(sj_data(&object["1"]), &valid_echo());
}

#[actix_web::test]
async fn v10_stream_carries_errors_as_members() {
    let paths = "test.whoami,test.ping,test.panic";
    let r = send(&gateway(), get(&trpc_url(paths, true, None)).insert_header(("trpc-batch-mode", "stream"))).await;
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with('{') && r.text().ends_with("\n}"), "{}", r.text());
    assert_eq!(r.text().lines().count(), 4, "{}", r.text());
    let object = r.json();
    assert_eq!(object.as_object().map(|o| o.len()), Some(3));
    sj_error(&object["0"], 401, "UNAUTHORIZED");
    assert_eq!(sj_data(&object["1"]), "pong");
    assert_eq!(sj_error(&object["2"], 500, "INTERNAL_SERVER_ERROR")["message"], "Internal server error");
    assert!(!r.text().contains("boom"), "{}", r.text());
}
