//! bcrypt hashing. bcrypt reads at most 72 bytes: a password up to that length is hashed
//! as it is (the hashes Dokploy stores), a longer one through SHA-256 first, so that no
//! part of any password is ever silently ignored.

use sha2::{Digest, Sha256};

/// What bcrypt gets for a password: at most 72 bytes, every byte of the password counting.
fn bcrypt_input(password: &str) -> Vec<u8> {
    if password.len() <= 72 {
        password.as_bytes().to_vec()
    } else {
        data_encoding::BASE64.encode(&Sha256::digest(password.as_bytes())).into_bytes()
    }
}

/// Hash verified for unknown accounts, so that they cost the same time as a wrong password.
pub fn dummy_hash(cost: u32) -> String {
    bcrypt::hash("not-a-password-of-anyone", cost).expect("bcrypt with a valid cost")
}

pub fn hash(password: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    bcrypt::non_truncating_hash(bcrypt_input(password), cost)
}

pub fn verify(password: &str, hash: &str) -> bool {
    bcrypt::non_truncating_verify(bcrypt_input(password), hash).unwrap_or(false)
}

/// A hash of 32 random bytes: an account with it has no usable password.
pub fn unusable(cost: u32) -> String {
    let secret = data_encoding::BASE64.encode(&crate::ids::random_bytes::<32>());
    bcrypt::hash(secret, cost).expect("bcrypt with a valid cost")
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
