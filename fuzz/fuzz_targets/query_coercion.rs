//! The OpenAPI surface's query-string coercion: text values given the JSON types their
//! input schema declares, then deserialized and validated like a procedure input.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

#[derive(Debug, serde::Deserialize, garde::Validate)]
#[allow(dead_code)]
struct Input {
    #[garde(range(min = 0))]
    n: Option<i64>,
    #[garde(skip)]
    f: Option<f64>,
    #[garde(skip)]
    b: Option<bool>,
    #[garde(inner(length(min = 1)))]
    token: Option<String>,
    #[garde(skip)]
    s: Option<Option<String>>,
    #[garde(skip)]
    nn: Option<Option<i64>>,
    #[garde(skip)]
    tags: Option<Vec<String>>,
    #[garde(skip)]
    ids: Option<Vec<i64>>,
}

fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer", "format": "int64"},
                "f": {"type": "number"},
                "b": {"type": "boolean"},
                "token": {"type": "string", "minLength": 1},
                "s": {"type": ["string", "null"]},
                "nn": {"type": ["integer", "null"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "ids": {"type": ["array", "null"], "items": {"type": "integer"}},
                "odd": {"type": 5},
                "weird": {"type": ["boolean", "number", "integer", "null"]}
            }
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) else { return };
    let coerced = gateway_wire::coerce_query(pairs.clone(), Some(schema()));
    assert!(coerced.is_object(), "coercion yields an object");
    let _ = gateway_wire::decode_input::<Input>(Some(coerced.clone()), Some(schema()));
    let _ = gateway_wire::decode_input::<Input>(Some(coerced), None);
    // Procedures without an input schema, and schemas without properties.
    let _ = gateway_wire::coerce_query(pairs.clone(), None);
    let _ = gateway_wire::coerce_query(pairs, Some(&json!({"type": "object"})));
});
