//! Bad input at scale (auth-api.md §8): thousands of malformed, oversized, deeply nested,
//! wrongly typed and wrongly encoded requests, on both surfaces, against one gateway per
//! backend. Every answer must be a 4xx in the error shape of its surface; afterwards the
//! process still answers `/health`, its memory grew by a bounded amount and the store is
//! exactly as it was.
//!
//! Inputs are chosen so that none could succeed: every login and 2FA attempt fails input
//! validation (so no throttle rows are written), every request with a valid-looking input
//! either lacks credentials, has the wrong content type, or meets "Admin already exists"
//! or an unknown invitation. The snapshot comparison checks that choice.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::helpers::*;
use futures_util::stream::{self, StreamExt};
use gateway_server::Settings;
use gateway_store::Backend;
use gateway_wire::{Access, Kind, Registry};
use rstest::rstest;
use serde_json::{Value, json};

const MAX_BODY: usize = 1024 * 1024;
const MAX_RSS_GROWTH_KB: u64 = 200 * 1024;
const CONCURRENCY: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Surface {
    Trpc,
    Rest,
}

#[derive(Clone, Debug)]
struct Bad {
    what: String,
    method: &'static str,
    /// Path and query, starting with `/`.
    target: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    /// Send the admin's session cookie.
    authed: bool,
}

impl Bad {
    fn new(what: impl Into<String>, method: &'static str, target: impl Into<String>) -> Self {
        Bad { what: what.into(), method, target: target.into(), content_type: None, body: Vec::new(), authed: false }
    }
    fn json(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some("application/json");
        self.body = body.into();
        self
    }
    fn typed(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type);
        self.body = body.into();
        self
    }
    fn authed(mut self) -> Self {
        self.authed = true;
        self
    }
    /// Short description for failure messages (bodies can be megabytes).
    fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(160)]).into_owned();
        let target = &self.target[..self.target.len().min(200)];
        format!(
            "[{}] {} {target} ct={:?} authed={} body({} B)={body:?}",
            self.what,
            self.method,
            self.content_type,
            self.authed,
            self.body.len()
        )
    }
}

/// Deterministic xorshift, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A mutation with an input, a harmless well-typed input for it, and whether its fields
/// accept `null`; taken from the registry, so a new procedure joins the sweep by itself.
struct Mutation {
    path: &'static str,
    access: Access,
    /// Each input field and whether it accepts `null`.
    fields: Vec<(String, bool)>,
    example: Value,
}

/// Well-typed inputs that cannot succeed once the admin exists: a wrong password is still a
/// real (throttled) attempt, so logins use the right one; the rest name nothing that exists.
fn known_example(path: &str) -> Option<Value> {
    Some(match path {
        "auth.login" => json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        "auth.createAdmin" => json!({"email": "second@example.com", "password": "second-password"}),
        "auth.createUser" => json!({"password": "user-password", "id": "no-such-id", "token": "no-such-token"}),
        "auth.verifyLogin2FA" => json!({"id": "no-such-id", "pin": "123456"}),
        "auth.update" => json!({"email": "changed@example.com", "password": "changed-password",
                                "currentPassword": ADMIN_PASSWORD, "image": "/x.png"}),
        "auth.updateByAdmin" => json!({"id": "no-such-id", "email": "x@example.com", "password": "changed-password"}),
        "auth.verify2FASetup" => json!({"secret": "JBSWY3DPEHPK3PXPJBSWY3DP", "pin": "123456"}),
        "admin.createUserInvitation" => json!({"email": "invited@example.com"}),
        _ => return None,
    })
}

/// An input for a procedure without a known example: each field a plausible string. The
/// sweep sends it only with a wrong content type or method, or without credentials to a
/// protected procedure; the snapshot comparison shows whether that changed anything.
fn example_from_schema(schema: &Value) -> Value {
    let properties = schema["properties"].as_object().cloned().unwrap_or_default();
    let value =
        |field: &Value| if field["format"] == "email" { json!("sweep@example.com") } else { json!("sweep-value") };
    properties.iter().map(|(name, field)| (name.clone(), value(field))).collect::<serde_json::Map<_, _>>().into()
}

