//! Invitations: an admin invites an email (a `user` account without a usable password and
//! a token valid for a while); the invitation page reads it; the invitee registers with it.

use std::sync::Arc;

use garde::Validate;
use gateway_store::auth::{NewAuth, Role};
use gateway_store::{StoreError, admin, invitation};
use gateway_wire::{Ctx, RpcError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::AuthService;
use crate::error::{INVALID_TOKEN, Result, bad, email_taken};
use crate::ids::{hex_token, iso, new_id, now_iso, random_avatar, unix_now};
use crate::password;
use crate::sealed::invitation_hash;

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

/// A new invitation: the token is shown this once (the store keeps its hash).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub auth_id: String,
    pub token: String,
    pub expiration_date: String,
}

/// What the invitation page shows.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    pub auth_id: String,
    pub email: String,
    pub is_expired: bool,
    pub expiration_date: String,
}

impl AuthService {
    pub async fn create_user_invitation(&self, ctx: &Ctx, input: InvitationInput) -> Result<Invitation> {
        let admin_auth = ctx.caller()?.subject.clone();
        let invitation = self.invite(Some(admin_auth), input.email).await?;
        audit!(ctx, "invitation_created", auth_id = %invitation.auth_id);
        Ok(invitation)
    }

    /// Creates a `user` account with no usable password and its invitation token.
    /// `admin_auth`: the inviting admin's auth id; `None`: the first admin (operator command).
    pub async fn invite(&self, admin_auth: Option<String>, email: String) -> Result<Invitation> {
        let cost = self.config.bcrypt_cost;
        let unusable = self.passwords.run(move || password::unusable(cost)).await?;
        let auth_id = new_id();
        let token = hex_token();
        let expiration_date = iso(unix_now() + self.config.invitation_ttl.as_secs() as i64);
        let (id, t, exp) = (auth_id.clone(), invitation_hash(&token), expiration_date.clone());
        self.store
            .run(move |c| {
                let admin = match admin_auth {
                    Some(id) => admin::find_by_auth(c, &id)?,
                    None => admin::first(c)?,
                };
                let admin = admin.ok_or(StoreError::NotFound)?;
                let (email, avatar, now) = (email.to_lowercase(), random_avatar(), now_iso());
                let new = NewAuth {
                    id: &id,
                    email: &email,
                    password: &unusable,
                    rol: Role::User,
                    image: Some(&avatar),
                    created_at: &now,
                };
                invitation::create(c, new, &new_id(), &admin.admin_id, &t, &exp, &now)
            })
            .await
            .map_err(|e| match e {
                StoreError::NotFound => bad("No admin exists yet"),
                other => email_taken(other),
            })?;
        Ok(Invitation { auth_id, token, expiration_date })
    }

    pub async fn get_user_by_token(&self, _: &Ctx, input: TokenInput) -> Result<InvitationView> {
        let hash = invitation_hash(&input.token);
        let found = self.store.run(move |c| invitation::find_by_token(c, &hash)).await?;
        // A used invitation is gone for whoever holds its link.
        let (inv, email) =
            found.filter(|(inv, _)| !inv.is_registered).ok_or_else(|| RpcError::not_found("Invitation not found"))?;
        Ok(InvitationView {
            auth_id: inv.auth_id,
            email,
            is_expired: inv.expiration_date <= now_iso(),
            expiration_date: inv.expiration_date,
        })
    }

    pub async fn create_user(self: &Arc<Self>, ctx: &Ctx, input: CreateUserInput) -> Result<bool> {
        let token = invitation_hash(&input.token);
        let lookup = token.clone();
        let found = self.store.run(move |c| invitation::find_by_token(c, &lookup)).await?;
        let usable = found
            .is_some_and(|(inv, _)| inv.auth_id == input.id && !inv.is_registered && inv.expiration_date > now_iso());
        if !usable {
            return Err(bad(INVALID_TOKEN));
        }
        let hash = self.hash_password(input.password).await?;
        let auth_id = input.id.clone();
        // The conditional update lets exactly one of two racing registrations through.
        let redeemed = self.store.run(move |c| invitation::redeem(c, &token, &auth_id, &now_iso(), &hash)).await?;
        if !redeemed {
            return Err(bad(INVALID_TOKEN));
        }
        audit!(ctx, "invitation_accepted", auth_id = %input.id);
        self.start_session(ctx, input.id).await?;
        Ok(true)
    }
}
