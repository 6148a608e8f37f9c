//! What each procedure does. Procedures are thin typed wrappers around these methods
//! (see `procedures.rs`); nothing here knows about HTTP envelopes.

use std::sync::Arc;

use gateway_store::auth::{AuthChanges, AuthRow, NewAuth};
use gateway_store::session::SessionRow;
use gateway_store::{ADMIN, DbConn, EMAIL, StoreError, admin, auth, challenge, invitation, session};
use gateway_wire::{CredentialSource, Ctx, NoInput, RpcError};
use tracing::info;

use crate::AuthService;
use crate::cpu::Matched;
use crate::device::DEVICE_COOKIE;
use crate::ids::{hex_token, iso, new_id, now_iso, random_avatar, unix_now};
use crate::io::*;
use crate::sealed::{Column, invitation_hash};
use crate::sessions::{CHALLENGE_COOKIE, cookie, removal_cookie};
use crate::throttle::{self, Attempt, Keys};
use crate::tokens::TokenKind;
use crate::workers::{db, store_error, with_conn};
use crate::{password, totp};

const CREDENTIALS_DO_NOT_MATCH: &str = "Credentials do not match";
const EMAIL_EXISTS: &str = "Email already exists";
const INVALID_2FA_CODE: &str = "Invalid 2FA code";

fn bad(message: &str) -> RpcError {
    RpcError::bad_request(message)
}

fn auth_not_found() -> RpcError {
    RpcError::not_found("Auth not found")
}

/// Unique violations on `auth.email` are the user's "Email already exists".
fn email_taken(e: StoreError) -> RpcError {
    if e.is_unique(EMAIL) { bad(EMAIL_EXISTS) } else { store_error(e) }
}

/// Emits a structured audit event (`target = "audit"`); never secrets.
macro_rules! audit {
    ($ctx:expr, $event:literal $(, $($field:tt)*)?) => {
        info!(target: "audit", event = $event, request_id = $ctx.request_id(),
              client = %$ctx.client_addr().map(|a| a.to_string()).unwrap_or_default() $(, $($field)*)?)
    };
}

impl AuthService {
    async fn load_auth(&self, id: String) -> Result<AuthRow, RpcError> {
        db(&self.store, move |c| auth::find_by_id(c, &id)).await?.ok_or_else(auth_not_found)
    }

    /// The account as clients see it: no password, no TOTP secret, the API token opened.
    pub(crate) fn view(&self, row: AuthRow) -> Auth {
        let token = row.token.as_deref().and_then(|t| self.sealer.open(Column::ApiToken, &row.id, t));
        Auth {
            id: row.id,
            email: row.email,
            rol: if row.rol == "admin" { Role::Admin } else { Role::User },
            image: row.image,
            secret: (),
            token,
            is_2fa_enabled: row.is_2fa_enabled,
            created_at: row.created_at,
        }
    }

    async fn hash_password(&self, plain: String) -> Result<String, RpcError> {
        let cost = self.config.bcrypt_cost;
        self.cpu.run(move || password::hash(&plain, cost)).await?.map_err(RpcError::internal)
    }

    /// Checks a password against an account's hash, or for an unknown `email` against a
    /// dummy hash: same answer, about the same time (see `dummy.rs`).
    async fn verify_password(&self, plain: &str, hash: Option<&str>, email: &str) -> Result<Matched, RpcError> {
        match hash {
            Some(hash) => self.cpu.verify(plain, hash).await,
            None => self.cpu.verify(plain, &self.dummies.for_email(email)).await,
        }
    }

    pub async fn create_admin(self: &Arc<Self>, ctx: &Ctx, input: Credentials) -> Result<bool, RpcError> {
        if db(&self.store, admin::exists).await? {
            return Err(bad("Admin already exists"));
        }
        let hash = self.hash_password(input.password).await?;
        let (auth_id, email) = (new_id(), input.email.to_lowercase());
        let id = auth_id.clone();
        // The database allows one admin row: of two racing calls, one gets a unique violation.
        let created = with_conn(&self.store, move |c| {
            let (avatar, now) = (random_avatar(), now_iso());
            let new = NewAuth {
                id: &id,
                email: &email,
                password: &hash,
                rol: "admin",
                image: Some(&avatar),
                created_at: &now,
            };
            admin::create(c, new, &new_id(), &now)
        })
        .await?;
        match created {
            Ok(()) => {}
            Err(e) if e.is_unique(EMAIL) => return Err(bad(EMAIL_EXISTS)),
            Err(e) if e.is_unique(ADMIN) => return Err(bad("Admin already exists")),
            Err(e) => return Err(store_error(e)),
        }
        audit!(ctx, "admin_created", auth_id = %auth_id);
        self.start_session(ctx, auth_id).await?;
        Ok(true)
    }

