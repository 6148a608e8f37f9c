//! The credential parsers: biscuit tokens from `Authorization: Bearer`, `x-api-key` and the
//! session cookie, verified against a fixed root key; the same text read as an imported
//! Dokploy (lucia) session id and as a 2FA backup code; and verified through a rotated key
//! ring (tokens naming a key id). The seed corpus holds real tokens
//! minted with this key (see README.md), which libFuzzer mutates.
#![no_main]

use std::sync::OnceLock;

use gateway_auth::{BackupCodeKey, RootKey, TokenKeys};
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
    // Through a rotated ring: tokens naming a key id (or none) pick their key from it.
    static RING: OnceLock<TokenKeys> = OnceLock::new();
    let ring = RING.get_or_init(|| {
        let second = "6e2f4d7c3b0f9e8d5c4b3a2a190f8e7d6c5b4a3a291f0e8d7c6b5a4b3a2a1f0e";
        TokenKeys::parse(&format!("2:{second},root"), key()).expect("a valid fixed ring")
    });
    let _ = ring.verify(&token);
    let _ = gateway_auth::legacy_session_id(&token);
    static CODES: OnceLock<BackupCodeKey> = OnceLock::new();
    let _ = CODES.get_or_init(|| BackupCodeKey::new(key())).hash("an-account", &token);
});
