//! bcrypt hashing. Passwords are bounded to 72 bytes by validation; the
//! non-truncating functions make sure no longer password is ever silently cut.

/// Hash verified for unknown accounts, so that they cost the same time as a wrong password.
pub fn dummy_hash(cost: u32) -> String {
    bcrypt::hash("not-a-password-of-anyone", cost).expect("bcrypt with a valid cost")
}

pub fn hash(password: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    bcrypt::non_truncating_hash(password, cost)
}

pub fn verify(password: &str, hash: &str) -> bool {
    bcrypt::non_truncating_verify(password, hash).unwrap_or(false)
}

/// A hash of 32 random bytes: an account with it has no usable password.
pub fn unusable(cost: u32) -> String {
    let secret = data_encoding::BASE64.encode(&crate::ids::random_bytes::<32>());
    bcrypt::hash(secret, cost).expect("bcrypt with a valid cost")
}
