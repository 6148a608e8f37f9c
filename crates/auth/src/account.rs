//! The account as clients see it (auth-api.md §4, "Auth"): no password, never the TOTP
//! secret, the API token opened. Made once per read of the account.

use gateway_store::auth::{self, AuthRow, Role};
use gateway_wire::{Ctx, NoInput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::AuthService;
use crate::error::{Result, auth_not_found};
use crate::sealed::Column;

/// The auth record as clients see it: no password, and never the TOTP secret.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Auth {
    pub id: String,
    pub email: String,
    pub rol: AccountRole,
    pub image: Option<String>,
    /// Always `null`: the TOTP secret never leaves the server.
    pub secret: (),
    /// The current API token, if one was generated.
    pub token: Option<String>,
    #[serde(rename = "is2FAEnabled")]
    pub is_2fa_enabled: bool,
    pub created_at: String,
}

/// The account's role, as Dokploy names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountRole {
    Admin,
    User,
}

impl From<Role> for AccountRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => AccountRole::Admin,
            Role::User => AccountRole::User,
        }
    }
}

/// An account by id (`auth.one`, `auth.updateByAdmin`).
#[derive(Debug, Deserialize, garde::Validate, JsonSchema)]
pub struct IdInput {
    #[garde(length(chars, min = 1, max = 64))]
    #[schemars(length(min = 1, max = 64))]
    pub id: String,
}

impl AuthService {
    pub(crate) fn view(&self, row: AuthRow) -> Auth {
        let token = row.token.as_deref().and_then(|t| self.sealer.open(Column::ApiToken, &row.id, t));
        Auth {
            id: row.id,
            email: row.email,
            rol: row.rol.into(),
            image: row.image,
            secret: (),
            token,
            is_2fa_enabled: row.is_2fa_enabled,
            created_at: row.created_at,
        }
    }

    pub(crate) async fn load_auth(&self, id: String) -> Result<AuthRow> {
        self.store.run(move |c| auth::find_by_id(c, &id)).await?.ok_or_else(auth_not_found)
    }

    /// `auth.one`: an account by id.
    pub async fn one(&self, _: &Ctx, input: IdInput) -> Result<Auth> {
        Ok(self.view(self.load_auth(input.id).await?))
    }

    /// `auth.get`: the caller's account. The authenticator loaded it with the session: no
    /// second query.
    pub async fn get(&self, ctx: &Ctx, _: NoInput) -> Result<Auth> {
        let caller = ctx.caller()?;
        match caller.details::<Auth>() {
            Some(account) => Ok(account.clone()),
            None => Ok(self.view(self.load_auth(caller.subject.clone()).await?)),
        }
    }
}