/// The procedures the sweep covers, by kind: mutations with an input, mutations without,
/// and queries (with whether they take an input).
struct Targets {
    mutations: Vec<Mutation>,
    inputless_mutations: Vec<&'static str>,
    queries: Vec<(&'static str, bool)>,
}

fn targets(registry: &Registry) -> Targets {
    let mut targets = Targets { mutations: Vec::new(), inputless_mutations: Vec::new(), queries: Vec::new() };
    for info in registry.procedures() {
        let properties = info.input_schema.as_ref().and_then(|s| s["properties"].as_object()).filter(|p| !p.is_empty());
        match (info.kind, properties) {
            (Kind::Query, _) => targets.queries.push((info.path, properties.is_some())),
            (Kind::Mutation, None) => targets.inputless_mutations.push(info.path),
            (Kind::Mutation, Some(properties)) => {
                let nullable = |field: &Value| match &field["type"] {
                    Value::Array(types) => types.contains(&json!("null")),
                    _ => false,
                };
                let schema = info.input_schema.as_ref().unwrap();
                targets.mutations.push(Mutation {
                    path: info.path,
                    access: info.access,
                    fields: properties.iter().map(|(name, field)| (name.clone(), nullable(field))).collect(),
                    example: known_example(info.path).unwrap_or_else(|| example_from_schema(schema)),
                });
            }
        }
    }
    targets
}

#[test]
fn the_sweep_covers_every_registered_procedure() {
    let settings = settings("unused");
    let prepared = gateway_server::prepare(&Settings { database_url: None, ..settings.clone() }).unwrap();
    let registry = prepared.gateway.registry();
    let t = targets(registry);
    let covered = t.mutations.len() + t.inputless_mutations.len() + t.queries.len();
    assert_eq!(covered, registry.procedures().count());
    let update = t.mutations.iter().find(|m| m.path == "auth.update").unwrap();
    assert!(update.fields.contains(&("email".to_owned(), true)), "{:?}", update.fields);
    assert!(t.queries.contains(&("auth.one", true)) && t.queries.contains(&("auth.get", false)));
}

/// Values of the wrong JSON type for a string field (text, so that some are not even JSON).
const WRONG_TYPES: &[&str] = &[
    "1",
    "-1",
    "1.5",
    "0",
    "1e400",
    "true",
    "false",
    "[]",
    "{}",
    "[\"a\"]",
    "{\"a\":\"b\"}",
    "[[[[[[[[]]]]]]]]",
    "9999999999999999999999999",
];
/// Strings that fail the field's validation, as JSON text: each is too short, too long or
/// not an email for its field, so that no combination makes a valid input (a valid login
/// with a wrong password would be a real, throttled attempt).
fn invalid_strings(field: &str) -> Vec<String> {
    let q = |s: &str| Value::from(s).to_string();
    match field {
        "email" => vec![
            q(""),
            q("x"),
            q("not-an-email"),
            q("a@"),
            q("\u{0}@example.com"),
            q(&format!("{}@example.com", "a".repeat(300))),
        ],
        "password" => vec![q(""), q("x"), q("short"), q(&"p".repeat(300))],
        "id" => vec![q(""), q(&"i".repeat(100))],
        "token" => vec![q(""), q(&"t".repeat(300))],
        "pin" => vec![q(""), q("x"), q("12345"), q("12345678901")],
        "secret" => vec![q(""), q(&"S".repeat(200))],
        _ => Vec::new(),
    }
}

fn url(surface: Surface, path: &str) -> String {
    match surface {
        Surface::Trpc => format!("/api/trpc/{path}"),
        Surface::Rest => format!("/api/{path}"),
    }
}

/// The body text for an input: superjson-wrapped on tRPC, bare on REST.
fn wrap(surface: Surface, input_text: &str) -> String {
    match surface {
        Surface::Trpc => format!("{{\"json\":{input_text}}}"),
        Surface::Rest => input_text.to_owned(),
    }
}

/// Object text with `field` set to `raw` (raw JSON text) and the other fields from `example`.
fn with_field(example: &Value, field: &str, raw: &str) -> String {
    let mut parts: Vec<String> = example
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.as_str() != field)
        .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
        .collect();
    parts.push(format!("{}:{raw}", Value::from(field)));
    format!("{{{}}}", parts.join(","))
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn deep(open: &str, close: &str, n: usize) -> String {
    format!("{}{}", open.repeat(n), close.repeat(n))
}

/// Every bad request, generated: a few thousand.
fn bad_requests(targets: &Targets) -> Vec<Bad> {
    let mut out = Vec::new();
    let surfaces = [Surface::Trpc, Surface::Rest];
    for &s in &surfaces {
        for m in &targets.mutations {
            let u = url(s, m.path);
            let example = m.example.clone();
            // Which credential makes the wrong input reach validation. Public procedures and
            // protected ones without credentials need no session.
            let variants: &[bool] = if m.access == Access::Public { &[false] } else { &[false, true] };
            for &authed in variants {
                let tag = |b: Bad| if authed { b.authed() } else { b };
                // Wrong types, field by field.
                for (field, nullable) in &m.fields {
                    let (field, nullable) = (field.as_str(), *nullable);
                    let mut values: Vec<String> = WRONG_TYPES.iter().map(|v| (*v).to_owned()).collect();
                    if !nullable {
                        values.push("null".into());
                    }
                    values.extend(invalid_strings(field));
                    for v in values {
                        let body = wrap(s, &with_field(&example, field, &v));
                        out.push(tag(Bad::new(format!("wrong type {field}={v:.20}"), "POST", &u).json(body)));
                    }
                }
                // Malformed and truncated JSON.
                let good = wrap(s, &example.to_string());
                for len in 0..good.len() {
                    out.push(tag(Bad::new(format!("truncated at {len}"), "POST", &u).json(&good[..len])));
                }
                for junk in [
                    "{",
                    "}",
                    "nul",
                    "[1,2",
                    "{\"a\" \"b\"}",
                    "'single'",
                    "{\"json\":{\"email\":}}",
                    "{\"json\":{},}",
                    "NaN",
                    "{\"json\":Infinity}",
                    "\u{feff}{\"json\":{}}",
                    "{\"json\":\"\\ud800\"}",
                    "{\"json\":\"\\x41\"}",
                    "/* comment */ {}",
                    "{\"json\":{}} trailing",
                    "\"json\"",
                    "[]",
                    "0",
                    "true",
                ] {
                    out.push(tag(Bad::new(format!("malformed {junk:.20}"), "POST", &u).json(junk)));
                }
                // Inputs that are not objects (serde would read an array positionally).
                for inner in ["[]", "[\"x\"]", "[null,null,null,null]", "\"x\"", "5"] {
                    out.push(tag(Bad::new(format!("input not an object: {inner}"), "POST", &u).json(wrap(s, inner))));
                }
                // Deep nesting (serde_json's limit is 128 levels): over and at the limit.
                for (what, body) in [
                    ("10000 [", "[".repeat(10_000)),
                    ("10000 []", deep("[", "]", 10_000)),
                    ("10000 {\"a\":", deep("{\"a\":", "}", 10_000)),
                    ("input 200 deep", wrap(s, &with_field(&example, &m.fields[0].0, &deep("[", "]", 200)))),
                    ("input 120 deep", wrap(s, &with_field(&example, &m.fields[0].0, &deep("[", "]", 120)))),
                    (
                        "meta 200 deep",
                        format!("{{\"json\":{example},\"meta\":{{\"values\":{}}}}}", deep("{\"a\":", "}", 200)),
                    ),
                ] {
                    out.push(tag(Bad::new(format!("nesting {what}"), "POST", &u).json(body)));
                }
                // Invalid UTF-8 and invalid escapes inside strings.
                for bytes in
                    [&b"\xff\xfe"[..], b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"a\x00b"]
                {
                    let mut body = wrap(s, &with_field(&example, &m.fields[0].0, "\"@@\"")).into_bytes();
                    let at = body.windows(2).position(|w| w == b"@@").unwrap();
                    body.splice(at..at + 2, bytes.iter().copied());
                    out.push(tag(Bad::new(format!("invalid utf-8 {bytes:?}"), "POST", &u).json(body)));
                }
                // Duplicate keys: JSON.parse semantics, the last one wins, and it is invalid.
                let f0 = m.fields[0].0.as_str();
                let dup = format!(
                    "{{{}:{},{}}}",
                    Value::from(f0),
                    example.get(f0).cloned().unwrap_or(json!("x")),
                    &with_field(&example, f0, "17")[1..with_field(&example, f0, "17").len() - 1]
                );
                out.push(tag(Bad::new("duplicate key, last invalid", "POST", &u).json(wrap(s, &dup))));
                // Huge strings, under and over the body limit.
                let huge = "a".repeat(MAX_BODY - 200);
                out.push(tag(Bad::new("huge string under the limit", "POST", &u)
                    .json(wrap(s, &with_field(&example, f0, &format!("\"{huge}\""))))));
                let over = "a".repeat(MAX_BODY + 1);
                out.push(tag(Bad::new("body over 1 MiB", "POST", &u)
                    .json(wrap(s, &with_field(&example, f0, &format!("\"{over}\""))))));
                // A mutation over GET (tRPC: input in the query; REST: a query string).
                let q = match s {
                    Surface::Trpc => format!("{u}?input={}", percent(&wrap(s, &example.to_string()))),
                    Surface::Rest => format!("{u}?{f0}=x"),
                };
                out.push(tag(Bad::new("mutation over GET", "GET", q)));
            }
            if s == Surface::Trpc {
                // Superjson meta garbage (tRPC only: REST has no transformer).
                for meta in [
                    json!({"values": ["regexp"]}),
                    json!({"values": [["class", "Foo"]]}),
                    json!({"values": {"nope": ["Date"]}}),
                    json!({"values": 5}),
                    json!({"values": ["Date", 7]}),
                    json!({"values": [], "v": 1}),
                    json!({"values": {"a\\q": ["undefined"]}, "v": 1}),
                    json!({"values": {"email": ["bigint"], "password": ["map"]}}),
                    json!({"values": {"email.x.y.z": ["set"]}}),
                    json!({"values": {"": ["number"]}}),
                    json!({"values": ["undefined"]}),
                    json!({"values": ["number"], "v": 1}),
                    json!({"values": {"0": ["undefined"]}, "referentialEqualities": 5}),
                ] {
                    let body = json!({"json": example, "meta": meta}).to_string();
                    let b = Bad::new(format!("meta {meta}"), "POST", &u).json(body);
                    // Only procedures whose valid input could not change anything take a
                    // meta that merely might be accepted ("undefined" removes a field).
                    if m.access != Access::Public {
                        out.push(b.clone()); // no credentials: 401 before the input is read
                    } else if matches!(m.path, "auth.createAdmin" | "auth.createUser") {
                        out.push(b);
                    }
                }
            }
            // Wrong content types, with a valid input: the type check alone must refuse it.
            for ct in [
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/xml",
                "application/jsonp",
                "application/json-patch+json",
                "json",
                "",
            ] {
                let body = wrap(s, &example.to_string());
                out.push(Bad::new(format!("content type {ct:?}"), "POST", &u).typed(ct, body));
            }
            out.push(Bad {
                content_type: None,
                ..Bad::new("no content type", "POST", &u).json(wrap(s, &example.to_string()))
            });
            // Wrong methods.
            for method in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
                out.push(Bad::new(format!("method {method}"), method, &u).json(wrap(s, &example.to_string())));
                out.push(Bad::new(format!("method {method}, no body"), method, &u));
            }
        }
        for path in &targets.inputless_mutations {
            let u = url(s, path);
            out.push(Bad::new("no credentials", "POST", &u).json(""));
            out.push(Bad::new("no credentials, junk input", "POST", &u).json("{\"json\":[1,2,3]}"));
            out.push(Bad::new("GET of a mutation", "GET", &u));
            out.push(Bad::new("GET of a mutation, authed", "GET", &u).authed());
            out.push(Bad::new("malformed JSON, no credentials", "POST", &u).json("{{{"));
            for method in ["PUT", "DELETE", "PATCH"] {
                out.push(Bad::new(format!("method {method}"), method, &u).authed());
            }
        }
    }

