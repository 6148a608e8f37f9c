//! TOTP (RFC 6238): SHA1, 6 digits, 30 s steps, one step of drift either way.

use qrcode::QrCode;
use qrcode::render::svg;
use subtle::ConstantTimeEq;
use totp_lite::{Sha1, totp_custom};

const STEP: u64 = 30;
const DIGITS: u32 = 6;
const ISSUER: &str = "Dokploy";

/// Bytes of a fresh secret (24 base32 characters): the least a secret set up may have.
pub const SECRET_BYTES: usize = 15;

/// A fresh secret: 15 random bytes, 24 base32 characters.
pub fn new_secret() -> String {
    data_encoding::BASE32_NOPAD.encode(&crate::ids::random_bytes::<SECRET_BYTES>())
}

fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let cleaned: String = secret.trim().trim_end_matches('=').to_ascii_uppercase();
    data_encoding::BASE32_NOPAD.decode(cleaned.as_bytes()).ok().filter(|k| !k.is_empty())
}

/// How many bytes a base32 secret holds; `None` if it is not base32.
pub fn secret_bytes(secret: &str) -> Option<usize> {
    decode_secret(secret).map(|k| k.len())
}

pub fn code_at(secret: &str, step: i64) -> Option<String> {
    let key = decode_secret(secret)?;
    Some(totp_custom::<Sha1>(STEP, DIGITS, &key, step.max(0) as u64 * STEP))
}

/// The time step whose code equals `pin` (current, previous or next), compared in constant time.
pub fn matching_step(secret: &str, pin: &str, unix_now: i64) -> Option<i64> {
    if pin.len() != DIGITS as usize || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = unix_now / STEP as i64;
    let mut found = None;
    for step in [now - 1, now, now + 1] {
        let code = code_at(secret, step)?;
        if bool::from(code.as_bytes().ct_eq(pin.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// What JavaScript's `encodeURIComponent` leaves alone.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

fn encode_component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URI_COMPONENT).to_string()
}

pub fn otpauth_uri(email: &str, secret: &str) -> String {
    format!(
        "otpauth://totp/{ISSUER}:{}?secret={secret}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        encode_component(email)
    )
}

/// The URI as an SVG QR code in a data URL.
pub fn qr_data_url(uri: &str) -> String {
    let svg = QrCode::new(uri.as_bytes())
        .map(|code| code.render::<svg::Color<'_>>().min_dimensions(200, 200).build())
        .expect("an otpauth URI fits in a QR code");
    format!("data:image/svg+xml;base64,{}", data_encoding::BASE64.encode(svg.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B: secret "12345678901234567890", T = 59 s -> 94287082 (8 digits).
        let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        assert_eq!(code_at(&secret, 1).unwrap(), "287082");
    }

    #[test]
    fn one_step_of_drift_is_accepted_and_no_more() {
        let secret = new_secret();
        assert_eq!(secret.len(), 24);
        let now = 1_800_000_000;
        let step = now / 30;
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let pin = code_at(&secret, step + offset).unwrap();
            let got = matching_step(&secret, &pin, now);
            if accepted {
                assert_eq!(got, Some(step + offset));
            } else {
                // A far-away code may collide with a near one by chance (1 in a million).
                assert!(got.is_none() || code_at(&secret, got.unwrap()).unwrap() == pin);
            }
        }
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn uri_names_issuer_label_and_secret() {
        let uri = otpauth_uri("a@b.co", "ABC");
        assert_eq!(uri, "otpauth://totp/Dokploy:a%40b.co?secret=ABC&issuer=Dokploy&algorithm=SHA1&digits=6&period=30");
        assert!(qr_data_url(&uri).starts_with("data:image/svg+xml;base64,"));
    }
}
