//! `auth.login`: email and password, throttled; a session, or the 2FA challenge when the
//! account has 2FA on. Also the password checks other features share.

use std::sync::Arc;

use garde::Validate;
use gateway_store::auth::{self, AuthRow};
use gateway_wire::Ctx;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::AuthService;
use crate::error::{CREDENTIALS_DO_NOT_MATCH, Result, bad};
use crate::login_outcomes::LoginOutcome;
use crate::password;
use crate::password_pool::Matched;
use crate::sessions::{CHALLENGE_COOKIE, cookie};

// Lengths count characters, as JSON Schema does. Passwords: at least 8 (Dokploy's rule).

/// An email and a password (`auth.login`, `auth.createAdmin`).
#[derive(Debug, Deserialize, Validate, JsonSchema)]
pub struct Credentials {
    #[garde(email, length(chars, max = 254))]
    #[schemars(email)]
    pub email: String,
    #[garde(length(chars, min = 8, max = 256))]
    #[schemars(length(min = 8, max = 256))]
    pub password: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginOutput {
    #[serde(rename = "is2FAEnabled")]
    pub is_2fa_enabled: bool,
    pub auth_id: String,
}

impl AuthService {
    pub async fn login(self: &Arc<Self>, ctx: &Ctx, input: Credentials) -> Result<LoginOutput> {
        let email = input.email.to_lowercase();
        let lookup = email.clone();
        let row = self.store.run(move |c| auth::find_by_email(c, &lookup)).await?;
        // The auth id of a known account; an unknown email is not logged (it may be a typo'd password).
        let known_id = row.as_ref().map(|r| r.id.clone());
        let keys = self.attempt_keys(ctx, row.as_ref().map_or(email.as_str(), |r| r.id.as_str()), known_id.is_some());
        let attempt =
            self.begin_attempt(ctx, keys, known_id.as_deref()).await.inspect_err(LoginOutcome::count_throttled)?;

        let matched = self.verify_password(&input.password, row.as_ref().map(|r| r.password.as_str()), &email).await?;
        let settled = attempt.settle();
        let Some(row) = row.filter(|_| matched.yes()) else {
            self.store.run(move |c| settled.failed(c)).await?;
            let outcome = if known_id.is_some() { LoginOutcome::WrongPassword } else { LoginOutcome::UnknownAccount };
            outcome.count();
            audit!(ctx, "login_failed", reason = "credentials", auth_id = known_id.as_deref());
            return Err(bad(CREDENTIALS_DO_NOT_MATCH));
        };

        // A hash of an older form, or cheaper than the configured cost (an older setting, an
        // imported account), is replaced now that the password is known.
        if matched == Matched::Outdated {
            self.rehash(&row, input.password).await?;
        }
        if row.is_2fa_enabled && row.secret.is_some() {
            let service = Arc::clone(self);
            let auth_id = row.id.clone();
            // The password step alone neither counts as a failure nor resets the count.
            let challenge_id = self
                .store
                .run(move |c| {
                    settled.passed(c)?;
                    service.new_challenge(c, &auth_id)
                })
                .await?;
            let ttl = self.config.challenge_ttl.as_secs() as i64;
            ctx.set_cookie(cookie(CHALLENGE_COOKIE, challenge_id, "/", ttl, self.config.cookie_secure));
            LoginOutcome::TwoFactorRequired.count();
            audit!(ctx, "login_password_step", auth_id = %row.id);
            return Ok(LoginOutput { is_2fa_enabled: true, auth_id: row.id });
        }
        self.store.run(move |c| settled.completed(c)).await?;
        audit!(ctx, "login_succeeded", auth_id = %row.id);
        self.start_session(ctx, row.id.clone()).await?;
        LoginOutcome::Success.count();
        Ok(LoginOutput { is_2fa_enabled: false, auth_id: row.id })
    }

    pub(crate) async fn hash_password(&self, plain: String) -> Result<String> {
        let cost = self.config.bcrypt_cost;
        Ok(self.passwords.run(move || password::hash(&plain, cost)).await?.map_err(gateway_wire::RpcError::internal)?)
    }

    /// Checks a password against an account's hash, or for an unknown `email` against a
    /// dummy hash: same answer, about the same time (see `dummy.rs`).
    pub(crate) async fn verify_password(&self, plain: &str, hash: Option<&str>, email: &str) -> Result<Matched> {
        let cost = self.config.bcrypt_cost;
        Ok(match hash {
            Some(hash) => self.passwords.verify(plain, hash, cost).await?,
            None => self.passwords.verify(plain, &self.dummies.for_email(email), cost).await?,
        })
    }

    /// Stores a hash of the current form and cost for a password that matched an older one.
    async fn rehash(&self, row: &AuthRow, password: String) -> Result<()> {
        let hash = self.hash_password(password).await?;
        let (id, old) = (row.id.clone(), row.password.clone());
        self.store.run(move |c| auth::rehash_password(c, &id, &old, &hash)).await?;
        Ok(())
    }
}
