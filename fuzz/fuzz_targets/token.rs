//! The credential parsers: biscuit tokens from `Authorization: Bearer`, `x-api-key` and the
//! session cookie, verified against a fixed root key; the same text read as an imported
//! Dokploy (lucia) session id and as a 2FA backup code. The seed corpus holds real tokens
//! minted with this key (see README.md), which libFuzzer mutates.
#![no_main]

use std::sync::OnceLock;

use gateway_auth::{BackupCodeKey, RootKey};
use libfuzzer_sys::fuzz_target;

/// A fixed test key; never used outside the fuzzer. The seeds were minted with it.
pub const KEY_HEX: &str = "5d1f3c6b2a9e8d7c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c";

fn key() -> &'static RootKey {
    static KEY: OnceLock<RootKey> = OnceLock::new();
    KEY.get_or_init(|| RootKey::from_hex(KEY_HEX).expect("a valid fixed key"))
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let _ = key().verify(&token);
    // What the cookie and header paths see after trimming.
    let _ = key().verify(token.trim());
    let _ = gateway_auth::legacy_session_id(&token);
    static CODES: OnceLock<BackupCodeKey> = OnceLock::new();
    let _ = CODES.get_or_init(|| BackupCodeKey::new(key())).hash("an-account", &token);
});
