//! Blocks an attacker appends to a valid token (no root key needed): whatever Datalog the
//! block holds, `RootKey::verify` refuses the token, and never runs that Datalog (a block
//! can be written to run for hours: libFuzzer's per-input timeout catches one that runs).
//! The input is the appended block's Datalog source; the base token is a real API token
//! minted with the fuzzer's key (`corpus/token/seed-api-token`, valid until 2036).
#![no_main]

use std::sync::OnceLock;

use biscuit_auth::UnverifiedBiscuit;
use biscuit_auth::builder::BlockBuilder;
use gateway_auth::RootKey;
use libfuzzer_sys::fuzz_target;

/// The fixed key of the `token` target, which minted the base token.
const KEY_HEX: &str = "5d1f3c6b2a9e8d7c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c";
const BASE_TOKEN: &str = include_str!("../corpus/token/seed-api-token");

fn key() -> &'static RootKey {
    static KEY: OnceLock<RootKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = RootKey::from_hex(KEY_HEX).expect("a valid fixed key");
        assert!(key.verify(BASE_TOKEN.trim()).is_some(), "the base token verifies on its own");
        key
    })
}

fuzz_target!(|data: &[u8]| {
    let key = key();
    let Ok(code) = std::str::from_utf8(data) else { return };
    let Ok(block) = BlockBuilder::new().code(code) else { return };
    let Ok(token) = UnverifiedBiscuit::from_base64(BASE_TOKEN.trim()).and_then(|t| t.append(block)) else { return };
    let Ok(token) = token.to_base64() else { return };
    assert!(key.verify(&token).is_none(), "a token with an appended block was accepted");
});