    // Queries with bad inputs.
    let trpc_inputs: Vec<String> = vec![
        "%zz".into(),
        "%ff%fe".into(),
        "%7B%22json%22%3A%ff%7D".into(),
        "{bad".into(),
        percent("{\"json\":{\"token\":5}}"),
        percent("{\"json\":{\"token\":\"\"}}"),
        percent("{\"json\":{\"id\":[]}}"),
        percent("{\"json\":{\"token\":\"t\"},\"meta\":{\"values\":{\"token\":[\"regexp\"]}}}"),
        percent(&"[".repeat(10_000)),
        percent(&deep("[", "]", 200)),
        "%".into(),
        "%2".into(),
        percent(&format!("{{\"json\":{{\"token\":\"{}\"}}}}", "t".repeat(300))),
    ];
    for &(q, authed_ok) in &targets.queries {
        // A query that takes an input gets it judged with credentials too.
        for input in &trpc_inputs {
            out.push(Bad::new(format!("query input {input:.20}"), "GET", format!("/api/trpc/{q}?input={input}")));
            if authed_ok {
                out.push(
                    Bad::new(format!("query input {input:.20}"), "GET", format!("/api/trpc/{q}?input={input}"))
                        .authed(),
                );
            }
        }
        for query in ["%zz=1", "input=1&input=%ff", "&&&==&", "batch=%zz", "a=%E0%A4%A", "%ff%fe=%ff%fe"] {
            out.push(Bad::new(format!("query string {query}"), "GET", format!("/api/trpc/{q}?{query}")));
        }
        // Batches over GET: indices that are huge, negative, non-numeric, or not an object.
        for input in [
            "{\"99999999999\":{\"json\":{\"token\":\"x\"}}}",
            "{\"18446744073709551616\":{\"json\":{\"id\":\"x\"}}}",
            "{\"a\":{\"json\":{\"token\":\"x\"}},\"-1\":{\"json\":5},\"00\":{},\" 0\":{},\"0x0\":{}}",
            "[{\"json\":{\"token\":\"x\"}}]",
            "5",
            "\"0\"",
        ] {
            if authed_ok {
                let target = format!("/api/trpc/{q}?batch=1&input={}", percent(input));
                out.push(Bad::new(format!("batch input {input:.20}"), "GET", target).authed());
            } else {
                let target = format!("/api/trpc/{q}?batch=1&input={}", percent(input));
                out.push(Bad::new(format!("batch input {input:.20}"), "GET", target));
            }
        }
        out.push(Bad::new("query over POST, junk", "POST", format!("/api/trpc/{q}")).json("{\"json\":"));
        // REST queries.
        for query in ["token=%zz", "token=%ff%fe", "%zz=1", "id=%ff%fe", "token=", "id=", "token=a&token=b", "token"] {
            out.push(Bad::new(format!("rest query {query}"), "GET", format!("/api/{q}?{query}")));
            if authed_ok {
                out.push(Bad::new(format!("rest query {query}"), "GET", format!("/api/{q}?{query}")).authed());
            }
        }
        out.push(Bad::new("rest query over POST", "POST", format!("/api/{q}")).json("{}"));
        out.push(Bad::new(
            "rest query, huge value",
            "GET",
            format!("/api/{q}?token={}&id={}", "x".repeat(4000), "y".repeat(4000)),
        ));
    }

