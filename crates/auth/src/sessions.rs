//! Sessions and their cookies: a row in the store per session or API token (so either can be
//! revoked) and a token minted for it; rolling refresh of browser sessions; logout.

use std::sync::Arc;

use gateway_store::session::{self, NewSession, SessionKind, SessionOrigin, SessionRow};
use gateway_store::{DbConn, StoreError};
use gateway_wire::{Cookie, CookieDuration, CredentialSource, Ctx, NoInput, SameSite};

use crate::AuthService;
use crate::device::{DEVICE_COOKIE, DEVICE_TTL_SECS};
use crate::error::Result;
use crate::ids::{hex_token, now_iso, unix_now};
use crate::legacy::legacy_session_id;
use crate::tokens::Claims;

pub const SESSION_COOKIE: &str = "auth_session";
pub const CHALLENGE_COOKIE: &str = "auth_2fa_challenge";

/// An HttpOnly, SameSite=Lax cookie for `path`.
pub fn cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    max_age_secs: i64,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path(path)
        .secure(secure)
        .max_age(CookieDuration::seconds(max_age_secs))
        .finish()
}

pub fn removal_cookie(name: &'static str, secure: bool) -> Cookie<'static> {
    cookie(name, String::new(), "/", 0, secure)
}

impl AuthService {
    /// A fresh session of `kind` for the account, made by the request of `ctx` (not yet
    /// stored).
    pub(crate) fn session_row(&self, ctx: &Ctx, auth_id: &str, kind: SessionKind) -> NewSession {
        let ttl = match kind {
            SessionKind::Session => self.config.session_ttl,
            SessionKind::ApiToken => self.config.api_token_ttl,
        };
        let row = SessionRow {
            id: hex_token(),
            auth_id: auth_id.to_owned(),
            kind,
            expires_at: unix_now() + ttl.as_secs() as i64,
            created_at: now_iso(),
        };
        let origin =
            SessionOrigin { user_agent: ctx.user_agent(), client_address: ctx.client_addr().map(|a| a.to_string()) };
        NewSession { row, origin }
    }

    /// Stores a browser session for the account; returns its token.
    fn new_session(&self, conn: &mut DbConn, new: NewSession) -> Result<String, StoreError> {
        session::insert(conn, &new)?;
        Ok(self.mint(&new.row))
    }

    pub(crate) fn mint(&self, row: &SessionRow) -> String {
        self.token_keys.mint(&Claims {
            auth_id: row.auth_id.clone(),
            session_id: row.id.clone(),
            kind: row.kind,
            expires_at: row.expires_at,
        })
    }

    pub(crate) fn session_cookie(&self, token: String) -> Cookie<'static> {
        let ttl = self.config.session_ttl.as_secs() as i64;
        cookie(SESSION_COOKIE, token, "/", ttl, self.config.cookie_secure)
    }

    /// Signs in `auth_id` on this response: a session row and the cookie, and a fresh device
    /// cookie (this browser now knows the password: see `device.rs`).
    pub(crate) async fn start_session(self: &Arc<Self>, ctx: &Ctx, auth_id: String) -> Result<()> {
        let device = self.devices.issue(&auth_id);
        let new = self.session_row(ctx, &auth_id, SessionKind::Session);
        let service = Arc::clone(self);
        let token = self.store.run(move |c| service.new_session(c, new)).await?;
        ctx.set_cookie(self.session_cookie(token));
        ctx.set_cookie(cookie(DEVICE_COOKIE, device, "/api", DEVICE_TTL_SECS, self.config.cookie_secure));
        Ok(())
    }

    /// Rolling sessions: a session used in the second half of its life gets a fresh cookie.
    pub(crate) async fn refresh_if_old(&self, ctx: &Ctx, mut row: SessionRow, now: i64) -> Result<()> {
        let ttl = self.config.session_ttl.as_secs() as i64;
        if row.expires_at - now > ttl / 2 {
            return Ok(());
        }
        row.expires_at = now + ttl;
        let (id, expires_at) = (row.id.clone(), row.expires_at);
        self.store.run(move |c| session::extend(c, &id, expires_at)).await?;
        ctx.set_cookie(self.session_cookie(self.mint(&row)));
        Ok(())
    }

    /// `auth.logout`: ends the cookie session; an API token is not revoked by logout.
    pub async fn logout(&self, ctx: &Ctx, _: NoInput) -> Result<bool> {
        let caller = ctx.caller()?;
        if caller.source != CredentialSource::Cookie {
            return Ok(false);
        }
        let id = caller.session_id.clone();
        // A Dokploy session swapped by this very request ends now, not after its grace.
        let legacy = ctx.cookie(SESSION_COOKIE).and_then(legacy_session_id);
        self.store
            .run(move |c| {
                session::delete(c, &id)?;
                legacy.map_or(Ok(false), |legacy| session::delete(c, &legacy))
            })
            .await?;
        ctx.set_cookie(removal_cookie(SESSION_COOKIE, self.config.cookie_secure));
        audit!(ctx, "logout", auth_id = %caller.subject);
        Ok(true)
    }
}
