//! Secrets the store keeps without being able to give them away (auth-api.md §6): a copy of
//! the database alone yields no TOTP secret, no API token and no usable invitation.
//! - TOTP secrets and API tokens are encrypted with XChaCha20-Poly1305 under a key derived
//!   from the root key, each bound to its account and column (a value copied to another row
//!   does not open). `auth.get` still returns the token, as the contract says.
//! - Invitation tokens are kept as SHA-256 hashes, and looked up by hash.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use gateway_store::auth::AuthChanges;
use gateway_store::{Store, StoreError, auth, invitation};
use sha2::{Digest, Sha256};

use crate::ids::random_bytes;
use crate::tokens::RootKey;

/// Marks an encrypted value: `enc1:` and the base64 of nonce and ciphertext.
const SEALED: &str = "enc1:";
/// Marks a hashed invitation token: `sha256:` and the hex digest.
const HASHED: &str = "sha256:";

/// What a sealed value is, so that one cannot pass for the other.
#[derive(Debug, Clone, Copy)]
pub enum Column {
    TotpSecret,
    ApiToken,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::TotpSecret => "auth.secret",
            Column::ApiToken => "auth.token",
        }
    }
}

pub struct Sealer(XChaCha20Poly1305);

impl Sealer {
    pub fn new(root: &RootKey) -> Self {
        Sealer(XChaCha20Poly1305::new(root.derive("store secrets v1").as_ref().into()))
    }

    fn context(column: Column, auth_id: &str) -> String {
        format!("{}:{auth_id}", column.name())
    }

    pub fn seal(&self, column: Column, auth_id: &str, plain: &str) -> String {
        let nonce = random_bytes::<24>();
        let aad = Self::context(column, auth_id);
        let sealed = self
            .0
            .encrypt(&XNonce::from(nonce), Payload { msg: plain.as_bytes(), aad: aad.as_bytes() })
            .expect("XChaCha20-Poly1305 encrypts any length");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED}{}", data_encoding::BASE64URL_NOPAD.encode(&bytes))
    }

    /// The plain value of a sealed one; `None` if it is not sealed, or not for this column
    /// and account, or not by this key.
    pub fn open(&self, column: Column, auth_id: &str, stored: &str) -> Option<String> {
        let bytes = data_encoding::BASE64URL_NOPAD.decode(stored.strip_prefix(SEALED)?.as_bytes()).ok()?;
        let (nonce, sealed) = bytes.split_at_checked(24)?;
        let nonce = XNonce::from(<[u8; 24]>::try_from(nonce).ok()?);
        let aad = Self::context(column, auth_id);
        let plain = self.0.decrypt(&nonce, Payload { msg: sealed, aad: aad.as_bytes() }).ok()?;
        String::from_utf8(plain).ok()
    }
}

pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED)
}

/// How an invitation token is stored and looked up.
pub fn invitation_hash(token: &str) -> String {
    format!("{HASHED}{}", data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes())))
}

pub fn is_hashed(stored: &str) -> bool {
    stored.starts_with(HASHED)
}

/// Encrypts the TOTP secrets and API tokens, and hashes the invitation tokens, that an
/// older store kept as they are (run at start and by `migrate`; a second run finds nothing).
/// Returns how many accounts and invitations it converted.
pub fn seal_stored_secrets(store: &Store, root: &RootKey) -> Result<(usize, usize), StoreError> {
    let sealer = Sealer::new(root);
    store.run(|c| {
        let mut accounts = 0;
        for (id, secret, token) in auth::with_secrets(c)? {
            let seal = |column, value: Option<String>| {
                value.filter(|v| !is_sealed(v)).map(|v| Some(sealer.seal(column, &id, &v)))
            };
            let changes = AuthChanges {
                secret: seal(Column::TotpSecret, secret),
                token: seal(Column::ApiToken, token),
                ..Default::default()
            };
            if changes.secret.is_some() || changes.token.is_some() {
                auth::update(c, &id, &changes)?;
                accounts += 1;
            }
        }
        let mut invitations = 0;
        for (user_id, token) in invitation::tokens(c)? {
            if !is_hashed(&token) {
                invitation::set_token(c, &user_id, &invitation_hash(&token))?;
                invitations += 1;
            }
        }
        Ok((accounts, invitations))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_column_account_and_key() {
        let key = RootKey::generate();
        let sealer = Sealer::new(&key);
        let sealed = sealer.seal(Column::TotpSecret, "a1", "JBSWY3DPEHPK3PXP");
        assert!(is_sealed(&sealed) && !sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(sealer.open(Column::TotpSecret, "a1", &sealed).as_deref(), Some("JBSWY3DPEHPK3PXP"));
        assert_ne!(sealed, sealer.seal(Column::TotpSecret, "a1", "JBSWY3DPEHPK3PXP"), "a fresh nonce each time");
        assert_eq!(sealer.open(Column::TotpSecret, "a2", &sealed), None, "another account");
        assert_eq!(sealer.open(Column::ApiToken, "a1", &sealed), None, "another column");
        assert_eq!(Sealer::new(&RootKey::generate()).open(Column::TotpSecret, "a1", &sealed), None, "another key");
        for junk in ["JBSWY3DPEHPK3PXP", "enc1:", "enc1:AAAA", &sealed[..sealed.len() - 2]] {
            assert_eq!(sealer.open(Column::TotpSecret, "a1", junk), None, "{junk:?}");
        }
    }

    #[test]
    fn invitation_tokens_hash_to_a_marked_digest() {
        let hash = invitation_hash("abc");
        assert_eq!(hash, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(is_hashed(&hash) && !is_hashed("abc"));
    }
}