    // tRPC batches.
    let login_invalid = "{\"json\":{\"email\":\"x\",\"password\":\"y\"}}";
    for (what, target, body) in [
        ("51 calls", format!("/api/trpc/{}?batch=1", vec!["auth.login"; 51].join(",")), "{}".to_owned()),
        ("1000 calls", format!("/api/trpc/{}?batch=1", vec!["auth.get"; 1000].join(",")), "{}".to_owned()),
        ("51 encoded commas", format!("/api/trpc/{}?batch=1", vec!["auth.login"; 51].join("%2C")), "{}".to_owned()),
        ("empty paths", "/api/trpc/,,,?batch=1".to_owned(), "{}".to_owned()),
        ("empty path", "/api/trpc/".to_owned(), "{}".to_owned()),
        ("empty path batch", "/api/trpc/?batch=1".to_owned(), "{}".to_owned()),
        ("huge index", "/api/trpc/auth.login?batch=1".to_owned(), format!("{{\"99999999999\":{login_invalid}}}")),
        (
            "u64 overflow index",
            "/api/trpc/auth.login,auth.createAdmin?batch=1".to_owned(),
            format!("{{\"18446744073709551616\":{login_invalid},\"1\":{login_invalid}}}"),
        ),
        (
            "non-numeric keys",
            "/api/trpc/auth.login,auth.login?batch=1".to_owned(),
            format!("{{\"a\":{login_invalid},\"-1\":{login_invalid},\"01\":{login_invalid},\"0\":{login_invalid}}}"),
        ),
        ("batch input array", "/api/trpc/auth.login?batch=1".to_owned(), format!("[{login_invalid}]")),
        ("batch input string", "/api/trpc/auth.login?batch=1".to_owned(), "\"0\"".to_owned()),
        (
            "mixed query and mutation",
            "/api/trpc/auth.get,auth.login?batch=1".to_owned(),
            format!("{{\"1\":{login_invalid}}}"),
        ),
        ("unknown procedures", "/api/trpc/nope,auth.nope,..,auth?batch=1".to_owned(), "{}".to_owned()),
        (
            "batch=true 2 calls",
            "/api/trpc/auth.login,auth.verifyLogin2FA?batch=true".to_owned(),
            "{\"0\":5,\"1\":[]}".to_owned(),
        ),
        ("batch of protected", "/api/trpc/auth.logout,auth.generateToken?batch=1".to_owned(), "{}".to_owned()),
    ] {
        out.push(Bad::new(format!("batch {what}"), "POST", target).json(body));
    }
    // Paths.
    for (method, target) in [
        ("GET", "/api/trpc/%zz"),
        ("POST", "/api/trpc/%zz"),
        ("GET", "/api/trpc/%ff%fe"),
        ("GET", "/api/trpc/%ff%fe?batch=1"),
        ("GET", "/api/trpc/auth.get%00"),
        ("GET", "/api/trpc/auth..get"),
        ("GET", "/api/trpc/auth.get/extra"),
        ("GET", "/api/trpc/nope"),
        ("GET", "/api/%zz"),
        ("POST", "/api/%ff%fe"),
        ("GET", "/api/auth.get%00"),
        ("GET", "/api/nope"),
        ("GET", "/api/auth.login/extra"),
        ("GET", "/api/trpc"),
        ("GET", "/api/"),
        ("GET", "/nope"),
        ("PUT", "/health"),
        ("DELETE", "/api/openapi.json"),
        ("POST", "/ready"),
    ] {
        out.push(Bad::new(format!("path {target}"), method, target).json("{}"));
    }
    // Streaming requested on a single call (needs a batch).
    out.push(Bad::new("jsonl without batch", "POST", "/api/trpc/auth.login").json(login_invalid));

