//! Changing an account: the caller's own (`auth.update`, a new password needs the current
//! one) or another's by an admin (`auth.updateByAdmin`). A new password revokes sessions.

use std::sync::Arc;

use garde::Validate;
use gateway_store::auth::{self, AuthChanges};
use gateway_wire::{CredentialSource, Ctx};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::AuthService;
use crate::account::Auth;
use crate::error::{CURRENT_PASSWORD_INCORRECT, Result, auth_not_found, bad, email_taken};
use crate::throttle::Keys;

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

/// What either procedure changes.
struct Changes {
    email: Option<String>,
    password: Option<String>,
    image: Option<String>,
}

impl AuthService {
    pub async fn update(self: &Arc<Self>, ctx: &Ctx, input: UpdateInput) -> Result<Auth> {
        let caller = ctx.caller()?;
        if input.password.is_some() {
            let current = input.current_password.clone().filter(|p| !p.is_empty());
            let current = current.ok_or_else(|| bad(CURRENT_PASSWORD_INCORRECT))?;
            // Guessing the current password with a stolen session is throttled on the account
            // (a device cookie stolen with the session earns nothing here).
            let keys = Keys::new(&caller.subject, None, ctx.client_addr());
            let attempt = self.begin_attempt(ctx, keys, Some(&caller.subject)).await?;
            let row = self.load_auth(caller.subject.clone()).await?;
            let right = self.verify_password(&current, Some(&row.password), &row.email).await?.yes();
            let settled = attempt.settle();
            if !right {
                self.store.run(move |c| settled.failed(c)).await?;
                audit!(ctx, "password_change_failed", auth_id = %caller.subject);
                return Err(bad(CURRENT_PASSWORD_INCORRECT));
            }
            self.store.run(move |c| settled.passed(c)).await?;
        }
        // A password change keeps only the session that made it.
        let keep = (caller.source == CredentialSource::Cookie).then(|| caller.session_id.clone());
        let changes = Changes { email: input.email, password: input.password, image: input.image };
        self.apply_changes(ctx, caller.subject.clone(), changes, keep).await
    }

    pub async fn update_by_admin(self: &Arc<Self>, ctx: &Ctx, input: UpdateByAdminInput) -> Result<Auth> {
        // An admin's own password changes with the current one, like anyone's.
        if input.id == ctx.caller()?.subject {
            return Err(bad("Use auth.update to change your own account"));
        }
        let changes = Changes { email: input.email, password: input.password, image: input.image };
        self.apply_changes(ctx, input.id, changes, None).await
    }

    /// Applies profile changes; a new password revokes every session but `keep`, and the API token.
    async fn apply_changes(&self, ctx: &Ctx, auth_id: String, changes: Changes, keep: Option<String>) -> Result<Auth> {
        let password_changed = changes.password.is_some();
        let email_changed = changes.email.is_some();
        let password = match changes.password {
            Some(plain) => Some(self.hash_password(plain).await?),
            None => None,
        };
        let update = AuthChanges {
            email: changes.email.map(|e| e.to_lowercase()),
            password,
            image: changes.image,
            token: password_changed.then_some(None),
            ..Default::default()
        };
        let id = auth_id.clone();
        let row = self
            .store
            .run(move |c| auth::update_revoking(c, &id, &update, keep.as_deref()))
            .await
            .map_err(email_taken)?
            .ok_or_else(auth_not_found)?;
        if password_changed {
            audit!(ctx, "password_changed", auth_id = %auth_id);
        }
        if email_changed {
            audit!(ctx, "email_changed", auth_id = %auth_id);
        }
        Ok(self.view(row))
    }
}
