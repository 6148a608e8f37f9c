//! Session and API tokens: biscuit tokens signed with the server's root key. A token
//! names the account, the session row and its kind, and carries an expiry check; the
//! session row decides whether it is still valid (revocation).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use biscuit_auth::macros::{authorizer, biscuit};
use biscuit_auth::{AuthorizerLimits, Biscuit, KeyPair, PrivateKey, PublicKey};

use crate::bounded::BoundedMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Session,
    ApiToken,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::ApiToken => "api_token",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub auth_id: String,
    pub session_id: String,
    pub kind: TokenKind,
    pub expires_at: i64,
}

/// The root key pair. Its private half never leaves this type except to be saved.
pub struct RootKey(KeyPair);

impl RootKey {
    pub fn generate() -> Self {
        RootKey(KeyPair::new())
    }

    pub fn from_hex(hex: &str) -> Result<Self, String> {
        PrivateKey::from_bytes_hex(hex.trim(), biscuit_auth::Algorithm::Ed25519)
            .map(|k| RootKey(KeyPair::from(&k)))
            .map_err(|_| "the root key is not a hex Ed25519 private key".to_owned())
    }

    pub fn to_hex(&self) -> String {
        self.0.private().to_bytes_hex()
    }

    /// Reads the key file, or creates it (mode 0600) when it does not exist yet.
    /// Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), String> {
        match std::fs::read_to_string(path) {
            Ok(hex) => Ok((Self::from_hex(&hex).map_err(|e| format!("{}: {e}", path.display()))?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                key.save(path)?;
                Ok((key, true))
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the key to a new file readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        file.write_all(self.to_hex().as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    pub fn public(&self) -> PublicKey {
        self.0.public()
    }

    pub fn mint(&self, claims: &Claims) -> String {
        let expires = UNIX_EPOCH + Duration::from_secs(claims.expires_at.max(0) as u64);
        biscuit!(
            r#"auth_id({auth_id}); session({session}); kind({kind}); expires({expires_at});
               check if time($t), $t < {expires};"#,
            auth_id = claims.auth_id.as_str(),
            session = claims.session_id.as_str(),
            kind = claims.kind.as_str(),
            expires_at = claims.expires_at,
            expires = expires,
        )
        .build(&self.0)
        .and_then(|token| token.to_base64())
        .expect("a well-formed token")
    }

    /// The claims of a token signed by this key and not expired; `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        if token.is_empty() || token.len() > 4096 {
            return None;
        }
        let token = Biscuit::from_base64(token, self.public()).ok()?;
        let mut authorizer = authorizer!(r#"time({now}); allow if true;"#, now = SystemTime::now())
            // The default run limit is 1 ms of wall time, which fails valid tokens on a busy
            // machine; these facts and rules are tiny, so a generous bound costs nothing.
            .set_limits(AuthorizerLimits { max_time: Duration::from_secs(1), ..Default::default() })
            .build(&token)
            .ok()?;
        authorizer.authorize().ok()?;
        let facts: Vec<(String, String, String, i64)> =
            authorizer.query("claims($a, $s, $k, $e) <- auth_id($a), session($s), kind($k), expires($e)").ok()?;
        let [(auth_id, session_id, kind, expires_at)] = <[_; 1]>::try_from(facts).ok()?;
        let kind = match kind.as_str() {
            "session" => TokenKind::Session,
            "api_token" => TokenKind::ApiToken,
            _ => return None,
        };
        Some(Claims { auth_id, session_id, kind, expires_at })
    }
}

/// Tokens whose signature was checked, so that a busy client costs one check, not one per
/// request. Only the signature is remembered: expiry and revocation are checked every time.
#[derive(Default)]
pub struct VerifiedTokens(BoundedMap<Claims>);

impl VerifiedTokens {
    pub fn verify(&self, key: &RootKey, token: &str) -> Option<Claims> {
        if let Some(claims) = self.0.get(token) {
            return Some(claims);
        }
        let claims = key.verify(token)?;
        self.0.insert(token, claims.clone());
        Some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::unix_now;

    fn claims(expires_at: i64) -> Claims {
        Claims { auth_id: "a1".into(), session_id: "s1".into(), kind: TokenKind::ApiToken, expires_at }
    }

    #[test]
    fn a_minted_token_verifies_with_its_claims() {
        let key = RootKey::generate();
        let c = claims(unix_now() + 60);
        assert_eq!(key.verify(&key.mint(&c)), Some(c));
    }

    #[test]
    fn expired_foreign_and_garbled_tokens_are_refused() {
        let key = RootKey::generate();
        assert_eq!(key.verify(&key.mint(&claims(unix_now() - 1))), None);
        assert_eq!(key.verify(&RootKey::generate().mint(&claims(unix_now() + 60))), None);
        let mut token = key.mint(&claims(unix_now() + 60));
        token.replace_range(40..44, "AAAA");
        assert_eq!(key.verify(&token), None);
        assert_eq!(key.verify("not a token"), None);
        assert_eq!(key.verify(""), None);
    }

    #[test]
    fn keys_round_trip_through_hex_and_files() {
        let key = RootKey::generate();
        assert_eq!(RootKey::from_hex(&key.to_hex()).unwrap().to_hex(), key.to_hex());
        let dir = std::env::temp_dir().join(format!("gw-key-{}", crate::ids::hex_token()));
        let path = dir.join("root.key");
        let (created, was_new) = RootKey::load_or_create(&path).unwrap();
        assert!(was_new);
        let (loaded, was_new) = RootKey::load_or_create(&path).unwrap();
        assert!(!was_new);
        assert_eq!(created.to_hex(), loaded.to_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).ok();
    }
}
