//! `auth.createAdmin`: the first (and only) admin, on a fresh installation.

use std::sync::Arc;

use gateway_store::auth::{NewAuth, Role};
use gateway_store::{ADMIN, EMAIL, admin};
use gateway_wire::Ctx;

use crate::AuthService;
use crate::error::{EMAIL_EXISTS, Result, bad};
use crate::ids::{new_id, now_iso, random_avatar};
use crate::login::Credentials;

const ADMIN_EXISTS: &str = "Admin already exists";

impl AuthService {
    pub async fn create_admin(self: &Arc<Self>, ctx: &Ctx, input: Credentials) -> Result<bool> {
        if self.store.run(admin::exists).await? {
            return Err(bad(ADMIN_EXISTS));
        }
        let hash = self.hash_password(input.password).await?;
        let (auth_id, email) = (new_id(), input.email.to_lowercase());
        let id = auth_id.clone();
        // The database allows one admin row: of two racing calls, one gets a unique violation.
        let created = self
            .store
            .run(move |c| {
                let (avatar, now) = (random_avatar(), now_iso());
                let new = NewAuth {
                    id: &id,
                    email: &email,
                    password: &hash,
                    rol: Role::Admin,
                    image: Some(&avatar),
                    created_at: &now,
                };
                admin::create(c, new, &new_id(), &now)
            })
            .await;
        match created {
            Ok(()) => {}
            Err(e) if e.is_unique(EMAIL) => return Err(bad(EMAIL_EXISTS)),
            Err(e) if e.is_unique(ADMIN) => return Err(bad(ADMIN_EXISTS)),
            Err(e) => return Err(e.into()),
        }
        audit!(ctx, "admin_created", auth_id = %auth_id);
        self.start_session(ctx, auth_id).await?;
        Ok(true)
    }
}
