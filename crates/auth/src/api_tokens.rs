//! API tokens: one per account, replaced by `auth.generateToken`, sent as `Bearer` or
//! `x-api-key`; `auth.verifyToken` answers whether a credential is valid.

use gateway_store::session::{self, SessionKind};
use gateway_wire::{Ctx, NoInput};

use crate::AuthService;
use crate::account::Auth;
use crate::error::{Result, auth_not_found};
use crate::sealed::Column;

impl AuthService {
    pub async fn generate_token(&self, ctx: &Ctx, _: NoInput) -> Result<Auth> {
        let auth_id = ctx.caller()?.subject.clone();
        let row = self.session_row(ctx, &auth_id, SessionKind::ApiToken);
        let token = self.sealer.seal(Column::ApiToken, &auth_id, &self.mint(&row.row));
        // One transaction replaces the previous token: racing calls leave exactly one valid.
        let updated = self
            .store
            .run(move |c| session::replace_api_token(c, &auth_id, &row, &token))
            .await?
            .ok_or_else(auth_not_found)?;
        audit!(ctx, "api_token_generated", auth_id = %updated.id);
        Ok(self.view(updated))
    }

    pub async fn verify_token(&self, ctx: &Ctx, _: NoInput) -> Result<bool> {
        Ok(ctx.caller().map(|_| true)?)
    }
}
