//! The keys tokens are signed with, for rotation without logging anyone out: the current
//! key signs, the previous ones still verify the tokens they signed until they are retired.
//! Each token names its key with biscuit's root key id; a token without one was signed by
//! the root key itself, as every token was before the first rotation.
//!
//! The ring is written one key per line, the current first: `ID:HEX` for a rotated key,
//! `root` for the root key. In a file (`token.keys` beside the root key) or a setting
//! (`--token-keys`, commas for newlines), so replicas sharing one configuration agree.
//! Without a ring, the root key alone signs and verifies.
//!
//! The root key also seals secrets at rest and derives the other keys (device cookies,
//! backup codes, the upstream identity); rotation leaves those as they are.

use std::io::Write;
use std::path::Path;

use biscuit_auth::{KeyPair, PrivateKey};

use crate::tokens::{self, Claims, RootKey};

/// How the root key is written in a ring.
const ROOT: &str = "root";

/// One signing key of the ring: `None` is the root key itself.
struct RingKey {
    id: Option<u32>,
    pair: KeyPair,
}

pub struct TokenKeys {
    /// The current key first.
    ring: Vec<RingKey>,
}

impl TokenKeys {
    /// The root key alone: no rotation yet.
    pub fn root_only(root: &RootKey) -> Self {
        TokenKeys { ring: vec![RingKey { id: None, pair: root.key_pair() }] }
    }

    /// A ring as written (lines, or entries separated by commas), with the root key for
    /// its `root` entry.
    pub fn parse(text: &str, root: &RootKey) -> Result<Self, String> {
        let mut ring: Vec<RingKey> = Vec::new();
        let lines = text.lines().filter(|l| !l.trim_start().starts_with('#'));
        let entries = lines.flat_map(|l| l.split(',')).map(str::trim).filter(|e| !e.is_empty());
        for (n, entry) in entries.enumerate() {
            let key = if entry == ROOT {
                RingKey { id: None, pair: root.key_pair() }
            } else {
                let (id, hex) = entry
                    .split_once([' ', ':'])
                    .ok_or_else(|| format!("entry {}: expected `ID:HEX` or `{ROOT}`", n + 1))?;
                let id =
                    id.trim().parse::<u32>().map_err(|_| format!("entry {}: the key id is not a number", n + 1))?;
                let private = PrivateKey::from_bytes_hex(hex.trim(), biscuit_auth::Algorithm::Ed25519)
                    .map_err(|_| format!("entry {} (key {id}): not a hex Ed25519 private key", n + 1))?;
                RingKey { id: Some(id), pair: KeyPair::from(&private) }
            };
            if ring.iter().any(|k| k.id == key.id) {
                return Err(format!("entry {}: key {} is listed twice", n + 1, name(key.id)));
            }
            ring.push(key);
        }
        if ring.is_empty() {
            return Err("no key: list the current key first".into());
        }
        Ok(TokenKeys { ring })
    }

    /// The ring as written, the current key first (private keys included: for its file).
    pub fn to_text(&self) -> String {
        let header = "# Token signing keys, the current one first. The others verify the tokens they\n\
                      # signed until retired (auth-gateway keygen --retire ID).\n";
        self.entries().fold(header.to_owned(), |text, entry| text + &entry + "\n")
    }

    /// The ring as the `--token-keys` setting takes it: the entries comma-separated.
    pub fn to_setting(&self) -> String {
        self.entries().collect::<Vec<_>>().join(",")
    }

    /// `ID:HEX` or `root` per key, the current first.
    fn entries(&self) -> impl Iterator<Item = String> + '_ {
        self.ring.iter().map(|key| match key.id {
            Some(id) => format!("{id}:{}", key.pair.private().to_bytes_hex()),
            None => ROOT.to_owned(),
        })
    }

    /// A new random key, current from now on; the others verify until retired. Returns its id.
    pub fn rotate(&mut self) -> u32 {
        let id = self.ring.iter().filter_map(|k| k.id).max().map_or(1, |n| n + 1);
        self.ring.insert(0, RingKey { id: Some(id), pair: KeyPair::new() });
        id
    }

    /// Drops a previous key (`root` or its id): the tokens it signed stop working.
    pub fn retire(&mut self, which: &str) -> Result<(), String> {
        let id = if which == ROOT { None } else { Some(which.parse::<u32>().map_err(|_| format!("no key {which}"))?) };
        let at = self.ring.iter().position(|k| k.id == id).ok_or_else(|| format!("no key {which} in the ring"))?;
        if at == 0 {
            return Err(format!("key {which} is the current one: rotate first"));
        }
        self.ring.remove(at);
        Ok(())
    }

    /// Key names, the current first (`root`, `1`, `2`…), for start-up lines and reports.
    pub fn names(&self) -> Vec<String> {
        self.ring.iter().map(|k| name(k.id)).collect()
    }

    pub fn mint(&self, claims: &Claims) -> String {
        let current = &self.ring[0];
        tokens::mint(&current.pair, current.id, claims)
    }

    /// The claims of a token a key of the ring signed, not expired.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        tokens::verify(token, |id| self.ring.iter().find(|k| k.id == id).map(|k| k.pair.public()))
    }

    /// The ring in `path`, or the root key alone when there is no such file.
    pub fn load(path: &Path, root: &RootKey) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, root).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::root_only(root)),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the ring to `path` (mode 0600), replacing the file in one step: a gateway
    /// starting meanwhile reads the old ring or the new one, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut file = tempfile::Builder::new()
            .prefix(".token.keys")
            .permissions(private())
            .tempfile_in(dir)
            .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
        file.write_all(self.to_text().as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        file.as_file().sync_all().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        file.persist(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(())
    }
}

