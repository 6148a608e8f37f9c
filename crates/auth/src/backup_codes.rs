//! 2FA backup codes, as better-auth and Keycloak offer them: ten single-use codes for the
//! day the authenticator is lost. Shown once; stored as keyed hashes, so a copy of the
//! database alone yields no code. `auth.verifyLogin2FA` takes one in place of a pin.

use std::sync::Arc;

use garde::Validate;
use gateway_store::backup_code;
use gateway_wire::Ctx;
use hmac::{Hmac, Mac};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::AuthService;
use crate::error::{CURRENT_PASSWORD_INCORRECT, INVALID_2FA_CODE, Result, bad};
use crate::ids::{now_iso, random_bytes, unix_now};
use crate::sealed::Column;
use crate::tokens::RootKey;
use crate::totp;
use gateway_store::auth;

const TWO_FACTOR_OFF: &str = "2FA is not enabled";

/// Codes in a set.
pub const CODES_PER_SET: usize = 10;
/// Characters of a code (50 bits), shown as two groups of five: `k7m2q-xv9rt`.
const CODE_CHARS: usize = 10;
/// Lowercase letters and digits without the look-alikes 0, 1, l and o: 32 symbols.
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// `auth.generateBackupCodes`: proof that the caller holds a factor now, a current pin or
/// the password, beside the session.
#[derive(Debug, Deserialize, Validate, JsonSchema)]
pub struct GenerateBackupCodesInput {
    /// A current code from the authenticator app.
    #[garde(inner(length(chars, min = 6, max = 10)))]
    #[schemars(length(min = 6, max = 10))]
    pub pin: Option<String>,
    /// The account's password, when no pin is given.
    #[garde(inner(length(chars, min = 8, max = 256)))]
    #[schemars(length(min = 8, max = 256))]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BackupCodes {
    /// Ten single-use codes; any earlier set no longer works.
    pub codes: Vec<String>,
}

/// The key backup codes are hashed with, derived from the root key.
pub struct BackupCodeKey(zeroize::Zeroizing<[u8; 32]>);

impl BackupCodeKey {
    pub fn new(root: &RootKey) -> Self {
        BackupCodeKey(root.derive("backup codes v1"))
    }

    /// How a code is stored and looked up: HMAC-SHA256 over the account and the code in its
    /// plain form. `None` when `code` cannot be a backup code.
    pub fn hash(&self, auth_id: &str, code: &str) -> Option<String> {
        let code = plain_code(code)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_ref()).expect("HMAC takes any key length");
        mac.update(auth_id.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        Some(data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()))
    }
}

/// A code as typed (any case, with or without the dash or spaces) in its plain form.
fn plain_code(typed: &str) -> Option<String> {
    let plain: String =
        typed.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_lowercase()).collect();
    (plain.len() == CODE_CHARS && plain.bytes().all(|b| ALPHABET.contains(&b))).then_some(plain)
}

fn new_code() -> String {
    let chars: String = random_bytes::<CODE_CHARS>().iter().map(|b| ALPHABET[(b & 31) as usize] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// Whether a 2FA login answer is a backup code rather than a pin.
pub fn is_backup_code(answer: &str) -> bool {
    plain_code(answer).is_some()
}

impl AuthService {
    pub async fn generate_backup_codes(
        self: &Arc<Self>,
        ctx: &Ctx,
        input: GenerateBackupCodesInput,
    ) -> Result<BackupCodes> {
        let auth_id = ctx.caller()?.subject.clone();
        if input.pin.is_none() && input.password.is_none() {
            return Err(bad("A current 2FA code or the password is required"));
        }
        let row = self.load_auth(auth_id.clone()).await?;
        let secret = row.secret.as_deref().filter(|_| row.is_2fa_enabled);
        let Some(secret) = secret.and_then(|s| self.sealer.open(Column::TotpSecret, &row.id, s)) else {
            return Err(bad(TWO_FACTOR_OFF));
        };
        let keys = self.attempt_keys(ctx, &auth_id, true);
        let attempt = self.begin_attempt(ctx, keys, Some(&auth_id)).await?;
        let (proven, refusal) = match (input.pin, input.password) {
            (Some(pin), _) => (self.accept_pin(&auth_id, &secret, &pin).await?, INVALID_2FA_CODE),
            (None, Some(password)) => (
                self.verify_password(&password, Some(&row.password), &row.email).await?.yes(),
                CURRENT_PASSWORD_INCORRECT,
            ),
            (None, None) => unreachable!("refused above"),
        };
        let settled = attempt.settle();
        if !proven {
            self.store.run(move |c| settled.failed(c)).await?;
            audit!(ctx, "2fa_failed", auth_id = %auth_id, stage = "backup_codes");
            return Err(bad(refusal));
        }
        let codes: Vec<String> = (0..CODES_PER_SET).map(|_| new_code()).collect();
        let hashes: Vec<String> = codes.iter().filter_map(|c| self.backup_codes.hash(&auth_id, c)).collect();
        let id = auth_id.clone();
        let stored = self
            .store
            .run(move |c| {
                settled.passed(c)?;
                backup_code::replace(c, &id, &hashes, &now_iso())
            })
            .await?;
        // 2FA was turned off while the proof was checked.
        if !stored {
            return Err(bad(TWO_FACTOR_OFF));
        }
        audit!(ctx, "backup_codes_generated", auth_id = %auth_id);
        Ok(BackupCodes { codes })
    }

    /// Whether `pin` is a current code of `secret` not used before; remembers it as used.
    pub(crate) async fn accept_pin(&self, auth_id: &str, secret: &str, pin: &str) -> Result<bool> {
        let Some(step) = totp::matching_step(secret, pin, unix_now()) else { return Ok(false) };
        let id = auth_id.to_owned();
        Ok(self.store.run(move |c| auth::accept_totp_step(c, &id, step)).await?)
    }

    /// Spends one of the account's backup codes: true once per code.
    pub(crate) async fn spend_backup_code(&self, auth_id: &str, code: &str) -> Result<bool> {
        let Some(hash) = self.backup_codes.hash(auth_id, code) else { return Ok(false) };
        let id = auth_id.to_owned();
        Ok(self.store.run(move |c| backup_code::spend(c, &id, &hash)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_symbols_of_the_alphabet_and_read_in_any_case_or_grouping() {
        let code = new_code();
        assert_eq!(code.len(), 11);
        let key = BackupCodeKey::new(&RootKey::generate());
        let stored = key.hash("a1", &code).unwrap();
        for typed in [code.to_uppercase(), code.replace('-', ""), code.replace('-', " ")] {
            assert_eq!(key.hash("a1", &typed).as_deref(), Some(stored.as_str()), "{typed}");
        }
        assert_ne!(key.hash("a2", &code), Some(stored.clone()), "bound to the account");
        assert_ne!(BackupCodeKey::new(&RootKey::generate()).hash("a1", &code), Some(stored), "bound to the key");
        for not_a_code in ["123456", "abcde-fghi", "abcde-fghij-k", "abcde-fgh1j", "ábcde-fghij"] {
            assert!(!is_backup_code(not_a_code), "{not_a_code}");
        }
    }
}
