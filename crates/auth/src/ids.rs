//! Random identifiers and timestamps in the forms Dokploy stores.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::macros::format_description;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes
}

/// A 21-character URL-safe id, like nanoid's.
pub fn new_id() -> String {
    const ALPHABET: &[u8; 64] = b"useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict";
    random_bytes::<21>().iter().map(|b| ALPHABET[(b & 63) as usize] as char).collect()
}

/// 32 random bytes as hex: invitation tokens and session ids.
pub fn hex_token() -> String {
    data_encoding::HEXLOWER.encode(&random_bytes::<32>())
}

/// One of Dokploy's twelve default avatars.
pub fn random_avatar() -> String {
    let [b] = random_bytes::<1>();
    format!("/avatars/avatar-{}.png", 1 + (b % 12))
}

pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// ISO-8601 with milliseconds, as JavaScript's `toISOString` writes it (sorts as text).
pub fn iso(unix_secs: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix_secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"))
        .expect("a fixed format")
}

pub fn now_iso() -> String {
    iso(unix_now())
}

/// Unix seconds of an ISO-8601 timestamp (what [`iso`] writes, or any RFC 3339 one).
pub fn parse_iso(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok().map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_expected_shapes() {
        let id = new_id();
        assert_eq!(id.len(), 21);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        assert_ne!(new_id(), id);
        assert_eq!(hex_token().len(), 64);
        assert!(random_avatar().starts_with("/avatars/avatar-"));
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_iso(&iso(1_790_000_000)), Some(1_790_000_000));
        assert_eq!(parse_iso("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(parse_iso("yesterday"), None);
    }
}
