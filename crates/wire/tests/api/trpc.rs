//! The tRPC HTTP surface (non-streaming): single and batched calls, transformers,
//! methods, whole-request failures, validation, access, internal errors.

use crate::helpers::*;
use actix_web::test::TestRequest;
use gateway_wire::{Transformer, WireConfig};
use serde_json::{Value, json};

// ---- single calls and transformers ----

#[actix_web::test]
async fn single_get_query_with_superjson() {
    let r = send(&gateway(), get(&trpc_url("test.echo", false, Some(&sj(valid_echo()))))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({ "result": { "data": { "json": valid_echo() } } }));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("vary"), Some("trpc-accept, accept"));
}

#[actix_web::test]
async fn single_get_query_with_plain_json_transformer() {
    let gw = gateway_with(WireConfig { transformer: Transformer::Json, ..WireConfig::default() });
    let r = send(&gw, get(&trpc_url("test.echo", false, Some(&valid_echo())))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({ "result": { "data": valid_echo() } }));

    // Errors are not wrapped either.
    let r = send(&gw, get(&trpc_url("test.whoami", false, None))).await;
    assert_eq!(r.status, 401);
    let body = r.json();
    assert_eq!(body["error"]["code"], -32001);
    assert_eq!(body["error"]["data"]["code"], "UNAUTHORIZED");
    assert!(body["error"].get("json").is_none(), "{body}");
}

