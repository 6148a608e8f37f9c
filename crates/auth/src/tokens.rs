//! Session and API tokens: biscuit tokens signed with the server's root key. A token
//! names the account, the session row and its kind, and carries an expiry check; the
//! session row decides whether it is still valid (revocation).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use biscuit_auth::builder::BiscuitBuilder;
use biscuit_auth::macros::{authorizer, biscuit};
use biscuit_auth::{AuthorizerLimits, Biscuit, KeyPair, PrivateKey, PublicKey, UnverifiedBiscuit};

use gateway_store::session::SessionKind;

use crate::cache::Cache;
use crate::ids::unix_now;

/// Longest token accepted, in base64 characters: it bounds what is parsed before the shape
/// check. Minted tokens are about 690 (a 21-character account id, a 64-character session id,
/// the claims written twice); a block appended to one must still reach the shape check.
pub const MAX_TOKEN_CHARS: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub auth_id: String,
    pub session_id: String,
    pub kind: SessionKind,
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
            gateway_store::create_private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
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

    /// A 32-byte key for one `purpose`, derived from the private key (HKDF-SHA256): one
    /// secret to keep, and keys that tell nothing about it or about each other.
    pub(crate) fn derive(&self, purpose: &str) -> zeroize::Zeroizing<[u8; 32]> {
        let private = self.0.private().to_bytes();
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(Some(b"auth-gateway"), &private)
            .expand(purpose.as_bytes(), key.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 length");
        key
    }

    /// A token signed by this key itself (no key id): before any rotation, the only kind.
    pub fn mint(&self, claims: &Claims) -> String {
        mint(&self.0, None, claims)
    }

    /// The claims of a token this key signed itself (no key id), not expired.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        verify(token, |id| id.is_none().then(|| self.public()))
    }

    /// A copy of the key pair, for the token key ring.
    pub(crate) fn key_pair(&self) -> KeyPair {
        KeyPair::from(&self.0.private())
    }
}

/// A token for `claims` signed by `key`, naming it by `id` (biscuit's root key id).
///
/// The claims are written twice in the one signed block: as Datalog facts and a check, as
/// biscuit means them, and as the block's context, which [`verify`] reads without running
/// Datalog (a third of a verify's cost). Gateways that predate the context read the facts.
pub(crate) fn mint(key: &KeyPair, id: Option<u32>, claims: &Claims) -> String {
    let mut builder = datalog_claims(claims).context(ContextClaims::from(claims).to_json());
    if let Some(id) = id {
        builder = builder.root_key_id(id);
    }
    builder.build(key).and_then(|token| token.to_base64()).expect("a well-formed token")
}

/// The claims as the authority block's facts, and their expiry as its check.
fn datalog_claims(claims: &Claims) -> BiscuitBuilder {
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
}

/// The claims of a token signed by the key `public_key` gives for its key id, not expired;
/// `None` otherwise.
///
/// Anyone holding a token can append blocks to it without the root key, and a block's
/// Datalog can be made to run for hours. So the shape comes first: one authority block
/// (what [`mint`] writes), within [`MAX_TOKEN_CHARS`]; anything else is refused after a
/// bounded parse, before any signature or Datalog. Only then is the signature checked. The
/// one block is then the gateway's own: its context gives the claims, and its expiry check
/// is made here; a block without a context (minted before there was one) goes through the
/// authorizer, on the gateway's own four facts and one check.
pub(crate) fn verify(token: &str, public_key: impl FnOnce(Option<u32>) -> Option<PublicKey>) -> Option<Claims> {
    if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
        return None;
    }
    let unverified = UnverifiedBiscuit::from_base64(token).ok()?;
    if unverified.block_count() != 1 {
        return None;
    }
    let key = public_key(unverified.root_key_id())?;
    let token = unverified.verify(key).ok()?;
    match token.context().into_iter().next().flatten() {
        Some(context) => ContextClaims::parse(&context).filter(|claims| unix_now() < claims.expires_at),
        None => authorized_claims(&token),
    }
}

