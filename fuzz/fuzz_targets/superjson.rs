//! The superjson meta decoder (`meta.values` annotation trees and paths, both path syntaxes).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let _ = gateway_wire::superjson_deserialize(value);
});
