//! Who is calling, as the gateway vouches for it to the app behind it (`--upstream`): a
//! biscuit token naming the account, its role and the kind of credential, valid for a
//! minute. It is signed with a key of its own, derived from the root key, so that no session
//! or API token (which clients hold) ever passes for one. The app checks it offline with
//! the public key `auth-gateway public-key` prints.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use biscuit_auth::macros::biscuit;
use biscuit_auth::{KeyPair, PrivateKey, PublicKey};
use gateway_wire::{CredentialSource, Identity, IdentitySigner};

use crate::tokens::RootKey;

/// How long a signed identity stays valid: one forwarded request, with room for clock skew.
const IDENTITY_TTL: Duration = Duration::from_secs(60);

/// The key pair identities are signed with.
pub struct UpstreamIdentity(Arc<KeyPair>);

impl UpstreamIdentity {
    pub fn new(root: &RootKey) -> Self {
        let seed = root.derive("upstream identity v1");
        let private = PrivateKey::from_bytes(seed.as_ref(), biscuit_auth::Algorithm::Ed25519)
            .expect("32 bytes are an Ed25519 private key");
        UpstreamIdentity(Arc::new(KeyPair::from(&private)))
    }

    /// What the upstream verifies with: `ed25519/<hex>`.
    pub fn public_key(&self) -> PublicKey {
        self.0.public()
    }
}

impl IdentitySigner for UpstreamIdentity {
    fn sign(&self, identity: &Identity) -> String {
        let kind = if identity.source == CredentialSource::Cookie { "session" } else { "api_token" };
        let role = if identity.admin { "admin" } else { "user" };
        let expires = SystemTime::now() + IDENTITY_TTL;
        biscuit!(
            r#"gateway_identity(true); auth_id({auth_id}); role({role}); session_kind({kind});
               check if time($t), $t < {expires};"#,
            auth_id = identity.subject.as_str(),
            role = role,
            kind = kind,
            expires = expires,
        )
        .build(&self.0)
        .and_then(|token| token.to_base64())
        .expect("a well-formed token")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use biscuit_auth::macros::authorizer;

    #[test]
    fn identities_verify_with_their_own_key_and_not_with_the_root_key() {
        let root = RootKey::generate();
        let signer = UpstreamIdentity::new(&root);
        let identity = Identity {
            subject: "a1".into(),
            admin: true,
            email: None,
            session_id: "s1".into(),
            source: CredentialSource::Bearer,
            details: None,
        };
        let token = signer.sign(&identity);
        let parsed = biscuit_auth::Biscuit::from_base64(&token, signer.public_key()).unwrap();
        let mut authorizer = authorizer!(r#"time({now}); allow if gateway_identity(true);"#, now = SystemTime::now())
            .build(&parsed)
            .unwrap();
        authorizer.authorize().unwrap();
        let facts: Vec<(String, String, String)> =
            authorizer.query("data($a, $r, $k) <- auth_id($a), role($r), session_kind($k)").unwrap();
        assert_eq!(facts, [("a1".to_owned(), "admin".to_owned(), "api_token".to_owned())]);
        assert!(biscuit_auth::Biscuit::from_base64(&token, root.public()).is_err(), "not a root-key token");
        assert_eq!(UpstreamIdentity::new(&root).public_key(), signer.public_key(), "the same key every start");
    }
}