/// The claims of a token without a context, as its Datalog says, if its check passes now.
fn authorized_claims(token: &Biscuit) -> Option<Claims> {
    let mut authorizer = authorizer!(r#"time({now}); allow if true;"#, now = SystemTime::now())
        // The default run limit is 1 ms of wall time, which fails valid tokens on a busy
        // machine. What runs here is our own block: few facts, one pass.
        .set_limits(AuthorizerLimits { max_facts: 16, max_iterations: 4, max_time: Duration::from_secs(1) })
        .build(token)
        .ok()?;
    authorizer.authorize().ok()?;
    let facts: Vec<(String, String, String, i64)> =
        authorizer.query("claims($a, $s, $k, $e) <- auth_id($a), session($s), kind($k), expires($e)").ok()?;
    let [(auth_id, session_id, kind, expires_at)] = <[_; 1]>::try_from(facts).ok()?;
    let kind = SessionKind::try_from(kind).ok()?;
    Some(Claims { auth_id, session_id, kind, expires_at })
}

/// The claims as a block's context: JSON with one-letter names (it rides in every cookie).
#[derive(serde::Serialize, serde::Deserialize)]
struct ContextClaims {
    #[serde(rename = "a")]
    auth_id: String,
    #[serde(rename = "s")]
    session_id: String,
    #[serde(rename = "k")]
    kind: String,
    #[serde(rename = "e")]
    expires_at: i64,
}

impl From<&Claims> for ContextClaims {
    fn from(c: &Claims) -> Self {
        ContextClaims {
            auth_id: c.auth_id.clone(),
            session_id: c.session_id.clone(),
            kind: c.kind.as_str().to_owned(),
            expires_at: c.expires_at,
        }
    }
}

impl ContextClaims {
    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("strings and a number")
    }

    fn parse(context: &str) -> Option<Claims> {
        let c: ContextClaims = serde_json::from_str(context).ok()?;
        let kind = SessionKind::try_from(c.kind).ok()?;
        Some(Claims { auth_id: c.auth_id, session_id: c.session_id, kind, expires_at: c.expires_at })
    }
}

/// Tokens that passed `TokenKeys::verify`, so that a busy client costs one check, not one
/// per request. Only the signature is remembered: expiry and revocation are checked every
/// time. Refused tokens are never kept, and the memory held is bounded in bytes.
pub struct TokenCache(Cache<Claims>);

/// Bytes the token cache may hold: about 9,000 tokens of 690 characters.
const TOKEN_CACHE_BYTES: usize = 8 * 1024 * 1024;

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache(Cache::new("token", TOKEN_CACHE_BYTES, |c: &Claims| c.auth_id.len() + c.session_id.len()))
    }
}