    // Random byte-level mutations of well-formed inputs whose acceptance could change
    // nothing: createAdmin (the admin exists), createUser (no invitation exists), and
    // protected procedures without credentials.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mutated: Vec<&Mutation> = targets
        .mutations
        .iter()
        .filter(|m| m.access != Access::Public || matches!(m.path, "auth.createAdmin" | "auth.createUser"))
        .collect();
    let alphabet = b"{}[]\":,\\ 0189-+.eEtfnul\xff\x00\x7f\xc3\xe2";
    for i in 0..1200 {
        let m = mutated[rng.below(mutated.len())];
        let s = surfaces[i % 2];
        let mut body = wrap(s, &m.example.to_string()).into_bytes();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(body.len());
            body[at] = alphabet[rng.below(alphabet.len())];
        }
        out.push(Bad::new(format!("random mutation #{i}"), "POST", url(s, m.path)).json(body));
    }
    out
}

/// Checks one answer: a 4xx (or a 207 batch made only of 4xx items) in the error shape.
fn check(bad: &Bad, status: u16, body: &[u8]) -> Result<(), String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(body)))?;
    if bad.target.starts_with("/api/trpc/") {
        match &value {
            Value::Array(items) => {
                if !(status == 207 || (400..500).contains(&status)) {
                    return Err(format!("batch status {status}: {value}"));
                }
                if items.is_empty() {
                    return Err("empty batch answer".into());
                }
                for item in items {
                    let shape = trpc_error(item).ok_or_else(|| format!("batch item not an error: {item}"))?;
                    let item_status = shape["data"]["httpStatus"].as_u64().unwrap_or(0) as u16;
                    if !(400..500).contains(&item_status) || (status != 207 && item_status != status) {
                        return Err(format!("batch item status {item_status} under {status}: {value}"));
                    }
                }
                Ok(())
            }
            _ => {
                if !(400..500).contains(&status) {
                    return Err(format!("status {status}: {value}"));
                }
                let shape = trpc_error(&value).ok_or_else(|| format!("not a tRPC error shape: {value}"))?;
                if shape["data"]["httpStatus"] != status {
                    return Err(format!("httpStatus differs from the status {status}: {value}"));
                }
                Ok(())
            }
        }
    } else {
        if !(400..500).contains(&status) {
            return Err(format!("status {status}: {value}"));
        }
        let ok = value["message"].is_string() && value["code"].is_string();
        if !ok {
            return Err(format!("not the REST error shape: {value}"));
        }
        Ok(())
    }
}

