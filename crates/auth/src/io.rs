//! Inputs (validated with garde, documented with schemars) and outputs of the procedures.

use garde::Validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// Lengths count characters, as JSON Schema does. Passwords: at least 8 (Dokploy's rule).

#[derive(Debug, Deserialize, Validate, JsonSchema)]
pub struct Credentials {
    #[garde(email, length(chars, max = 254))]
    #[schemars(email)]
    pub email: String,
    #[garde(length(chars, min = 8, max = 256))]
    #[schemars(length(min = 8, max = 256))]
    pub password: String,
}

#[derive(Debug, Deserialize, Validate, JsonSchema)]
pub struct CreateUserInput {
    #[garde(length(chars, min = 8, max = 256))]
    #[schemars(length(min = 8, max = 256))]
    pub password: String,
    #[garde(length(chars, min = 1, max = 64))]
    #[schemars(length(min = 1, max = 64))]
    pub id: String,
    #[garde(length(chars, min = 1, max = 256))]
    #[schemars(length(min = 1, max = 256))]
    pub token: String,
}

#[derive(Debug, Deserialize, Validate, JsonSchema)]
pub struct IdInput {
    #[garde(length(chars, min = 1, max = 64))]
    #[schemars(length(min = 1, max = 64))]
    pub id: String,
}

/// The fields of the seed's update body that are used; `rol`, `secret`, `token`,
/// `is2FAEnabled`, `id` and `createdAt` are accepted and ignored (no self-promotion).
#[derive(Debug, Deserialize, Validate, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    /// `null` or absent: unchanged.
    #[garde(inner(email, length(chars, max = 254)))]
    #[schemars(email)]
    #[serde(default)]
    pub email: Option<String>,
    /// `null` or absent: unchanged. Needs `currentPassword`.
    #[garde(inner(length(chars, min = 8, max = 256)))]
    #[schemars(length(min = 8, max = 256))]
    #[serde(default)]
    pub password: Option<String>,
    #[garde(inner(length(chars, max = 2048)))]
    #[serde(default)]
    pub image: Option<String>,
    #[garde(inner(length(chars, max = 256)))]
    #[serde(default)]
    pub current_password: Option<String>,
}

#[derive(Debug, Deserialize, Validate, JsonSchema)]
pub struct UpdateByAdminInput {
    #[garde(length(chars, min = 1, max = 64))]
    #[schemars(length(min = 1, max = 64))]
    pub id: String,
    #[garde(inner(email, length(chars, max = 254)))]
    #[schemars(email)]
    #[serde(default)]
    pub email: Option<String>,
    #[garde(inner(length(chars, min = 8, max = 256)))]
    #[schemars(length(min = 8, max = 256))]
    #[serde(default)]
    pub password: Option<String>,
    #[garde(inner(length(chars, max = 2048)))]
    #[serde(default)]
    pub image: Option<String>,
}

#[derive(Debug, Deserialize, Validate, JsonSchema)]
pub struct Verify2faSetupInput {
    #[garde(length(chars, min = 6, max = 10))]
    #[schemars(length(min = 6, max = 10))]
    pub pin: String,
    /// Base32, at least as long as `auth.generate2FASecret`'s (24 characters, 120 bits).
    #[garde(length(chars, min = 24, max = 128), custom(strong_base32))]
    #[schemars(length(min = 24, max = 128))]
    pub secret: String,
}

/// A TOTP secret no weaker than the ones the gateway makes: 15 bytes of base32 or more.
fn strong_base32(secret: &str, _: &()) -> garde::Result {
    match crate::totp::secret_bytes(secret) {
        Some(n) if n >= crate::totp::SECRET_BYTES => Ok(()),
        _ => Err(garde::Error::new("must be a base32 secret of at least 24 characters")),
    }
}

#[derive(Debug, Deserialize, Validate, JsonSchema)]
pub struct VerifyLogin2faInput {
    #[garde(length(chars, min = 6, max = 10))]
    #[schemars(length(min = 6, max = 10))]
    pub pin: String,
    #[garde(length(chars, min = 1, max = 64))]
    #[schemars(length(min = 1, max = 64))]
    pub id: String,
}

#[derive(Debug, Deserialize, Validate, JsonSchema)]
pub struct InvitationInput {
    #[garde(email, length(chars, max = 254))]
    #[schemars(email)]
    pub email: String,
}

#[derive(Debug, Deserialize, Validate, JsonSchema)]
pub struct TokenInput {
    #[garde(length(chars, min = 1, max = 256))]
    #[schemars(length(min = 1, max = 256))]
    pub token: String,
}

/// The auth record as clients see it: no password, and never the TOTP secret.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Auth {
    pub id: String,
    pub email: String,
    pub rol: Role,
    pub image: Option<String>,
    /// Always `null`: the TOTP secret never leaves the server.
    pub secret: (),
    /// The current API token, if one was generated.
    pub token: Option<String>,
    #[serde(rename = "is2FAEnabled")]
    pub is_2fa_enabled: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginOutput {
    #[serde(rename = "is2FAEnabled")]
    pub is_2fa_enabled: bool,
    pub auth_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorSecret {
    /// `data:image/svg+xml;base64,...`: a QR code of the otpauth URI.
    pub qr_code_url: String,
    pub secret: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub auth_id: String,
    pub token: String,
    pub expiration_date: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    pub auth_id: String,
    pub email: String,
    pub is_expired: bool,
    pub expiration_date: String,
}