impl TokenCache {
    /// The claims of `token`, remembered or from `verify` (which checks the signature).
    pub fn verify(&self, token: &str, verify: impl FnOnce(&str) -> Option<Claims>) -> Option<Claims> {
        if let Some(claims) = self.0.get(token, |_| true) {
            return Some(claims);
        }
        let claims = verify(token)?;
        self.0.insert(token, claims.clone());
        Some(claims)
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.0.bytes()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::unix_now;

    fn claims(expires_at: i64) -> Claims {
        Claims { auth_id: "a1".into(), session_id: "s1".into(), kind: SessionKind::ApiToken, expires_at }
    }

    #[test]
    fn a_minted_token_verifies_with_its_claims() {
        let key = RootKey::generate();
        let c = claims(unix_now() + 60);
        assert_eq!(key.verify(&key.mint(&c)), Some(c));
    }

    /// A token as gateways minted them before the claims were also the block's context.
    fn without_context(key: &RootKey, c: &Claims) -> String {
        datalog_claims(c).build(&key.0).unwrap().to_base64().unwrap()
    }

    #[test]
    fn claims_are_read_from_the_context_and_tokens_without_one_still_verify() {
        let key = RootKey::generate();
        let c = claims(unix_now() + 60);
        let minted = key.mint(&c);
        let context = Biscuit::from_base64(&minted, key.public()).unwrap().context();
        assert_eq!(context.len(), 1);
        assert_eq!(ContextClaims::parse(context[0].as_deref().unwrap()), Some(c.clone()));
        // Its Datalog says the same, for gateways that read that.
        assert_eq!(authorized_claims(&Biscuit::from_base64(&minted, key.public()).unwrap()), Some(c.clone()));

        let old = without_context(&key, &c);
        assert_eq!(Biscuit::from_base64(&old, key.public()).unwrap().context(), vec![None]);
        assert_eq!(key.verify(&old), Some(c));
        assert_eq!(key.verify(&without_context(&key, &claims(unix_now() - 1))), None, "expired, old format");
        assert_eq!(key.verify(&key.mint(&claims(unix_now()))), None, "expires this second");
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

    /// What an attacker can do without the root key: append a block to a token they hold.
    /// This one would make the authorizer join eight facts ten ways each (10^8 steps), with
    /// few enough facts to pass the authorizer's own limits.
    pub(crate) fn with_expensive_block(token: &str, key: &RootKey) -> String {
        let mut code = String::new();
        for i in 0..10 {
            code.push_str(&format!("n({i});"));
        }
        code.push_str("check if n($a), n($b), n($c), n($d), n($e), n($f), n($g), n($h), $a < 0;");
        let block = biscuit_auth::builder::BlockBuilder::new().code(&code).unwrap();
        let parsed = biscuit_auth::Biscuit::from_base64(token, key.public()).unwrap();
        parsed.append(block).unwrap().to_base64().unwrap()
    }

    #[test]
    fn tokens_with_appended_blocks_are_refused_before_any_datalog_runs() {
        let key = RootKey::generate();
        let good = key.mint(&claims(unix_now() + 60));
        assert!(good.len() < MAX_TOKEN_CHARS / 2, "minted tokens are {} characters", good.len());
        let hostile = with_expensive_block(&good, &key);
        // Without the shape check this call runs for minutes.
        assert_eq!(key.verify(&hostile), None);
        // An empty appended block and an oversized token are refused too. (A sealed token
        // keeps our one block and adds none: it is still ours.)
        let parsed = biscuit_auth::Biscuit::from_base64(&good, key.public()).unwrap();
        let empty = parsed.append(biscuit_auth::builder::BlockBuilder::new()).unwrap().to_base64().unwrap();
        assert_eq!(key.verify(&empty), None);
        assert_eq!(key.verify(&format!("{good}{}", "A".repeat(MAX_TOKEN_CHARS))), None);
        // A token naming a root key id is not one we minted.
        let with_kid = biscuit_auth::Biscuit::builder()
            .fact("auth_id(\"a1\")")
            .unwrap()
            .root_key_id(7)
            .build(&key.0)
            .unwrap()
            .to_base64()
            .unwrap();
        assert_eq!(key.verify(&with_kid), None);
        assert!(key.verify(&good).is_some());
    }

    #[test]
    fn the_verified_cache_keeps_only_tokens_that_passed_within_its_budget() {
        let key = RootKey::generate();
        let cache = TokenCache::default();
        let good = key.mint(&claims(unix_now() + 60));
        for token in
            [with_expensive_block(&good, &key), "garbage".into(), RootKey::generate().mint(&claims(unix_now() + 60))]
        {
            assert_eq!(cache.verify(&token, |t| key.verify(t)), None);
        }
        assert_eq!(cache.len(), 0, "refused tokens are not kept");
        assert!(cache.verify(&good, |t| key.verify(t)).is_some());
        assert_eq!(cache.len(), 1);
        for i in 0..20_000 {
            let c = Claims { session_id: format!("s{i}"), ..claims(unix_now() + 60) };
            cache.0.insert(&format!("{good}{i}"), c);
            assert!(cache.bytes() <= TOKEN_CACHE_BYTES);
        }
    }

    #[test]
    fn keys_round_trip_through_hex_and_files() {
        let key = RootKey::generate();
        assert_eq!(RootKey::from_hex(&key.to_hex()).unwrap().to_hex(), key.to_hex());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("root.key");
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
    }
}