#[actix_web::test]
async fn absent_input_both_encodings() {
    let gw = gateway();
    for uri in [trpc_url("test.ping", false, Some(&sj_undefined())), trpc_url("test.ping", false, None)] {
        let r = send(&gw, get(&uri)).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        assert_eq!(sj_data(&r.json()), "pong");
    }
    // The pre-2.2.3 encoding (no "v") and a superjson-encoded `undefined` body (no "json").
    let legacy = json!({ "json": null, "meta": { "values": ["undefined"] } });
    let r = send(&gw, get(&trpc_url("test.ping", false, Some(&legacy)))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(&gw, post_json("/api/trpc/test.ping", &json!({ "meta": { "values": ["undefined"], "v": 1 } }))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let empty = TestRequest::post().uri("/api/trpc/test.ping").insert_header(("content-type", "application/json"));
    let r = send(&gw, empty).await;
    assert_eq!(r.status, 200, "an empty body is an absent input: {}", r.text());

    // A procedure that needs input gets a validation error, in both encodings.
    for uri in [trpc_url("test.echo", false, Some(&sj_undefined())), trpc_url("test.echo", false, None)] {
        let r = send(&gw, get(&uri)).await;
        assert_eq!(r.status, 400, "{uri}: {}", r.text());
        let body = r.json();
        let shape = sj_error(&body, 400, "BAD_REQUEST");
        assert_eq!(shape["message"], "Input validation failed");
        assert!(!shape["data"]["issues"].as_array().expect("issues").is_empty(), "{body}");
    }
}

// ---- batches ----

#[actix_web::test]
async fn batch_get_answers_an_array_in_call_order() {
    let input = json!({ "0": sj(valid_echo()) });
    let r = send(&gateway(), bearer(get(&trpc_url("test.echo,test.whoami", true, Some(&input))), "user")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!([
            { "result": { "data": { "json": valid_echo() } } },
            { "result": { "data": { "json": "user-1" } } },
        ])
    );
}

#[actix_web::test]
async fn batch_with_mixed_outcomes_is_207() {
    let input = json!({ "0": sj(valid_echo()) });
    let r = send(&gateway(), get(&trpc_url("test.echo,test.whoami", true, Some(&input)))).await;
    assert_eq!(r.status, 207, "{}", r.text());
    let body = r.json();
    let items = body.as_array().expect("a batch answers an array");
    assert_eq!(items.len(), 2);
    assert_eq!(sj_data(&items[0]), &valid_echo());
    let shape = sj_error(&items[1], 401, "UNAUTHORIZED");
    assert_eq!(shape["code"], -32001);
    assert_eq!(shape["data"]["path"], "test.whoami");
}

#[actix_web::test]
async fn batch_whose_items_share_a_status_gets_that_status() {
    let gw = gateway();
    let r = send(&gw, get(&trpc_url("test.whoami,test.adminonly", true, None))).await;
    assert_eq!(r.status, 401, "{}", r.text());
    let body = r.json();
    for item in body.as_array().expect("array") {
        sj_error(item, 401, "UNAUTHORIZED");
    }

    // A batch of one, and a missing index meaning an absent input.
    let r = send(&gw, get(&trpc_url("test.ping", true, None))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([{ "result": { "data": { "json": "pong" } } }]));
    let input = json!({ "1": sj(valid_echo()) });
    let r = send(&gw, get(&trpc_url("test.ping,test.echo", true, Some(&input)))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(sj_data(&body[0]), "pong");
    assert_eq!(sj_data(&body[1]), &valid_echo());
}

#[actix_web::test]
async fn batch_path_is_url_decoded_before_splitting() {
    let input = json!({ "0": sj(valid_echo()) }).to_string();
    let query = serde_urlencoded::to_string([("batch", "1"), ("input", input.as_str())]).unwrap();
    let r = send(&gateway(), get(&format!("/api/trpc/test.echo%2Ctest.ping?{query}"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().as_array().map(Vec::len), Some(2));
}

#[actix_web::test]
async fn batch_post_mutations() {
    let body = json!({ "0": sj(json!({ "a": 1, "b": 2 })), "1": sj(json!({ "a": 40, "b": 2 })) });
    let r = send(&gateway(), post_json("/api/trpc/test.add,test.add?batch=1", &body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!([
            { "result": { "data": { "json": { "sum": 3 } } } },
            { "result": { "data": { "json": { "sum": 42 } } } },
        ])
    );
}

// ---- methods ----

#[actix_web::test]
async fn mutation_over_get_is_405() {
    let input = sj(json!({ "a": 1, "b": 2 }));
    let r = send(&gateway(), get(&trpc_url("test.add", false, Some(&input)))).await;
    assert_eq!(r.status, 405, "{}", r.text());
    let body = r.json();
    let shape = sj_error(&body, 405, "METHOD_NOT_SUPPORTED");
    assert_eq!(shape["code"], -32005);
    assert_eq!(shape["data"]["path"], "test.add");
}

#[actix_web::test]
async fn query_over_post_follows_method_override() {
    let r = send(&gateway(), post_json("/api/trpc/test.echo", &sj(valid_echo()))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sj_data(&r.json()), &valid_echo());

    let strict = gateway_with(WireConfig { method_override: false, ..WireConfig::default() });
    let r = send(&strict, post_json("/api/trpc/test.echo", &sj(valid_echo()))).await;
    assert_eq!(r.status, 405, "{}", r.text());
    assert_eq!(sj_error(&r.json(), 405, "METHOD_NOT_SUPPORTED")["code"], -32005);
}

#[actix_web::test]
async fn mutation_over_post_with_plain_post() {
    let r = send(&gateway(), post_json("/api/trpc/test.add", &sj(json!({ "a": 2, "b": 3 })))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({ "result": { "data": { "json": { "sum": 5 } } } }));
}

#[actix_web::test]
async fn head_is_204() {
    let r =
        send(&gateway(), TestRequest::default().method(actix_web::http::Method::HEAD).uri("/api/trpc/test.echo")).await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
}

// ---- whole-request failures: one `{"error": ..}` object, never an array ----

/// Checks a whole-request failure and returns its shape.
fn whole_request_error(r: &Reply, http_status: u16, key: &str, json_rpc: i64) -> Value {
    assert_eq!(r.status, http_status, "{}", r.text());
    let body = r.json();
    assert!(body.is_object(), "a whole-request failure is one object, not an array: {body}");
    let shape = sj_error(&body, http_status, key).clone();
    assert_eq!(shape["code"], json_rpc, "{body}");
    shape
}

#[actix_web::test]
async fn post_with_a_non_json_content_type_is_415() {
    let gw = gateway();
    for uri in ["/api/trpc/test.add", "/api/trpc/test.add,test.add?batch=1"] {
        let req = TestRequest::post()
            .uri(uri)
            .insert_header(("content-type", "text/plain"))
            .set_payload(sj(json!({ "a": 1, "b": 2 })).to_string());
        whole_request_error(&send(&gw, req).await, 415, "UNSUPPORTED_MEDIA_TYPE", -32015);
    }
    // No content type at all is refused too; a charset parameter is fine.
    let req = TestRequest::post().uri("/api/trpc/test.add").set_payload(r#"{"json":{"a":1,"b":2}}"#);
    whole_request_error(&send(&gw, req).await, 415, "UNSUPPORTED_MEDIA_TYPE", -32015);
    let req = TestRequest::post()
        .uri("/api/trpc/test.add")
        .insert_header(("content-type", "application/json; charset=utf-8"))
        .set_payload(r#"{"json":{"a":1,"b":2}}"#);
    assert_eq!(send(&gw, req).await.status, 200);
}

#[actix_web::test]
async fn malformed_json_is_a_parse_error() {
    let gw = gateway();
    let req = TestRequest::post()
        .uri("/api/trpc/test.add")
        .insert_header(("content-type", "application/json"))
        .set_payload(r#"{"json": {"a": 1,"#);
    let r = send(&gw, req).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(sj_error(&r.json(), 400, "PARSE_ERROR")["code"], -32700);

    let r = send(&gw, get("/api/trpc/test.echo?input=%7Bnope")).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(sj_error(&r.json(), 400, "PARSE_ERROR")["code"], -32700);
}

#[actix_web::test]
async fn body_over_the_limit_is_413() {
    let gw = gateway_with(WireConfig { max_body_bytes: 64, ..WireConfig::default() });
    let big = sj(json!({ "a": 1, "b": 2, "padding": "x".repeat(200) }));
    whole_request_error(&send(&gw, post_json("/api/trpc/test.add", &big)).await, 413, "PAYLOAD_TOO_LARGE", -32013);
    // Under the limit the same route works.
    assert_eq!(send(&gw, post_json("/api/trpc/test.add", &sj(json!({ "a": 1, "b": 2 })))).await.status, 200);
}

#[actix_web::test]
async fn batch_over_the_limit_fails_whole() {
    let gw = gateway_with(WireConfig { max_batch_calls: 2, ..WireConfig::default() });
    let r = send(&gw, get(&trpc_url("test.ping,test.ping,test.ping", true, None))).await;
    whole_request_error(&r, 400, "BAD_REQUEST", -32600);
    assert_eq!(send(&gw, get(&trpc_url("test.ping,test.ping", true, None))).await.status, 200);
}

#[actix_web::test]
async fn unknown_path_is_404() {
    let gw = gateway();
    let r = send(&gw, get("/api/trpc/x")).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let body = r.json();
    let shape = sj_error(&body, 404, "NOT_FOUND");
    assert_eq!(shape["code"], -32004);
    assert_eq!(shape["message"], "No procedure found on path \"x\"");
    assert_eq!(shape["data"]["path"], "x");

    // Within a batch, only that call fails.
    let r = send(&gw, get(&trpc_url("test.ping,x", true, None))).await;
    assert_eq!(r.status, 207);
    let body = r.json();
    assert_eq!(sj_data(&body[0]), "pong");
    sj_error(&body[1], 404, "NOT_FOUND");
}

#[actix_web::test]
async fn queries_and_mutations_cannot_share_a_post_batch() {
    let body = json!({ "0": sj(valid_echo()), "1": sj(json!({ "a": 1, "b": 2 })) });
    let r = send(&gateway(), post_json("/api/trpc/test.echo,test.add?batch=1", &body)).await;
    whole_request_error(&r, 400, "BAD_REQUEST", -32600);
}

#[actix_web::test]
async fn batch_input_must_be_an_object() {
    let r = send(&gateway(), get(&trpc_url("test.echo", true, Some(&json!([sj(valid_echo())]))))).await;
    assert_eq!(r.status, 400, "{}", r.text());
    sj_error(&r.json()[0], 400, "BAD_REQUEST");
}

// ---- validation and superjson ----

#[actix_web::test]
async fn validation_failure_carries_issues_and_zod_error() {
    let input = sj(json!({ "email": "not-an-email", "password": "12345678" }));
    let r = send(&gateway(), get(&trpc_url("test.echo", false, Some(&input)))).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json();
    let shape = sj_error(&body, 400, "BAD_REQUEST");
    assert_eq!(shape["code"], -32600);
    assert_eq!(shape["message"], "Input validation failed");
    assert_eq!(shape["data"]["path"], "test.echo");
    let issue = &shape["data"]["issues"][0];
    assert_eq!(issue["path"], json!(["email"]));
    assert!(issue["message"].is_string() && issue["code"].is_string(), "{issue}");
    let field_errors = &shape["data"]["zodError"]["fieldErrors"];
    assert!(field_errors["email"].as_array().is_some_and(|e| !e.is_empty()), "{body}");
    assert!(field_errors.get("password").is_none(), "{body}");
    assert_eq!(shape["data"]["zodError"]["formErrors"], json!([]));
}

#[actix_web::test]
async fn missing_and_mistyped_fields_are_validation_failures() {
    let gw = gateway();
    let r = send(&gw, get(&trpc_url("test.echo", false, Some(&sj(json!({ "email": "a@b.co" })))))).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json();
    let issue = &sj_error(&body, 400, "BAD_REQUEST")["data"]["issues"][0];
    assert_eq!(issue["path"], json!(["password"]));
    assert_eq!(issue["message"], "Required");

    let input = sj(json!({ "email": "a@b.co", "password": "12345678", "n": "five" }));
    let r = send(&gw, get(&trpc_url("test.echo", false, Some(&input)))).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json();
    let shape = sj_error(&body, 400, "BAD_REQUEST");
    assert_eq!(shape["message"], "Input validation failed");
    assert_eq!(shape["data"]["issues"][0]["path"], json!(["n"]));
}

#[actix_web::test]
async fn superjson_meta_is_applied() {
    let input = json!({
        "json": { "at": "2026-01-01T00:00:00.000Z", "big": "12", "gone": null, "list": [1, null], "a.b": "1" },
        "meta": { "values": {
            "at": ["Date"], "big": ["bigint"], "gone": ["undefined"], "list.1": ["undefined"], "a\\.b": ["bigint"],
        }, "v": 1 },
    });
    let r = send(&gateway(), get(&trpc_url("test.raw", false, Some(&input)))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        sj_data(&r.json()),
        &json!({ "at": "2026-01-01T00:00:00.000Z", "big": 12, "list": [1, null], "a.b": 1 })
    );

    // `undefined` makes an optional field absent.
    let input = json!({
        "json": { "email": "a@b.co", "password": "12345678", "n": null },
        "meta": { "values": { "n": ["undefined"] }, "v": 1 },
    });
    let r = send(&gateway(), get(&trpc_url("test.echo", false, Some(&input)))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sj_data(&r.json()), &json!({ "email": "a@b.co", "password": "12345678" }));
}

#[actix_web::test]
async fn unknown_superjson_annotations_are_bad_requests() {
    let gw = gateway();
    let metas = [
        json!({ "values": ["regexp"], "v": 1 }),
        json!({ "values": { "x": [["class", "Foo"]] }, "v": 1 }),
        json!({ "values": { "missing": ["Date"] }, "v": 1 }),
        json!({ "values": 7 }),
    ];
    for meta in metas {
        let input = json!({ "json": { "x": "/a/" }, "meta": meta });
        let r = send(&gw, get(&trpc_url("test.raw", false, Some(&input)))).await;
        assert_eq!(r.status, 400, "{meta}: {}", r.text());
        sj_error(&r.json(), 400, "BAD_REQUEST");
    }
    // The app still answers.
    assert_eq!(send(&gw, get(&trpc_url("test.ping", false, None))).await.status, 200);
}

// ---- access ----

#[actix_web::test]
async fn protected_and_admin_procedures() {
    let gw = gateway();
    let r = send(&gw, get(&trpc_url("test.whoami", false, None))).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(sj_error(&r.json(), 401, "UNAUTHORIZED")["code"], -32001);

    let r = send(&gw, bearer(get(&trpc_url("test.whoami", false, None)), "nonsense")).await;
    assert_eq!(r.status, 401);

    let r = send(&gw, bearer(get(&trpc_url("test.whoami", false, None)), "user")).await;
    assert_eq!(r.status, 200);
    assert_eq!(sj_data(&r.json()), "user-1");

    let input = sj(json!({ "reason": "audit" }));
    let admin_only = trpc_url("test.adminonly", false, Some(&input));
    let r = send(&gw, bearer(get(&admin_only), "user")).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(sj_error(&r.json(), 403, "FORBIDDEN")["code"], -32003);

    let r = send(&gw, bearer(get(&admin_only), "admin")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sj_data(&r.json()), &json!({ "subject": "admin-1", "reason": "audit" }));
}

#[actix_web::test]
async fn access_is_checked_before_input() {
    let gw = gateway();
    let invalid = trpc_url("test.adminonly", false, Some(&sj(json!({ "reason": "x" }))));
    let r = send(&gw, get(&invalid)).await;
    assert_eq!(r.status, 401, "anonymous caller must not learn about the input: {}", r.text());
    let r = send(&gw, bearer(get(&invalid), "user")).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = send(&gw, bearer(get(&invalid), "admin")).await;
    assert_eq!(r.status, 400, "{}", r.text());

    // Even an input that cannot be parsed or decoded.
    let r = send(&gw, get("/api/trpc/test.adminonly?input=%7Bnope")).await;
    assert_eq!(r.status, 401, "{}", r.text());
    let bad_meta = json!({ "json": {}, "meta": { "values": ["regexp"] } });
    let r = send(&gw, get(&trpc_url("test.adminonly", false, Some(&bad_meta)))).await;
    assert_eq!(r.status, 401, "{}", r.text());
}

// ---- internal failures ----

#[actix_web::test]
async fn internal_errors_never_leak_their_cause() {
    let r = send(&gateway(), get(&trpc_url("test.fail", false, None))).await;
    assert_eq!(r.status, 500);
    let body = r.json();
    let shape = sj_error(&body, 500, "INTERNAL_SERVER_ERROR");
    assert_eq!(shape["code"], -32603);
    assert_eq!(shape["message"], "Internal server error");
    assert_no_secret(&r);
}

#[actix_web::test]
async fn a_panicking_procedure_is_a_500_and_the_app_survives() {
    let gw = gateway();
    let app = app(&gw).await;
    let r = call(&app, get(&trpc_url("test.panic", false, None))).await;
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(sj_error(&r.json(), 500, "INTERNAL_SERVER_ERROR")["message"], "Internal server error");
    assert_no_secret(&r);

    // In a batch only the panicking call fails; then the same app keeps serving.
    let r = call(&app, get(&trpc_url("test.panic,test.ping", true, None))).await;
    assert_eq!(r.status, 207);
    assert_eq!(sj_data(&r.json()[1]), "pong");
    let r = call(&app, get(&trpc_url("test.ping", false, None))).await;
    assert_eq!(r.status, 200);
}

fn assert_no_secret(r: &Reply) {
    let text = r.text();
    for fragment in [SECRET, "s3cr3t", "hunter2", "relation", "boom"] {
        assert!(!text.contains(fragment), "{fragment:?} leaked: {text}");
    }
}

#[actix_web::test]
async fn throttled_calls_carry_retry_after() {
    let gw = gateway();
    let r = send(&gw, get(&trpc_url("test.throttled", false, None))).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("42"));
    assert_eq!(sj_error(&r.json(), 429, "TOO_MANY_REQUESTS")["code"], -32029);

    let r = send(&gw, get(&trpc_url("test.ping,test.throttled", true, None))).await;
    assert_eq!(r.status, 207);
    assert_eq!(r.header("retry-after"), Some("42"));

    assert_eq!(send(&gw, get(&trpc_url("test.ping", false, None))).await.header("retry-after"), None);
}

#[actix_web::test]
async fn other_methods_are_refused() {
    let r = send(&gateway(), TestRequest::put().uri("/api/trpc/test.ping")).await;
    whole_request_error(&r, 405, "METHOD_NOT_SUPPORTED", -32005);
}
