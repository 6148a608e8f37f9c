//! Device cookies (OWASP's defence against lockout by strangers): a browser that signed in
//! to an account gets a long-lived cookie naming a random device id, bound to the account
//! by a MAC. While strangers fill the account's failure counter, an attempt from such a
//! device is counted on the device instead (see `throttle.rs`), so the owner still gets in.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ids::random_bytes;
use crate::tokens::RootKey;

pub const DEVICE_COOKIE: &str = "auth_device";
/// How long a device stays known without signing in again.
pub const DEVICE_TTL_SECS: i64 = 180 * 24 * 3600;
/// Bytes of the MAC kept in the cookie.
const TAG_BYTES: usize = 16;

pub struct DeviceKey(zeroize::Zeroizing<[u8; 32]>);

impl DeviceKey {
    pub fn new(root: &RootKey) -> Self {
        DeviceKey(root.derive("device cookie v1"))
    }

    fn mac(&self, auth_id: &str, device_id: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_ref()).expect("HMAC takes any key length");
        mac.update(auth_id.as_bytes());
        mac.update(&[0]);
        mac.update(device_id.as_bytes());
        mac
    }

    /// A new cookie value for a device that just signed in to `auth_id`: `<id>.<tag>`.
    pub fn issue(&self, auth_id: &str) -> String {
        let device_id = data_encoding::HEXLOWER.encode(&random_bytes::<16>());
        let tag = self.mac(auth_id, &device_id).finalize().into_bytes();
        format!("{device_id}.{}", data_encoding::HEXLOWER.encode(&tag[..TAG_BYTES]))
    }

    /// The device id of `cookie` if it was issued for `auth_id` (compared in constant time).
    pub fn verify(&self, cookie: &str, auth_id: &str) -> Option<String> {
        let (device_id, tag) = cookie.split_once('.')?;
        if device_id.len() != 32 || !device_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let tag = data_encoding::HEXLOWER.decode(tag.as_bytes()).ok().filter(|t| t.len() == TAG_BYTES)?;
        self.mac(auth_id, device_id).verify_truncated_left(&tag).ok()?;
        Some(device_id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_cookie_is_valid_for_its_account_only() {
        let key = DeviceKey::new(&RootKey::generate());
        let cookie = key.issue("owner");
        let id = key.verify(&cookie, "owner").expect("valid for its account");
        assert!(cookie.starts_with(&id));
        assert_eq!(key.verify(&cookie, "someone-else"), None);
        assert_eq!(DeviceKey::new(&RootKey::generate()).verify(&cookie, "owner"), None, "another key");
        let (device, tag) = cookie.split_once('.').unwrap();
        let forged = format!("{}{}.{tag}", &device[..31], if device.ends_with('0') { '1' } else { '0' });
        assert_eq!(key.verify(&forged, "owner"), None);
        for junk in ["", ".", "x.y", &format!("{device}."), &format!("{device}.{}", &tag[..10])] {
            assert_eq!(key.verify(junk, "owner"), None, "{junk:?}");
        }
    }
}
