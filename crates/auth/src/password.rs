//! bcrypt hashing. bcrypt reads at most 72 bytes: a password up to that length is hashed
//! as it is (the hashes Dokploy stores), a longer one through SHA-256 first, so that no
//! part of any password is ever silently ignored.
//!
//! New hashes come from the `bcrypt` crate. Checks, the hot path of every login, run on
//! [`eksblowfish`], which computes several of them side by side.

mod eksblowfish;
mod pi;

use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub use eksblowfish::LANES;

/// The highest cost a stored hash may have: one check at 14 takes about a second here, and
/// each step doubles it. A hash above it (an import gone wrong, a hostile row) matches nothing.
pub const MAX_COST: u32 = 14;

/// Marks the input of a pre-hashed password: a control character, which no password may
/// hold (inputs refuse them), so that no password equals a pre-hash.
const PREHASHED: u8 = 0x01;
/// Separates the pre-hash from plain SHA-256: a digest found elsewhere is not our pre-hash.
const PREHASH_DOMAIN: &[u8] = b"auth-gateway password pre-hash v2\0";

/// What bcrypt gets for a password: at most 72 bytes, every byte of the password counting.
fn bcrypt_input(password: &str) -> Zeroizing<Vec<u8>> {
    if password.len() <= 72 {
        return Zeroizing::new(password.as_bytes().to_vec());
    }
    let digest = Sha256::new().chain_update(PREHASH_DOMAIN).chain_update(password.as_bytes()).finalize();
    let mut input = Zeroizing::new(Vec::with_capacity(45));
    input.push(PREHASHED);
    input.extend_from_slice(data_encoding::BASE64.encode(&digest).as_bytes());
    input
}

/// The pre-hash of long passwords before the domain separation: their hashes still verify
/// (see [`Check::legacy`]) until the next login stores a new one.
fn legacy_bcrypt_input(password: &str) -> Option<Zeroizing<Vec<u8>>> {
    (password.len() > 72)
        .then(|| Zeroizing::new(data_encoding::BASE64.encode(&Sha256::digest(password.as_bytes())).into_bytes()))
}

/// Marks a stored hash made by a bcrypt that ignored everything past 72 bytes (Dokploy's,
/// imported): only such a hash is also checked that way, and the next login replaces it.
const TRUNCATING: &str = "truncating:";

/// An imported hash, marked as made by a truncating bcrypt.
pub fn mark_truncating(hash: &str) -> String {
    format!("{TRUNCATING}{hash}")
}

/// The bcrypt hash of a stored value, and whether it is marked as made by a truncating bcrypt.
pub fn unmark(stored: &str) -> (&str, bool) {
    match stored.strip_prefix(TRUNCATING) {
        Some(hash) => (hash, true),
        None => (stored, false),
    }
}

/// Hash verified for unknown accounts, so that they cost the same time as a wrong password.
pub fn dummy_hash(cost: u32) -> String {
    bcrypt::hash("not-a-password-of-anyone", cost).expect("bcrypt with a valid cost")
}

pub fn hash(password: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    // The input has at most 72 bytes: bcrypt drops nothing of it (at 72, its final zero).
    bcrypt::hash(bcrypt_input(password).as_slice(), cost)
}

/// A hash of 32 random bytes: an account with it has no usable password.
pub fn unusable(cost: u32) -> String {
    let secret = data_encoding::BASE64.encode(&crate::ids::random_bytes::<32>());
    bcrypt::hash(secret, cost).expect("bcrypt with a valid cost")
}