    pub async fn create_user(self: &Arc<Self>, ctx: &Ctx, input: CreateUserInput) -> Result<bool, RpcError> {
        let token = invitation_hash(&input.token);
        let lookup = token.clone();
        let found = db(&self.store, move |c| invitation::find_by_token(c, &lookup)).await?;
        let usable = found
            .is_some_and(|(inv, _)| inv.auth_id == input.id && !inv.is_registered && inv.expiration_date > now_iso());
        if !usable {
            return Err(bad("Invalid token"));
        }
        let hash = self.hash_password(input.password).await?;
        let auth_id = input.id.clone();
        // The conditional update lets exactly one of two racing registrations through.
        let redeemed = db(&self.store, move |c| invitation::redeem(c, &token, &auth_id, &now_iso(), &hash)).await?;
        if !redeemed {
            return Err(bad("Invalid token"));
        }
        audit!(ctx, "invitation_accepted", auth_id = %input.id);
        self.start_session(ctx, input.id).await?;
        Ok(true)
    }

    pub async fn login(self: &Arc<Self>, ctx: &Ctx, input: Credentials) -> Result<LoginOutput, RpcError> {
        let email = input.email.to_lowercase();
        let lookup = email.clone();
        let row = db(&self.store, move |c| auth::find_by_email(c, &lookup)).await?;
        // The auth id of a known account; an unknown email is not logged (it may be a typo'd password).
        let known_id = row.as_ref().map(|r| r.id.clone());
        let keys = self.attempt_keys(ctx, row.as_ref().map_or(email.as_str(), |r| r.id.as_str()), known_id.is_some());
        let attempt = self.begin_attempt(ctx, keys, known_id.as_deref()).await?;

        let matched = self.verify_password(&input.password, row.as_ref().map(|r| r.password.as_str()), &email).await?;
        let settled = attempt.settle();
        let Some(row) = row.filter(|_| matched.yes()) else {
            db(&self.store, move |c| settled.failed(c)).await?;
            audit!(ctx, "login_failed", reason = "credentials", auth_id = known_id.as_deref());
            return Err(bad(CREDENTIALS_DO_NOT_MATCH));
        };

        if matched == Matched::Legacy {
            self.rehash(&row, input.password).await?;
        }
        if row.is_2fa_enabled && row.secret.is_some() {
            let service = Arc::clone(self);
            let auth_id = row.id.clone();
            // The password step alone neither counts as a failure nor resets the count.
            let challenge_id = db(&self.store, move |c| {
                settled.passed(c)?;
                service.new_challenge(c, &auth_id)
            })
            .await?;
            let ttl = self.config.challenge_ttl.as_secs() as i64;
            ctx.set_cookie(cookie(CHALLENGE_COOKIE, challenge_id, ttl, self.config.cookie_secure));
            audit!(ctx, "login_password_step", auth_id = %row.id);
            return Ok(LoginOutput { is_2fa_enabled: true, auth_id: row.id });
        }
        db(&self.store, move |c| settled.completed(c)).await?;
        audit!(ctx, "login_succeeded", auth_id = %row.id);
        self.start_session(ctx, row.id.clone()).await?;
        Ok(LoginOutput { is_2fa_enabled: false, auth_id: row.id })
    }

    /// Stores a hash of the current form for a password that matched an older one.
    async fn rehash(&self, row: &AuthRow, password: String) -> Result<(), RpcError> {
        let hash = self.hash_password(password).await?;
        let (id, old) = (row.id.clone(), row.password.clone());
        db(&self.store, move |c| auth::rehash_password(c, &id, &old, &hash)).await?;
        Ok(())
    }

    fn new_challenge(&self, c: &mut DbConn, auth_id: &str) -> Result<String, StoreError> {
        let row = challenge::ChallengeRow {
            id: hex_token(),
            auth_id: auth_id.to_owned(),
            expires_at: unix_now() + self.config.challenge_ttl.as_secs() as i64,
            failures: 0,
        };
        challenge::insert(c, &row)?;
        Ok(row.id)
    }

