//! The OpenAPI (REST) surface, the OpenAPI document, health and readiness, and the
//! headers every response carries.

use std::sync::Arc;

use crate::helpers::*;
use actix_web::test::TestRequest;
use futures_util::FutureExt;
use gateway_wire::{Gateway, WireConfig};
use serde_json::{Value, json};

/// Checks a REST error body `{message, code, issues?}` and returns it.
fn rest_error(r: &Reply, http_status: u16, key: &str) -> Value {
    assert_eq!(r.status, http_status, "{}", r.text());
    let body = r.json();
    assert!(body["message"].is_string(), "{body}");
    assert_eq!(body["code"], key, "{body}");
    body
}

#[actix_web::test]
async fn get_query_coerces_query_string_and_answers_bare_output() {
    let r = send(&gateway(), get("/api/test.echo?email=a@b.co&password=12345678&n=5")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({ "email": "a@b.co", "password": "12345678", "n": 5 }));
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[actix_web::test]
async fn get_query_with_an_uncoercible_value_is_a_validation_failure() {
    let r = send(&gateway(), get("/api/test.echo?email=a@b.co&password=12345678&n=five")).await;
    let body = rest_error(&r, 400, "BAD_REQUEST");
    assert_eq!(body["message"], "Input validation failed");
    assert_eq!(body["issues"][0]["path"], json!(["n"]));
}

#[actix_web::test]
async fn post_mutation_with_a_json_body() {
    let r = send(&gateway(), post_json("/api/test.add", &json!({ "a": 40, "b": 2 }))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({ "sum": 42 }));
}

#[actix_web::test]
async fn wrong_method_is_405() {
    let gw = gateway();
    let body = rest_error(&send(&gw, get("/api/test.add?a=1&b=2")).await, 405, "METHOD_NOT_SUPPORTED");
    assert!(body.get("issues").is_none(), "{body}");
    rest_error(&send(&gw, post_json("/api/test.echo", &valid_echo())).await, 405, "METHOD_NOT_SUPPORTED");
}

#[actix_web::test]
async fn post_without_json_content_type_is_415() {
    let req = TestRequest::post()
        .uri("/api/test.add")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload("a=1&b=2");
    rest_error(&send(&gateway(), req).await, 415, "UNSUPPORTED_MEDIA_TYPE");
}

#[actix_web::test]
async fn malformed_and_oversized_bodies() {
    let gw = gateway_with(WireConfig { max_body_bytes: 64, ..WireConfig::default() });
    let req = TestRequest::post()
        .uri("/api/test.add")
        .insert_header(("content-type", "application/json"))
        .set_payload("{\"a\": ");
    rest_error(&send(&gw, req).await, 400, "PARSE_ERROR");
    let big = json!({ "a": 1, "b": 2, "padding": "x".repeat(200) });
    rest_error(&send(&gw, post_json("/api/test.add", &big)).await, 413, "PAYLOAD_TOO_LARGE");
}

#[actix_web::test]
async fn validation_failure_lists_issues() {
    let r = send(&gateway(), get("/api/test.echo?email=nope&password=12345678")).await;
    let body = rest_error(&r, 400, "BAD_REQUEST");
    assert_eq!(body["message"], "Input validation failed");
    let issues = body["issues"].as_array().expect("issues");
    assert_eq!(issues.len(), 1, "{body}");
    assert_eq!(issues[0]["path"], json!(["email"]));
    assert!(issues[0]["message"].is_string() && issues[0]["code"].is_string(), "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(3), "only message, code, issues: {body}");

    // A missing field is reported under its name.
    let body = rest_error(&send(&gateway(), get("/api/test.echo?email=a@b.co")).await, 400, "BAD_REQUEST");
    assert_eq!(body["issues"][0]["path"], json!(["password"]));
    assert_eq!(body["issues"][0]["message"], "Required");
}

#[actix_web::test]
async fn unknown_procedure_is_404() {
    let body = rest_error(&send(&gateway(), get("/api/x")).await, 404, "NOT_FOUND");
    assert_eq!(body["message"], "No procedure found on path \"x\"");
}

#[actix_web::test]
async fn access_on_the_rest_surface() {
    let gw = gateway();
    rest_error(&send(&gw, get("/api/test.whoami")).await, 401, "UNAUTHORIZED");
    let r = send(&gw, bearer(get("/api/test.whoami"), "user")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), "user-1");
    // Access before input: an invalid input is not looked at for a caller without the right.
    rest_error(&send(&gw, get("/api/test.adminonly?reason=x")).await, 401, "UNAUTHORIZED");
    rest_error(&send(&gw, bearer(get("/api/test.adminonly?reason=x"), "user")).await, 403, "FORBIDDEN");
    rest_error(&send(&gw, bearer(get("/api/test.adminonly?reason=x"), "admin")).await, 400, "BAD_REQUEST");
    let r = send(&gw, bearer(get("/api/test.adminonly?reason=audit"), "admin")).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[actix_web::test]
async fn internal_errors_and_panics_hide_their_cause() {
    let gw = gateway();
    let app = app(&gw).await;
    for uri in ["/api/test.fail", "/api/test.panic"] {
        let r = call(&app, get(uri)).await;
        let body = rest_error(&r, 500, "INTERNAL_SERVER_ERROR");
        assert_eq!(body["message"], "Internal server error");
        for fragment in [SECRET, "s3cr3t", "hunter2", "relation", "boom"] {
            assert!(!r.text().contains(fragment), "{fragment:?} leaked: {}", r.text());
        }
    }
    assert_eq!(call(&app, get("/api/test.ping")).await.status, 200);
}

#[actix_web::test]
async fn throttled_calls_carry_retry_after() {
    let r = send(&gateway(), get("/api/test.throttled")).await;
    rest_error(&r, 429, "TOO_MANY_REQUESTS");
    assert_eq!(r.header("retry-after"), Some("42"));
}

#[actix_web::test]
async fn cookies_and_headers_set_by_procedures_reach_the_response() {
    let gw = gateway();
    for uri in [
        "/api/test.cookie".to_owned(),
        trpc_url("test.cookie", false, None),
        trpc_url("test.cookie,test.ping", true, None),
    ] {
        let r = send(&gw, get(&uri)).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        let cookie = r.header("set-cookie").unwrap_or_default();
        assert!(cookie.starts_with("flavour=oat") && cookie.contains("HttpOnly"), "{uri}: {cookie:?}");
        assert_eq!(r.header("x-test"), Some("yes"), "{uri}");
    }
}

// ---- OpenAPI document ----

#[actix_web::test]
async fn openapi_document_describes_the_procedures() {
    let r = send(&gateway(), get("/api/openapi.json")).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");

    let echo = &doc["paths"]["/test.echo"]["get"];
    let params = echo["parameters"].as_array().expect("query parameters");
    let param = |name: &str| params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no {name}: {echo}"));
    for (name, required) in [("email", true), ("password", true), ("n", false)] {
        assert_eq!(param(name)["in"], "query");
        assert_eq!(param(name)["required"], required, "{name}");
    }
    assert!(param("n")["schema"]["type"].to_string().contains("integer"), "{echo}");
    assert_eq!(echo["security"], json!([]));
    assert!(echo["responses"]["200"]["content"]["application/json"]["schema"].is_object());
    assert!(doc["paths"]["/test.echo"].get("post").is_none());

    let add = &doc["paths"]["/test.add"]["post"];
    let body_schema = &add["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body_schema["properties"]["a"]["type"], "integer", "{add}");
    assert!(add["responses"]["415"].is_object() && add["responses"]["413"].is_object(), "{add}");

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["cookieAuth"]["in"], "cookie");
    assert_eq!(schemes["cookieAuth"]["name"], "auth_session");
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(schemes["apiKeyAuth"]["name"], "x-api-key");
    for path in ["/test.whoami", "/test.adminonly"] {
        let op = &doc["paths"][path]["get"];
        let security = op["security"].as_array().expect("security");
        assert!(security.iter().any(|s| s.get("bearerAuth").is_some()), "{path}: {op}");
        assert!(op["responses"]["401"].is_object(), "{path}");
    }
    assert!(doc["paths"]["/test.adminonly"]["get"]["responses"]["403"].is_object());

    // No `$ref`s into undefined schema definitions.
    let text = doc.to_string();
    assert!(!text.contains("#/$defs") && !text.contains("#/definitions"), "{text}");
}

// ---- health, readiness, headers ----

#[actix_web::test]
async fn health_and_readiness() {
    let r = send(&gateway(), get("/health")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
    let r = send(&gateway(), get("/ready")).await;
    assert_eq!(r.status, 200);

    let down =
        Arc::new(Gateway::new(registry(), WireConfig::default()).with_readiness(Arc::new(|| async { false }.boxed())));
    let r = send(&down, get("/ready")).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(send(&down, get("/health")).await.status, 200);

    let up =
        Arc::new(Gateway::new(registry(), WireConfig::default()).with_readiness(Arc::new(|| async { true }.boxed())));
    assert_eq!(send(&up, get("/ready")).await.status, 200);
}

#[actix_web::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    // `call` asserts `x-content-type-options: nosniff` and a request id on each of these.
    let gw = gateway();
    let app = app(&gw).await;
    let requests = [
        get("/health"),
        get("/api/openapi.json"),
        get("/api/test.ping"),
        get("/api/test.fail"),
        get("/api/trpc/test.ping"),
        get("/api/trpc/nope"),
        get("/api/trpc/test.ping,test.ping?batch=1").insert_header(("trpc-accept", "application/jsonl")),
        TestRequest::post().uri("/api/trpc/test.add").set_payload("x"),
        get("/no/such/route"),
    ];
    let mut ids = Vec::new();
    for req in requests {
        let r = call(&app, req).await;
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        ids.push(r.header("x-request-id").map(str::to_owned));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 9, "request ids are distinct: {ids:?}");
}
