//! What an upstream answers to forwarded calls (`--upstream`): any bytes, read as the answers
//! to a batch or a single call. Every call gets exactly one answer, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [calls, flags, body @ ..] = data else { return };
    let n = usize::from(calls % 50) + 1;
    let batch = flags & 1 == 1;
    let answers = gateway_wire::upstream_answers(body, n, batch, 200);
    assert_eq!(answers.len(), n);
});