    /// The throttle counters of an attempt on `account` (an auth id, or an unknown email):
    /// a device cookie issued for a known account counts the device instead of the account.
    fn attempt_keys(&self, ctx: &Ctx, account: &str, known: bool) -> Keys {
        let device = ctx.cookie(DEVICE_COOKIE).filter(|_| known).and_then(|c| self.devices.verify(c, account));
        Keys::new(account, device.as_deref(), ctx.client_addr())
    }

    /// Counts a password or pin check before it runs (see `throttle.rs`); a refusal is audited.
    async fn begin_attempt(&self, ctx: &Ctx, keys: Keys, auth_id: Option<&str>) -> Result<Attempt, RpcError> {
        self.throttle.begin(&self.store, keys).await.inspect_err(|e| {
            audit!(ctx, "throttled", retry_after = e.retry_after, auth_id = auth_id);
        })
    }

    pub async fn verify_login_2fa(self: &Arc<Self>, ctx: &Ctx, input: VerifyLogin2faInput) -> Result<bool, RpcError> {
        // Only a caller who passed the password step for this account may try pins.
        let challenge_id = ctx.cookie(CHALLENGE_COOKIE).unwrap_or_default().to_owned();
        let found = db(&self.store, move |c| challenge::find(c, &challenge_id)).await?;
        let Some(challenge) = found.filter(|ch| ch.auth_id == input.id && ch.expires_at > unix_now()) else {
            return Err(RpcError::unauthorized());
        };
        if challenge.failures >= self.config.throttle_limit as i32 {
            audit!(ctx, "throttled", reason = "challenge_spent", auth_id = %input.id);
            return Err(RpcError::too_many_requests(self.config.challenge_ttl.as_secs()));
        }
        let keys = self.attempt_keys(ctx, &input.id, true);
        let attempt = self.begin_attempt(ctx, keys, Some(&input.id)).await?;
        let row = self.load_auth(input.id.clone()).await?;
        let secret = row.secret.as_deref().and_then(|s| self.sealer.open(Column::TotpSecret, &row.id, s));
        let step = secret.and_then(|s| totp::matching_step(&s, &input.pin, unix_now()));
        let accepted = match step {
            // Remembering the accepted step refuses a replay of the same code.
            Some(step) => {
                let id = row.id.clone();
                db(&self.store, move |c| auth::accept_totp_step(c, &id, step)).await?
            }
            None => false,
        };
        let settled = attempt.settle();
        if !accepted {
            let id = challenge.id.clone();
            db(&self.store, move |c| {
                settled.failed(c)?;
                challenge::add_failure(c, &id)
            })
            .await?;
            audit!(ctx, "2fa_failed", auth_id = %row.id);
            return Err(bad(INVALID_2FA_CODE));
        }
        let id = challenge.id;
        db(&self.store, move |c| {
            challenge::delete(c, &id)?;
            settled.completed(c)
        })
        .await?;
        ctx.set_cookie(removal_cookie(CHALLENGE_COOKIE, self.config.cookie_secure));
        audit!(ctx, "login_succeeded", auth_id = %row.id, second_factor = true);
        self.start_session(ctx, row.id).await?;
        Ok(true)
    }

    pub async fn get(self: &Arc<Self>, ctx: &Ctx, _: NoInput) -> Result<Auth, RpcError> {
        let caller = ctx.caller()?;
        // The authenticator loaded the account with the session: no second query.
        match caller.details::<Auth>() {
            Some(account) => Ok(account.clone()),
            None => Ok(self.view(self.load_auth(caller.subject.clone()).await?)),
        }
    }

    pub async fn logout(self: &Arc<Self>, ctx: &Ctx, _: NoInput) -> Result<bool, RpcError> {
        let caller = ctx.caller()?;
        if caller.source != CredentialSource::Cookie {
            return Ok(false);
        }
        let id = caller.session_id.clone();
        db(&self.store, move |c| session::delete(c, &id)).await?;
        ctx.set_cookie(removal_cookie(crate::sessions::SESSION_COOKIE, self.config.cookie_secure));
        audit!(ctx, "logout", auth_id = %caller.subject);
        Ok(true)
    }

