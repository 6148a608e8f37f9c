//! What a procedure can fail with: an answer for the client, or a store failure that becomes
//! one (503 while the database is out of reach, else 500, its cause for the logs only).

use gateway_store::{EMAIL, StoreError};
use gateway_wire::RpcError;

#[derive(Debug)]
pub enum AuthError {
    Answer(RpcError),
    Store(StoreError),
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::Answer(e) => e.fmt(f),
            AuthError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AuthError {}

impl From<RpcError> for AuthError {
    fn from(e: RpcError) -> Self {
        AuthError::Answer(e)
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Store(e)
    }
}

impl From<AuthError> for RpcError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Answer(e) => e,
            AuthError::Store(StoreError::Unavailable(cause)) => RpcError::unavailable(cause),
            AuthError::Store(other) => RpcError::internal(other),
        }
    }
}

pub const CREDENTIALS_DO_NOT_MATCH: &str = "Credentials do not match";
pub const CURRENT_PASSWORD_INCORRECT: &str = "Current password is incorrect";
pub const EMAIL_EXISTS: &str = "Email already exists";
pub const INVALID_2FA_CODE: &str = "Invalid 2FA code";
pub const INVALID_TOKEN: &str = "Invalid token";

/// A BAD_REQUEST with the message clients show.
pub fn bad(message: &str) -> AuthError {
    RpcError::bad_request(message).into()
}

pub fn auth_not_found() -> AuthError {
    RpcError::not_found("Auth not found").into()
}

/// A taken email is the user's "Email already exists"; any other store failure stays one.
pub fn email_taken(e: StoreError) -> AuthError {
    if e.is_unique(EMAIL) { bad(EMAIL_EXISTS) } else { e.into() }
}
