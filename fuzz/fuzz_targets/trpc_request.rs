//! The tRPC request decoder: path (single and batched), query string and body, for both
//! verbs, then each call's input through the superjson transformer and a validated struct.
//!
//! Input layout: `<raw path>\n<query string>\n<body>` (missing parts are empty).
#![no_main]

use std::sync::OnceLock;

use gateway_wire::{Transformer, Verb, decode_input, input_schema, parse_calls};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Shaped like `auth.login`'s input.
#[derive(Debug, serde::Deserialize, garde::Validate, schemars::JsonSchema)]
#[allow(dead_code)]
struct Login {
    #[garde(email)]
    email: String,
    #[garde(length(min = 8))]
    password: String,
}

/// Shaped like `auth.update`'s input: optional and nullable fields.
#[derive(Debug, serde::Deserialize, garde::Validate, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Update {
    #[garde(inner(email))]
    email: Option<String>,
    #[garde(inner(length(min = 8)))]
    password: Option<String>,
    #[garde(skip)]
    current_password: Option<String>,
    #[garde(skip)]
    image: Option<Option<String>>,
}

/// The schemas the gateway derives for these inputs (missing and wrongly typed fields).
fn schemas() -> &'static (Value, Value) {
    static SCHEMAS: OnceLock<(Value, Value)> = OnceLock::new();
    SCHEMAS.get_or_init(|| (input_schema::<Login>(), input_schema::<Update>()))
}

fn split3(data: &[u8]) -> (String, String, &[u8]) {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let path = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    (path, query, parts.next().unwrap_or_default())
}

fuzz_target!(|data: &[u8]| {
    let (path, query, body) = split3(data);
    for verb in [Verb::Get, Verb::Post] {
        let Ok((calls, batch)) = parse_calls(&path, &query, verb, Some(body), 50) else { continue };
        assert!(calls.len() <= 50, "batch limit not enforced: {} calls", calls.len());
        assert!(batch || calls.len() == 1, "a non-batch request has exactly one call");
        for call in calls {
            let Ok(input) = call.input else { continue };
            let _ = Transformer::Json.decode(input.clone());
            if let Ok(decoded) = Transformer::Superjson.decode(input) {
                let (login, update) = schemas();
                let _ = decode_input::<Login>(decoded.clone(), Some(login));
                let _ = decode_input::<Login>(decoded.clone(), None);
                let _ = decode_input::<Update>(decoded, Some(update));
            }
        }
    }
});