    pub async fn update(self: &Arc<Self>, ctx: &Ctx, input: UpdateInput) -> Result<Auth, RpcError> {
        let caller = ctx.caller()?;
        if input.password.is_some() {
            let current = input.current_password.clone().filter(|p| !p.is_empty());
            let current = current.ok_or_else(|| bad("Current password is incorrect"))?;
            // Guessing the current password with a stolen session is throttled on the account
            // (a device cookie stolen with the session earns nothing here).
            let keys = Keys::new(&caller.subject, None, ctx.client_addr());
            let attempt = self.begin_attempt(ctx, keys, Some(&caller.subject)).await?;
            let row = self.load_auth(caller.subject.clone()).await?;
            let right = self.verify_password(&current, Some(&row.password), &row.email).await?.yes();
            let settled = attempt.settle();
            if !right {
                db(&self.store, move |c| settled.failed(c)).await?;
                audit!(ctx, "password_change_failed", auth_id = %caller.subject);
                return Err(bad("Current password is incorrect"));
            }
            db(&self.store, move |c| settled.passed(c)).await?;
        }
        // A password change keeps only the session that made it.
        let keep = (caller.source == CredentialSource::Cookie).then(|| caller.session_id.clone());
        let changes = Changes { email: input.email, password: input.password, image: input.image };
        self.apply_changes(ctx, caller.subject.clone(), changes, keep).await
    }

    pub async fn update_by_admin(self: &Arc<Self>, ctx: &Ctx, input: UpdateByAdminInput) -> Result<Auth, RpcError> {
        // An admin's own password changes with the current one, like anyone's.
        if input.id == ctx.caller()?.subject {
            return Err(bad("Use auth.update to change your own account"));
        }
        let changes = Changes { email: input.email, password: input.password, image: input.image };
        self.apply_changes(ctx, input.id, changes, None).await
    }

    /// Applies profile changes; a new password revokes every session but `keep`, and the API token.
    async fn apply_changes(
        self: &Arc<Self>,
        ctx: &Ctx,
        auth_id: String,
        changes: Changes,
        keep: Option<String>,
    ) -> Result<Auth, RpcError> {
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
        let row = with_conn(&self.store, move |c| auth::update_revoking(c, &id, &update, keep.as_deref()))
            .await?
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

    pub async fn generate_token(self: &Arc<Self>, ctx: &Ctx, _: NoInput) -> Result<Auth, RpcError> {
        let auth_id = ctx.caller()?.subject.clone();
        let ttl = self.config.api_token_ttl.as_secs() as i64;
        let row = SessionRow {
            id: hex_token(),
            auth_id: auth_id.clone(),
            kind: TokenKind::ApiToken.as_str().into(),
            expires_at: unix_now() + ttl,
            created_at: now_iso(),
        };
        let token = self.sealer.seal(Column::ApiToken, &auth_id, &self.mint(&row));
        // One transaction replaces the previous token: racing calls leave exactly one valid.
        let updated = db(&self.store, move |c| session::replace_api_token(c, &auth_id, &row, &token))
            .await?
            .ok_or_else(auth_not_found)?;
        audit!(ctx, "api_token_generated", auth_id = %updated.id);
        Ok(self.view(updated))
    }

    pub async fn one(self: &Arc<Self>, _: &Ctx, input: IdInput) -> Result<Auth, RpcError> {
        Ok(self.view(self.load_auth(input.id).await?))
    }

    pub async fn generate_2fa_secret(self: &Arc<Self>, ctx: &Ctx, _: NoInput) -> Result<TwoFactorSecret, RpcError> {
        let row = self.load_auth(ctx.caller()?.subject.clone()).await?;
        let secret = totp::new_secret();
        let uri = totp::otpauth_uri(&row.email, &secret);
        let qr_code_url = self.cpu.run(move || totp::qr_data_url(&uri)).await?;
        Ok(TwoFactorSecret { qr_code_url, secret })
    }

    pub async fn verify_2fa_setup(self: &Arc<Self>, ctx: &Ctx, input: Verify2faSetupInput) -> Result<Auth, RpcError> {
        let auth_id = ctx.caller()?.subject.clone();
        let secret = input.secret.trim().to_ascii_uppercase();
        let Some(step) = totp::matching_step(&secret, &input.pin, unix_now()) else {
            audit!(ctx, "2fa_failed", auth_id = %auth_id, stage = "setup");
            return Err(bad(INVALID_2FA_CODE));
        };
        let (id, secret) = (auth_id.clone(), self.sealer.seal(Column::TotpSecret, &auth_id, &secret));
        let row = db(&self.store, move |c| {
            // The setup pin counts as used: it cannot log in afterwards.
            if !auth::accept_totp_step(c, &id, step)? {
                return Ok(None);
            }
            let changes = AuthChanges { secret: Some(Some(secret)), is_2fa_enabled: Some(true), ..Default::default() };
            auth::update(c, &id, &changes)
        })
        .await?
        .ok_or_else(|| bad(INVALID_2FA_CODE))?;
        audit!(ctx, "2fa_enabled", auth_id = %auth_id);
        Ok(self.view(row))
    }

    pub async fn disable_2fa(self: &Arc<Self>, ctx: &Ctx, _: NoInput) -> Result<Auth, RpcError> {
        let auth_id = ctx.caller()?.subject.clone();
        let id = auth_id.clone();
        let changes = AuthChanges { secret: Some(None), is_2fa_enabled: Some(false), ..Default::default() };
        let row = db(&self.store, move |c| auth::update(c, &id, &changes)).await?.ok_or_else(auth_not_found)?;
        audit!(ctx, "2fa_disabled", auth_id = %auth_id);
        Ok(self.view(row))
    }

    pub async fn verify_token(self: &Arc<Self>, ctx: &Ctx, _: NoInput) -> Result<bool, RpcError> {
        ctx.caller().map(|_| true)
    }

    pub async fn create_user_invitation(
        self: &Arc<Self>,
        ctx: &Ctx,
        input: InvitationInput,
    ) -> Result<Invitation, RpcError> {
        let admin_auth = ctx.caller()?.subject.clone();
        let invitation = self.invite(Some(admin_auth), input.email).await?;
        audit!(ctx, "invitation_created", auth_id = %invitation.auth_id);
        Ok(invitation)
    }

    /// Creates a `user` account with no usable password and its invitation token.
    /// `admin_auth`: the inviting admin's auth id; `None`: the first admin (operator command).
    pub async fn invite(&self, admin_auth: Option<String>, email: String) -> Result<Invitation, RpcError> {
        let cost = self.config.bcrypt_cost;
        let unusable = self.cpu.run(move || password::unusable(cost)).await?;
        let auth_id = new_id();
        let token = hex_token();
        let expiration_date = iso(unix_now() + self.config.invitation_ttl.as_secs() as i64);
        let (id, t, exp) = (auth_id.clone(), invitation_hash(&token), expiration_date.clone());
        with_conn(&self.store, move |c| {
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
                rol: "user",
                image: Some(&avatar),
                created_at: &now,
            };
            invitation::create(c, new, &new_id(), &admin.admin_id, &t, &exp, &now)
        })
        .await?
        .map_err(|e| match e {
            StoreError::NotFound => RpcError::bad_request("No admin exists yet"),
            other => email_taken(other),
        })?;
        Ok(Invitation { auth_id, token, expiration_date })
    }

