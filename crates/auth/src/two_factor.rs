//! TOTP two-factor login: a secret and its QR code, turning 2FA on with a pin from it,
//! the pin step of a login (only after the password step, throttled), turning it off.

use std::sync::Arc;

use garde::Validate;
use gateway_store::auth;
use gateway_store::{DbConn, StoreError, backup_code, challenge};
use gateway_wire::{Ctx, NoInput, RpcError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::AuthService;
use crate::account::Auth;
use crate::backup_codes::is_backup_code;
use crate::error::{INVALID_2FA_CODE, Result, auth_not_found, bad};
use crate::ids::{hex_token, unix_now};
use crate::login_outcomes::LoginOutcome;
use crate::sealed::Column;
use crate::sessions::{CHALLENGE_COOKIE, removal_cookie};
use crate::totp;

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorSecret {
    /// `data:image/svg+xml;base64,...`: a QR code of the otpauth URI.
    pub qr_code_url: String,
    pub secret: String,
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
    match totp::secret_bytes(secret) {
        Some(n) if n >= totp::SECRET_BYTES => Ok(()),
        _ => Err(garde::Error::new("must be a base32 secret of at least 24 characters")),
    }
}

#[derive(Debug, Deserialize, Validate, JsonSchema)]
pub struct VerifyLogin2faInput {
    /// A code from the authenticator app, or one of the backup codes (`k7m2q-xv9rt`).
    #[garde(length(chars, min = 6, max = 16))]
    #[schemars(length(min = 6, max = 16))]
    pub pin: String,
    #[garde(length(chars, min = 1, max = 64))]
    #[schemars(length(min = 1, max = 64))]
    pub id: String,
}

impl AuthService {
    pub async fn generate_2fa_secret(&self, ctx: &Ctx, _: NoInput) -> Result<TwoFactorSecret> {
        let row = self.load_auth(ctx.caller()?.subject.clone()).await?;
        let secret = totp::new_secret();
        let uri = totp::otpauth_uri(&row.email, &secret);
        let qr_code_url = self.passwords.run(move || totp::qr_data_url(&uri)).await?;
        Ok(TwoFactorSecret { qr_code_url, secret })
    }

    pub async fn verify_2fa_setup(&self, ctx: &Ctx, input: Verify2faSetupInput) -> Result<Auth> {
        let auth_id = ctx.caller()?.subject.clone();
        let secret = input.secret.trim().to_ascii_uppercase();
        let Some(step) = totp::matching_step(&secret, &input.pin, unix_now()) else {
            audit!(ctx, "2fa_failed", auth_id = %auth_id, stage = "setup");
            return Err(bad(INVALID_2FA_CODE));
        };
        let (id, secret) = (auth_id.clone(), self.sealer.seal(Column::TotpSecret, &auth_id, &secret));
        let row = self
            .store
            .run(move |c| {
                // The setup pin counts as used: it cannot log in afterwards.
                if !auth::accept_totp_step(c, &id, step)? {
                    return Ok(None);
                }
                backup_code::enable_2fa(c, &id, &secret)
            })
            .await?
            .ok_or_else(|| bad(INVALID_2FA_CODE))?;
        audit!(ctx, "2fa_enabled", auth_id = %auth_id);
        Ok(self.view(row))
    }

    pub async fn verify_login_2fa(self: &Arc<Self>, ctx: &Ctx, input: VerifyLogin2faInput) -> Result<bool> {
        // Only a caller who passed the password step for this account may try pins.
        let challenge_id = ctx.cookie(CHALLENGE_COOKIE).unwrap_or_default().to_owned();
        let found = self.store.run(move |c| challenge::find(c, &challenge_id)).await?;
        let Some(challenge) = found.filter(|ch| ch.auth_id == input.id && ch.expires_at > unix_now()) else {
            return Err(RpcError::unauthorized().into());
        };
        if challenge.failures >= self.config.throttle_limit as i32 {
            LoginOutcome::Throttled.count();
            audit!(ctx, "throttled", reason = "challenge_spent", auth_id = %input.id);
            return Err(RpcError::too_many_requests(self.config.challenge_ttl.as_secs()).into());
        }
        let keys = self.attempt_keys(ctx, &input.id, true);
        let attempt =
            self.begin_attempt(ctx, keys, Some(&input.id)).await.inspect_err(LoginOutcome::count_throttled)?;
        let row = self.load_auth(input.id.clone()).await?;
        let secret = row.secret.as_deref().and_then(|s| self.sealer.open(Column::TotpSecret, &row.id, s));
        // A pin is accepted once (its step is remembered), a backup code once (it is deleted).
        let backup = is_backup_code(&input.pin);
        let accepted = match secret {
            Some(_) if backup => self.spend_backup_code(&row.id, &input.pin).await?,
            Some(secret) => self.accept_pin(&row.id, &secret, &input.pin).await?,
            None => false,
        };
        let settled = attempt.settle();
        if !accepted {
            let id = challenge.id.clone();
            self.store
                .run(move |c| {
                    settled.failed(c)?;
                    challenge::add_failure(c, &id)
                })
                .await?;
            LoginOutcome::TwoFactorFailed.count();
            audit!(ctx, "2fa_failed", auth_id = %row.id);
            return Err(bad(INVALID_2FA_CODE));
        }
        // Of two answers racing on one challenge, only the one that ends it signs in.
        let id = challenge.id;
        let ended = self
            .store
            .run(move |c| {
                let ended = challenge::delete(c, &id)?;
                settled.completed(c)?;
                Ok(ended)
            })
            .await?;
        if !ended {
            return Err(RpcError::unauthorized().into());
        }
        ctx.set_cookie(removal_cookie(CHALLENGE_COOKIE, self.config.cookie_secure));
        audit!(ctx, "login_succeeded", auth_id = %row.id, second_factor = true, backup_code = backup);
        self.start_session(ctx, row.id).await?;
        LoginOutcome::Success.count();
        Ok(true)
    }

    pub async fn disable_2fa(&self, ctx: &Ctx, _: NoInput) -> Result<Auth> {
        let auth_id = ctx.caller()?.subject.clone();
        let id = auth_id.clone();
        let row = self.store.run(move |c| backup_code::disable_2fa(c, &id)).await?.ok_or_else(auth_not_found)?;
        audit!(ctx, "2fa_disabled", auth_id = %auth_id);
        Ok(self.view(row))
    }

    /// Stores a 2FA challenge for an account that passed the password step; returns its id.
    pub(crate) fn new_challenge(&self, c: &mut DbConn, auth_id: &str) -> Result<String, StoreError> {
        let row = challenge::ChallengeRow {
            id: hex_token(),
            auth_id: auth_id.to_owned(),
            expires_at: unix_now() + self.config.challenge_ttl.as_secs() as i64,
            failures: 0,
        };
        challenge::insert(c, &row)?;
        Ok(row.id)
    }
}
