//! Who is calling, as the gateway vouches for it to the app behind it (`--upstream`): a
//! biscuit token naming the account, its role and the kind of credential, valid for a
//! minute. It is signed with a key of its own, derived from the root key, so that no session
//! or API token (which clients hold) ever passes for one. The app checks it offline with
//! the public key `auth-gateway public-key` prints.
//!
//! A caller's token is reused for half its life: the app's check of a token it has seen is
//! a lookup (the helper remembers verified tokens until their `expires`), not a signature
//! check and a Datalog run per request.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use biscuit_auth::macros::biscuit;
use biscuit_auth::{KeyPair, PrivateKey, PublicKey};
use gateway_wire::{CredentialSource, Identity, IdentitySigner};

use crate::cache::Cache;
use crate::tokens::RootKey;

/// How long a signed identity stays valid, with room for clock skew.
const IDENTITY_TTL: Duration = Duration::from_secs(60);
/// How long one is reused: the app always gets one with at least half its life left.
const REUSE: Duration = Duration::from_secs(30);
/// Bytes the reused tokens may hold: about 20,000 callers.
const REUSED_BYTES: usize = 8 * 1024 * 1024;

/// The key pair identities are signed with, and the tokens signed lately, by caller.
pub struct UpstreamIdentity {
    keys: Arc<KeyPair>,
    signed: Cache<(Instant, Arc<str>)>,
}

impl UpstreamIdentity {
    pub fn new(root: &RootKey) -> Self {
        let seed = root.derive("upstream identity v1");
        let private = PrivateKey::from_bytes(seed.as_ref(), biscuit_auth::Algorithm::Ed25519)
            .expect("32 bytes are an Ed25519 private key");
        UpstreamIdentity {
            keys: Arc::new(KeyPair::from(&private)),
            signed: Cache::new("upstream_identity", REUSED_BYTES, |(_, token)| token.len()),
        }
    }

    /// What the upstream verifies with: `ed25519/<hex>`.
    pub fn public_key(&self) -> PublicKey {
        self.keys.public()
    }

    fn mint(&self, auth_id: &str, role: &str, kind: &str) -> String {
        let expires = SystemTime::now() + IDENTITY_TTL;
        let expires_unix = expires.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        biscuit!(
            r#"gateway_identity(true); auth_id({auth_id}); role({role}); session_kind({kind});
               expires({expires_unix}); check if time($t), $t < {expires};"#,
            auth_id = auth_id,
            role = role,
            kind = kind,
            expires_unix = expires_unix,
            expires = expires,
        )
        .build(&self.keys)
        .and_then(|token| token.to_base64())
        .expect("a well-formed token")
    }
}

impl IdentitySigner for UpstreamIdentity {
    fn sign(&self, identity: &Identity) -> String {
        let kind = if identity.source == CredentialSource::Cookie { "session" } else { "api_token" };
        let role = if identity.admin { "admin" } else { "user" };
        let key = format!("{}\0{role}\0{kind}", identity.subject);
        if let Some((_, token)) = self.signed.get(&key, |(at, _)| at.elapsed() < REUSE) {
            return token.to_string();
        }
        let token: Arc<str> = self.mint(&identity.subject, role, kind).into();
        self.signed.insert(&key, (Instant::now(), Arc::clone(&token)));
        token.to_string()
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
        assert_eq!(signer.sign(&identity), token, "reused while young");
        let user = Identity { admin: false, ..identity };
        assert_ne!(signer.sign(&user), token, "a token per caller and role");
    }
}