    pub async fn get_user_by_token(self: &Arc<Self>, _: &Ctx, input: TokenInput) -> Result<InvitationView, RpcError> {
        let hash = invitation_hash(&input.token);
        let found = db(&self.store, move |c| invitation::find_by_token(c, &hash)).await?;
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

    /// Operator escape hatch: sets a password by email, revokes all the account's sessions
    /// and clears its failed attempts.
    pub async fn reset_password(&self, email: String, new_password: String) -> Result<String, RpcError> {
        let hash = self.hash_password(new_password).await?;
        self.on_account(email, move |c, id| {
            let changes = AuthChanges { password: Some(hash), token: Some(None), ..Default::default() };
            auth::update_revoking(c, id, &changes, None)?;
            throttle::unlock(c, id).map(drop)
        })
        .await
    }

    /// Operator escape hatch: clears an account's failed-attempt counter.
    pub async fn unlock(&self, email: String) -> Result<String, RpcError> {
        self.on_account(email, |c, id| throttle::unlock(c, id).map(drop)).await
    }

    /// Runs an operator command on the account that has `email`; returns the account's id.
    async fn on_account(
        &self,
        email: String,
        command: impl FnOnce(&mut DbConn, &str) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<String, RpcError> {
        let email = email.to_lowercase();
        with_conn(&self.store, move |c| {
            let row = auth::find_by_email(c, &email)?.ok_or(StoreError::NotFound)?;
            command(c, &row.id)?;
            Ok(row.id)
        })
        .await?
        .map_err(|e| match e {
            StoreError::NotFound => RpcError::not_found("No account has that email"),
            other => store_error(other),
        })
    }
}

struct Changes {
    email: Option<String>,
    password: Option<String>,
    image: Option<String>,
}