fn name(id: Option<u32>) -> String {
    id.map_or_else(|| ROOT.to_owned(), |id| id.to_string())
}

fn private() -> std::fs::Permissions {
    #[cfg(unix)]
    {
        std::os::unix::fs::PermissionsExt::from_mode(0o600)
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(".").map(|m| m.permissions()).expect("the working directory")
    }
}

/// A public key of the ring, by the id a token names (for tests of other modules).
#[cfg(test)]
impl TokenKeys {
    pub(crate) fn public(&self, id: Option<u32>) -> Option<biscuit_auth::PublicKey> {
        self.ring.iter().find(|k| k.id == id).map(|k| k.pair.public())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::unix_now;
    use gateway_store::session::SessionKind;

    /// The same claims at every call (a fixed expiry, an hour from the test's start): a
    /// second turning between two calls must not make them differ.
    fn claims() -> Claims {
        static EXPIRES_AT: std::sync::LazyLock<i64> = std::sync::LazyLock::new(|| unix_now() + 3600);
        Claims { auth_id: "a1".into(), session_id: "s1".into(), kind: SessionKind::Session, expires_at: *EXPIRES_AT }
    }

    #[test]
    fn a_rotated_ring_verifies_old_tokens_until_their_key_is_retired() {
        let root = RootKey::generate();
        let mut keys = TokenKeys::root_only(&root);
        let before = keys.mint(&claims());
        assert_eq!(root.verify(&before), Some(claims()), "no key id before the first rotation");
        assert_eq!(keys.rotate(), 1);
        let after = keys.mint(&claims());
        assert_eq!(root.verify(&after), None, "signed by the new key");
        assert_eq!(keys.verify(&before), Some(claims()));
        assert_eq!(keys.verify(&after), Some(claims()));
        assert_eq!(keys.rotate(), 2);
        assert_eq!(keys.names(), ["2", "1", "root"]);
        // The ring survives its text: same keys, same order.
        let again = TokenKeys::parse(&keys.to_text(), &root).unwrap();
        assert_eq!(again.names(), keys.names());
        assert_eq!(again.verify(&after), Some(claims()));
        assert_eq!(again.mint(&claims()).len(), keys.mint(&claims()).len());
        keys.retire("root").unwrap();
        assert_eq!(keys.verify(&before), None, "its key is retired");
        assert_eq!(keys.verify(&after), Some(claims()));
        assert!(keys.retire("2").unwrap_err().contains("current"));
        assert!(keys.retire("9").is_err());
    }

    #[test]
    fn a_token_naming_a_key_the_ring_lacks_is_refused() {
        let root = RootKey::generate();
        let mut other = TokenKeys::root_only(&root);
        other.rotate();
        other.rotate();
        let by_2 = other.mint(&claims());
        // Same root, a ring whose key 2 is another key: the id alone proves nothing.
        let mut mine = TokenKeys::root_only(&root);
        mine.rotate();
        mine.rotate();
        assert_eq!(mine.verify(&by_2), None);
        assert_eq!(TokenKeys::root_only(&root).verify(&by_2), None);
        assert!(other.public(Some(2)).is_some());
    }

    #[test]
    fn settings_and_files_write_the_ring_the_same_way_and_bad_entries_say_which() {
        let root = RootKey::generate();
        let hex = RootKey::generate().to_hex();
        let from_setting = TokenKeys::parse(&format!("3:{hex},root"), &root).unwrap();
        let from_file = TokenKeys::parse(&format!("# comment\n3 {hex}\nroot\n"), &root).unwrap();
        assert_eq!(from_setting.names(), ["3", "root"]);
        assert_eq!(from_setting.to_text(), from_file.to_text());
        for (text, error) in [
            ("", "no key"),
            ("x y", "entry 1: the key id"),
            ("1 zz", "entry 1 (key 1): not a hex"),
            ("root,root", "entry 2: key root is listed twice"),
            ("garbage", "entry 1: expected"),
        ] {
            let e = TokenKeys::parse(text, &root).err().unwrap();
            assert!(e.contains(error), "{text:?}: {e}");
            assert!(!e.contains(&hex));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.keys");
        from_file.save(&path).unwrap();
        assert_eq!(TokenKeys::load(&path, &root).unwrap().to_text(), from_file.to_text());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(TokenKeys::load(&dir.path().join("none"), &root).unwrap().names(), ["root"]);
    }
}