/// bcrypt's base64: its own alphabet, no padding.
static BCRYPT_BASE64: LazyLock<data_encoding::Encoding> = LazyLock::new(|| {
    let mut spec = data_encoding::Specification::new();
    spec.symbols.push_str("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    spec.encoding().expect("a valid alphabet")
});

/// A password and the stored hash it must match, parsed and ready for [`check_all`].
pub struct Check {
    /// The password as bcrypt keys it: with its terminating zero, at most 72 bytes.
    key: Zeroizing<Vec<u8>>,
    cost: u32,
    salt: [u8; 16],
    /// The stored hash's last 31 characters: the digest, in bcrypt's base64.
    digest: [u8; 31],
}

impl Check {
    /// `None` when `stored` is not a bcrypt hash of a cost from 4 to [`MAX_COST`]: no
    /// password matches it.
    pub fn new(password: &str, stored: &str) -> Option<Check> {
        Self::with_input(&bcrypt_input(password), stored)
    }

    /// The check of a long password against a hash made before the pre-hash was
    /// domain-separated; `None` for passwords of 72 bytes or fewer (hashed as they are).
    pub fn legacy(password: &str, stored: &str) -> Option<Check> {
        Self::with_input(&legacy_bcrypt_input(password)?, stored)
    }

    /// The check of a long password the way Dokploy's bcrypt made its hash: only its first
    /// 72 bytes count. `None` for passwords of 72 bytes or fewer (those hash alike).
    pub fn truncated(password: &str, stored: &str) -> Option<Check> {
        (password.len() > 72).then(|| Self::with_input(&password.as_bytes()[..72], stored))?
    }

    fn with_input(input: &[u8], stored: &str) -> Option<Check> {
        let parts: bcrypt::HashParts = stored.parse().ok()?;
        // The parser reads any two digits; bcrypt defines costs 4 to 31, and we check up to MAX_COST.
        if !(4..=MAX_COST).contains(&parts.get_cost()) {
            return None;
        }
        // A parsed hash is 60 ASCII characters, the digest last.
        let digest = stored.as_bytes()[29..].try_into().ok()?;
        // Room for the zero up front: growing the vector would leave a copy of the password behind.
        let mut key = Zeroizing::new(Vec::with_capacity(73));
        key.extend_from_slice(input);
        key.push(0);
        key.truncate(72);
        Some(Check { key, cost: parts.get_cost(), salt: parts.get_salt_raw(), digest })
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }
}

/// Whether each password matches its hash, in order. All checks must have one cost.
pub fn check_all(checks: &[Check]) -> Vec<bool> {
    assert!(checks.iter().all(|c| c.cost == checks[0].cost), "checks of one cost");
    let mut answers = Vec::with_capacity(checks.len());
    for lanes in checks.chunks(LANES) {
        match lanes.len() {
            1 => answers.extend(check_lanes::<1>(lanes)),
            2 => answers.extend(check_lanes::<2>(lanes)),
            3 => answers.extend(check_lanes::<3>(lanes)),
            _ => answers.extend(check_lanes::<LANES>(lanes)),
        }
    }
    answers
}

fn check_lanes<const N: usize>(checks: &[Check]) -> [bool; N] {
    let checks: &[Check; N] = checks.try_into().expect("one check per lane");
    let cost = checks[0].cost;
    let raw =
        eksblowfish::bcrypt(cost, checks.each_ref().map(|c| &c.salt), checks.each_ref().map(|c| c.key.as_slice()));
    std::array::from_fn(|i| BCRYPT_BASE64.encode(&raw[i][..23]).as_bytes().ct_eq(&checks[i].digest).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(password: &str, stored: &str) -> bool {
        Check::new(password, stored).is_some_and(|c| check_all(&[c])[0])
    }

    #[test]
    fn long_passwords_count_in_full() {
        let long = "é".repeat(100);
        let stored = hash(&long, 4).unwrap();
        assert!(verify(&long, &stored));
        // Same first 72 bytes, different end: refused (plain bcrypt would accept it).
        let other = format!("{}x", "é".repeat(99));
        assert!(!verify(&other, &stored));
        let short = hash("password-1", 4).unwrap();
        assert!(bcrypt::verify("password-1", &short).unwrap(), "short passwords hash as Dokploy's do");
    }

    #[test]
    fn passwords_of_71_72_and_73_bytes_hash_and_check() {
        for len in [71, 72, 73] {
            let password = "p".repeat(len);
            let stored = hash(&password, 4).unwrap();
            assert!(verify(&password, &stored), "{len} bytes");
            assert!(!verify(&"p".repeat(len - 1), &stored), "{len} bytes, one fewer");
        }
        // A 72-byte password hashed elsewhere (bcrypt drops its final zero) still matches.
        let password = "q".repeat(72);
        assert!(verify(&password, &bcrypt::hash(&password, 4).unwrap()));
    }

    #[test]
    fn checks_accept_every_bcrypt_prefix_and_refuse_what_is_not_a_hash() {
        let stored = bcrypt::hash_with_salt("password-1", 5, [9; 16]).unwrap();
        for version in [bcrypt::Version::TwoA, bcrypt::Version::TwoB, bcrypt::Version::TwoY] {
            let stored = stored.format_for_version(version);
            assert!(verify("password-1", &stored), "{stored}");
            assert!(!verify("password-2", &stored), "{stored}");
        }
        let good = stored.to_string();
        let mut tampered = good.clone().into_bytes();
        tampered[59] = if tampered[59] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(tampered).unwrap();
        let (cost_3, cost_32) = (good.replace("$05$", "$03$"), good.replace("$05$", "$32$"));
        let over_ceiling = bcrypt::hash_with_salt("password-1", MAX_COST + 1, [9; 16]).unwrap().to_string();
        for bad in
            ["", "password-1", &good[..59], &tampered, &good.replace("$2b$", "$3b$"), &cost_3, &cost_32, &over_ceiling]
        {
            assert!(!verify("password-1", bad), "{bad:?}");
        }
    }

    #[test]
    fn a_long_passwords_digest_is_not_a_password_and_old_pre_hashes_still_verify() {
        let long = "x".repeat(100);
        let stored = hash(&long, 4).unwrap();
        // Neither the plain SHA-256 digest nor the pre-hash itself logs in.
        let digest = data_encoding::BASE64.encode(&Sha256::digest(long.as_bytes()));
        assert!(!verify(&digest, &stored));
        let prehash = String::from_utf8(bcrypt_input(&long).to_vec()).unwrap();
        assert!(prehash.starts_with('\u{1}') && !verify(&prehash[1..], &stored));
        // A hash made the old way (SHA-256 alone) matches through the legacy check only.
        let old = bcrypt::hash(&digest, 4).unwrap();
        assert!(!verify(&long, &old));
        assert!(Check::legacy(&long, &old).is_some_and(|c| check_all(&[c])[0]));
        assert!(Check::legacy(&"x".repeat(72), &old).is_none(), "short passwords have no legacy form");
        assert!(Check::legacy(&"y".repeat(100), &old).is_some_and(|c| !check_all(&[c])[0]));
    }

    #[test]
    fn a_truncating_hash_of_a_long_password_matches_only_through_the_truncated_check() {
        let long = format!("{}tail", "é".repeat(36));
        // What Node's bcrypt and bcryptjs store: the first 72 bytes, the rest dropped.
        let dokploy = bcrypt::hash(&long.as_bytes()[..72], 4).unwrap();
        assert!(!verify(&long, &dokploy));
        assert!(Check::truncated(&long, &dokploy).is_some_and(|c| check_all(&[c])[0]));
        assert!(Check::truncated(&"é".repeat(36), &dokploy).is_none(), "72 bytes hash alike");
        // The gateway's own hash of it never matches the truncated form.
        assert!(Check::truncated(&long, &hash(&long, 4).unwrap()).is_some_and(|c| !check_all(&[c])[0]));
    }

    #[test]
    fn a_batch_answers_each_check_in_order() {
        let stored: Vec<String> = (0..6).map(|i| hash(&format!("password-{i}"), 4).unwrap()).collect();
        // Right passwords at even places, wrong ones at odd places; a batch longer than the lanes.
        let checks: Vec<Check> = (0..6)
            .map(|i| Check::new(&format!("password-{}", if i % 2 == 0 { i } else { i + 1 }), &stored[i]).unwrap())
            .collect();
        assert_eq!(check_all(&checks), [true, false, true, false, true, false]);
    }
}