/// The shape inside `{"error": {"json": shape}}` when it is a complete tRPC error.
fn trpc_error(item: &Value) -> Option<&Value> {
    let shape = &item["error"]["json"];
    let complete = shape["message"].is_string()
        && shape["code"].as_i64().is_some_and(|c| c < 0)
        && shape["data"]["code"].is_string()
        && shape["data"]["httpStatus"].is_u64();
    complete.then_some(shape)
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Sends raw bytes over one connection and returns the status (None: no answer) and body.
fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> (Option<u16>, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.strip_prefix("HTTP/1.1 ").and_then(|r| r.get(..3)).and_then(|s| s.parse().ok());
    let body = match answer.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => answer[at + 4..].to_vec(),
        None => Vec::new(),
    };
    let chunked = text.to_ascii_lowercase().contains("transfer-encoding: chunked");
    (status, if chunked { dechunk(&body) } else { body })
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || body.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&body[eol + 2..eol + 2 + size]);
        body = &body[(eol + 4 + size).min(body.len())..];
    }
    out
}

/// Requests a client library would not send: raw bytes in the request line and headers,
/// chunked bodies over the limit, broken framing. Returns the failures.
fn raw_cases(addr: std::net::SocketAddr, cookie: &str) -> (usize, Vec<String>) {
    let host = format!("Host: {addr}\r\nConnection: close\r\n");
    let mut chunked = format!(
        "POST /api/trpc/auth.createAdmin HTTP/1.1\r\n{host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..20 {
        let chunk = vec![b'['; 64 * 1024];
        chunked.extend(format!("{:x}\r\n", chunk.len()).bytes());
        chunked.extend(chunk);
        chunked.extend(b"\r\n");
    }
    chunked.extend(b"0\r\n\r\n");
    let rest_chunked =
        String::from_utf8(chunked.clone()).unwrap().replacen("/api/trpc/auth.createAdmin", "/api/auth.createAdmin", 1);
    // (request, whether the app sees it: then the answer must be in the error shape).
    let cases: Vec<(Vec<u8>, &str, bool)> = vec![
        (b"GET /api/trpc/auth.get\xff\xfe HTTP/1.1\r\n".iter().copied().chain(format!("{host}\r\n").bytes()).collect(), "/api/trpc/", false),
        (b"GET /api/trpc/auth.get?input=\xff\xfe HTTP/1.1\r\n".iter().copied().chain(format!("{host}\r\n").bytes()).collect(), "/api/trpc/", false),
        (b"GET /api/admin.getUserByToken?token=\xff\xfe HTTP/1.1\r\n".iter().copied().chain(format!("{host}\r\n").bytes()).collect(), "/api/", false),
        (b"GET /api/trpc/auth.get HTTP/1.1\r\nCookie: auth_session=\xff\xfe\r\n".iter().copied().chain(format!("{host}\r\n").bytes()).collect(), "/api/trpc/", true),
        (b"GET /api/auth.get HTTP/1.1\r\nAuthorization: Bearer \xff\xfe\r\nx-api-key: \xc3\x28\r\n".iter().copied().chain(format!("{host}\r\n").bytes()).collect(), "/api/", true),
        (format!("GET /api/auth.get HTTP/1.1\r\nAuthorization: Bearer {}\r\n{host}\r\n", "A".repeat(8000)).into_bytes(), "/api/", true),
        (format!("GET /api/trpc/auth.get HTTP/1.1\r\nCookie: {cookie}x\r\n{host}\r\n").into_bytes(), "/api/trpc/", true),
        (chunked, "/api/trpc/", true),
        (rest_chunked.into_bytes(), "/api/", true),
        (format!("POST /api/trpc/auth.login HTTP/1.1\r\n{host}Content-Type: application/json\r\nContent-Length: abc\r\n\r\n{{}}").into_bytes(), "/api/trpc/", false),
        (format!("POST /api/trpc/auth.login HTTP/1.1\r\n{host}Content-Type: application/json\r\nContent-Length: -1\r\n\r\n{{}}").into_bytes(), "/api/trpc/", false),
        (format!("POST /api/trpc/auth.login HTTP/1.1\r\n{host}Content-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n{{}}").into_bytes(), "/api/trpc/", false),
        (format!("POST /api/trpc/auth.login HTTP/1.1\r\n{host}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").into_bytes(), "/api/trpc/", false),
        (format!("GET /api/trpc/auth.get?input={} HTTP/1.1\r\n{host}\r\n", "%5B".repeat(20_000)).into_bytes(), "/api/trpc/", false),
        // (`%2e%2e` is `..` to a URL library, which would normalize it away before sending.)
        (format!("GET /api/trpc/%2e%2e/%2e%2e/health HTTP/1.1\r\n{host}\r\n").into_bytes(), "/api/trpc/", true),
        (format!("GET /api/%2e%2e/health HTTP/1.1\r\n{host}\r\n").into_bytes(), "/api/", true),
        (b"GARBAGE\r\n\r\n".to_vec(), "", false),
        (b"GET / HTTP/9.9\r\n\r\n".to_vec(), "", false),
        (format!("GET /api/trpc/auth.get HTTP/1.1\r\n{host}Bad Header\r\n\r\n").into_bytes(), "", false),
    ];
    let total = cases.len();
    let mut failures = Vec::new();
    for (request, prefix, app_level) in cases {
        let (status, body) = raw_exchange(addr, &request);
        let head = String::from_utf8_lossy(&request[..request.len().min(120)]).into_owned();
        eprintln!(
            "raw {:?} -> {status:?} {:?}",
            &head[..head.len().min(60)],
            String::from_utf8_lossy(&body[..body.len().min(100)])
        );
        match status {
            // The connection was refused by the HTTP layer without an answer: acceptable for
            // bytes that are not HTTP, never for a request the application sees.
            None if !app_level => {}
            Some(s) if (400..500).contains(&s) && !app_level => {}
            Some(s) => {
                let bad = Bad::new("raw", "RAW", format!("{prefix}x"));
                if let Err(e) = check(&bad, s, &body) {
                    failures.push(format!("raw {head:?}: {e}"));
                }
            }
            None => failures.push(format!("raw {head:?}: no answer")),
        }
    }
    (total, failures)
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn thousands_of_bad_requests_get_4xx_errors_and_change_nothing(#[case] backend: Backend) {
    let mut all_failures = Vec::new();
    if let Some(db) = fresh_database(backend) {
        let server = TestServer::start(&db.url).await;
        // One admin, signed in: the cookie lets wrong inputs reach validation on protected
        // and admin procedures.
        let signup = server
            .browser()
            .mutation("auth.createAdmin", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .await;
        assert_eq!(signup.ok(), &json!(true));
        let cookie = signup.set_cookie("auth_session").unwrap().split(';').next().unwrap().to_owned();
        let before = gateway_store::testing::snapshot(&server.prepared.store);
        let rss_before = rss_kb();
        let started = Instant::now();

        let requests = bad_requests(&targets(server.prepared.gateway.registry()));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let results: Vec<(Bad, Result<(), String>)> = stream::iter(requests)
            .map(|bad| {
                let (client, base, cookie) = (client.clone(), server.base.clone(), cookie.clone());
                async move {
                    let method = reqwest::Method::from_bytes(bad.method.as_bytes()).unwrap();
                    let mut req = client.request(method, format!("{base}{}", bad.target));
                    if let Some(ct) = bad.content_type {
                        req = req.header("content-type", ct);
                    }
                    if bad.what == "jsonl without batch" {
                        req = req.header("trpc-accept", "application/jsonl");
                    }
                    if bad.authed {
                        req = req.header("cookie", &cookie);
                    }
                    if !bad.body.is_empty() {
                        req = req.body(bad.body.clone());
                    }
                    let result = match req.send().await {
                        Ok(res) => {
                            let status = res.status().as_u16();
                            match res.bytes().await {
                                Ok(body) => check(&bad, status, &body),
                                Err(e) => Err(format!("status {status}, body unreadable: {e}")),
                            }
                        }
                        Err(e) => Err(format!("no answer: {e}")),
                    };
                    (bad, result)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let sent = results.len();
        let mut failures: Vec<String> = results
            .iter()
            .filter_map(|(bad, r)| r.as_ref().err().map(|e| format!("{}\n    -> {e}", bad.describe())))
            .collect();

        let (addr, raw_cookie) = (server.addr, cookie.clone());
        let (raw_total, raw_failures) =
            actix_web::rt::task::spawn_blocking(move || raw_cases(addr, &raw_cookie)).await.unwrap();
        failures.extend(raw_failures);

        let elapsed = started.elapsed();
        let rss_after = rss_kb();
        eprintln!(
            "bad_input on {}: {sent} requests + {raw_total} raw in {elapsed:.1?}, {} failures, VmRSS {rss_before} kB -> {rss_after} kB",
            db.url.split(':').next().unwrap_or_default(),
            failures.len()
        );

        let health = server.browser().raw(|c, base| c.get(format!("{base}/health"))).await;
        if health.status != 200 {
            failures.push(format!("/health answered {} afterwards", health.status));
        }
        let after = gateway_store::testing::snapshot(&server.prepared.store);
        if before != after {
            failures.push(format!("bad requests changed the store:\nbefore: {before}\nafter:  {after}"));
        }
        let growth = rss_after.saturating_sub(rss_before);
        if growth >= MAX_RSS_GROWTH_KB {
            failures.push(format!("memory grew by {growth} kB (limit {MAX_RSS_GROWTH_KB} kB)"));
        }
        assert!(sent >= 2000, "only {sent} bad requests generated");
        let backend = db.url.split(':').next().unwrap_or_default().to_owned();
        all_failures.extend(failures.into_iter().map(|f| format!("{backend}: {f}")));
        server.stop().await;
    }
    assert!(all_failures.is_empty(), "{} failures:\n{}", all_failures.len(), all_failures.join("\n"));
}
