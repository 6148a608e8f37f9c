//! Operator commands (the `admin` subcommands of the binary): escape hatches by email.

use gateway_store::auth::{self, AuthChanges};
use gateway_store::{DbConn, StoreError, session};
use gateway_wire::RpcError;

use crate::AuthService;
use crate::error::Result;
use crate::throttle;

impl AuthService {
    /// Sets a password by email, revokes all the account's sessions and clears its failed
    /// attempts; returns the account's id.
    pub async fn reset_password(&self, email: String, new_password: String) -> Result<String> {
        let hash = self.hash_password(new_password).await?;
        self.on_account(email, move |c, id| {
            let changes = AuthChanges { password: Some(hash), token: Some(None), ..Default::default() };
            auth::update_revoking(c, id, &changes, None)?;
            throttle::unlock(c, id).map(drop)
        })
        .await
    }

    /// Clears an account's failed-attempt counter; returns the account's id.
    pub async fn unlock(&self, email: String) -> Result<String> {
        self.on_account(email, |c, id| throttle::unlock(c, id).map(drop)).await
    }

    /// Turns 2FA off for the account that has `email` and ends its browser sessions (its
    /// owner lost their authenticator); returns the account's id.
    pub async fn disable_2fa_by_email(&self, email: String) -> Result<String> {
        self.on_account(email, |c, id| session::disable_2fa_ending_browser_sessions(c, id).map(drop)).await
    }

    /// Runs an operator command on the account that has `email`; returns the account's id.
    async fn on_account(
        &self,
        email: String,
        command: impl FnOnce(&mut DbConn, &str) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<String> {
        let email = email.to_lowercase();
        self.store
            .run(move |c| {
                let row = auth::find_by_email(c, &email)?.ok_or(StoreError::NotFound)?;
                command(c, &row.id)?;
                Ok(row.id)
            })
            .await
            .map_err(|e| match e {
                StoreError::NotFound => RpcError::not_found("No account has that email").into(),
                other => other.into(),
            })
    }
}
