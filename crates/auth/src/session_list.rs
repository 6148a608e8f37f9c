//! Sessions their owner can see and end, as account pages offer: `auth.listSessions`,
//! `auth.revokeSession`, `auth.revokeOtherSessions`, and for an admin the same on another
//! account (`admin.listSessions`, `admin.revokeSession`, `admin.revokeAllSessions`).
//!
//! A session is named by a public id: a hash of its row id. The row id is what a token is
//! minted for (and, for an imported session, a hash of the Dokploy credential); the public
//! id leads back to neither. Ending a session deletes its row, which moves the auth epoch:
//! every gateway refuses its credential at once, as after a logout.

use garde::Validate;
use gateway_store::session::{self, SessionKind, SessionListing};
use gateway_wire::{CredentialSource, Ctx, Identity, NoInput, RpcError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AuthService;
use crate::error::{Result, auth_not_found, bad};
use crate::ids::{iso, unix_now};
use crate::legacy::{is_legacy, legacy_session_id};
use crate::sessions::{SESSION_COOKIE, removal_cookie};

/// Most sessions one listing shows (see [`SessionList`]).
pub const MAX_LISTED_SESSIONS: i64 = 200;

const SESSION_NOT_FOUND: &str = "Session not found";

/// What a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SessionKindView {
    /// A browser session (the session cookie).
    Session,
    /// The account's API token (Bearer or `x-api-key`).
    ApiToken,
}

/// One of an account's sessions, or its API token: nothing in it is a credential.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Names the session to `auth.revokeSession`; it cannot be used to sign in.
    pub id: String,
    pub kind: SessionKindView,
    /// Whether the call that lists it was made with it.
    pub current: bool,
    /// Imported from Dokploy (its client is then unknown).
    pub imported: bool,
    /// ISO-8601.
    pub created_at: String,
    /// ISO-8601.
    pub expires_at: String,
    /// ISO-8601, coarse: a use is recorded when the one recorded is an hour old (by default).
    pub last_used_at: String,
    /// The address of the client that made it.
    pub client_address: Option<String>,
    /// The User-Agent of the client that made it (at most 256 characters).
    pub user_agent: Option<String>,
}

/// An account's sessions valid now, and its API token: at most 200, the current one and
/// the API token first, then the newest.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// How many sessions a call ended.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RevokedSessions {
    pub revoked: u64,
}

/// One of the caller's sessions (`auth.revokeSession`).
#[derive(Debug, Deserialize, Validate, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionIdInput {
    /// The `id` `auth.listSessions` gave.
    #[garde(length(chars, min = 1, max = 64))]
    #[schemars(length(min = 1, max = 64))]
    pub session_id: String,
}

/// An account (`admin.listSessions`, `admin.revokeAllSessions`).
#[derive(Debug, Deserialize, Validate, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthIdInput {
    #[garde(length(chars, min = 1, max = 64))]
    #[schemars(length(min = 1, max = 64))]
    pub auth_id: String,
}

/// One session of an account (`admin.revokeSession`).
#[derive(Debug, Deserialize, Validate, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountSessionInput {
    #[garde(length(chars, min = 1, max = 64))]
    #[schemars(length(min = 1, max = 64))]
    pub auth_id: String,
    /// The `id` `admin.listSessions` gave.
    #[garde(length(chars, min = 1, max = 64))]
    #[schemars(length(min = 1, max = 64))]
    pub session_id: String,
}

/// The public id of the session stored under `row_id`: 128 bits of a domain-separated
/// SHA-256, as hex. Row ids are 256 random bits (or a hash of one), so it reveals nothing
/// of them, and no two sessions share one.
pub fn public_session_id(row_id: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"auth-gateway public session id v1\0");
    hash.update(row_id.as_bytes());
    data_encoding::HEXLOWER.encode(&hash.finalize()[..16])
}

fn view(listing: SessionListing, current: Option<&str>) -> SessionView {
    // Both ISO-8601 as `iso` writes them, which sort as text; a session made and not used
    // since was last used when it was made.
    let last_used = listing.last_used_at.map(iso).filter(|used| *used > listing.created_at);
    SessionView {
        id: public_session_id(&listing.id),
        kind: match listing.kind {
            SessionKind::Session => SessionKindView::Session,
            SessionKind::ApiToken => SessionKindView::ApiToken,
        },
        current: current == Some(listing.id.as_str()),
        imported: is_legacy(&listing.id),
        expires_at: iso(listing.expires_at),
        last_used_at: last_used.unwrap_or_else(|| listing.created_at.clone()),
        created_at: listing.created_at,
        client_address: listing.client_address,
        user_agent: listing.user_agent,
    }
}

impl AuthService {
    async fn sessions_of(&self, auth_id: String, current: Option<String>) -> Result<SessionList> {
        let first = current.clone();
        let listed = self
            .store
            .run(move |c| session::list_live(c, &auth_id, unix_now(), first.as_deref(), MAX_LISTED_SESSIONS))
            .await?;
        Ok(SessionList { sessions: listed.into_iter().map(|l| view(l, current.as_deref())).collect() })
    }

    /// Ends the session of `auth_id` whose public id is `public_id`; `NOT_FOUND`, changing
    /// nothing, when the account has none (an id of another account's session included:
    /// the answer cannot tell them apart). Ending the caller's own cookie session is a
    /// logout: the cookie is cleared.
    async fn revoke_one(&self, ctx: &Ctx, auth_id: String, public_id: String) -> Result<bool> {
        let caller = ctx.caller()?;
        let account = auth_id.clone();
        let ended = self
            .store
            .run(move |c| session::revoke_matching(c, &account, |id| public_session_id(id) == public_id))
            .await?;
        let Some((id, kind)) = ended else {
            return Err(RpcError::not_found(SESSION_NOT_FOUND).into());
        };
        if is_current_cookie(caller, &id) {
            self.end_swapped_legacy(ctx).await?;
            ctx.set_cookie(removal_cookie(SESSION_COOKIE, self.config.cookie_secure));
        }
        audit!(ctx, "session_revoked", auth_id = %auth_id, by = %caller.subject, kind = kind.as_str());
        Ok(true)
    }

    /// A Dokploy session swapped by this very request ends with the gateway session that
    /// replaced it, not after its grace (as at logout).
    async fn end_swapped_legacy(&self, ctx: &Ctx) -> Result<()> {
        if let Some(legacy) = ctx.cookie(SESSION_COOKIE).and_then(legacy_session_id) {
            self.store.run(move |c| session::delete(c, &legacy)).await?;
        }
        Ok(())
    }

    /// `auth.listSessions`
    pub async fn list_sessions(&self, ctx: &Ctx, _: NoInput) -> Result<SessionList> {
        let caller = ctx.caller()?;
        self.sessions_of(caller.subject.clone(), Some(caller.session_id.clone())).await
    }

    /// `auth.revokeSession`
    pub async fn revoke_session(&self, ctx: &Ctx, input: SessionIdInput) -> Result<bool> {
        let auth_id = ctx.caller()?.subject.clone();
        self.revoke_one(ctx, auth_id, input.session_id).await
    }

    /// `auth.revokeOtherSessions`: every browser session of the caller but the one making
    /// the call. The API token stays (scripts and CI use it; `auth.revokeSession` or
    /// `auth.generateToken` end it).
    pub async fn revoke_other_sessions(&self, ctx: &Ctx, _: NoInput) -> Result<RevokedSessions> {
        let caller = ctx.caller()?;
        let (auth_id, keep) = (caller.subject.clone(), caller.session_id.clone());
        let revoked = self
            .store
            .run(move |c| session::revoke_all(c, &auth_id, Some(&keep), false))
            .await?
            .ok_or_else(auth_not_found)? as u64;
        audit!(ctx, "other_sessions_revoked", auth_id = %caller.subject, revoked);
        Ok(RevokedSessions { revoked })
    }

    /// `admin.listSessions`
    pub async fn admin_list_sessions(&self, ctx: &Ctx, input: AuthIdInput) -> Result<SessionList> {
        let caller = ctx.caller()?;
        self.load_auth(input.auth_id.clone()).await?;
        self.sessions_of(input.auth_id, Some(caller.session_id.clone())).await
    }

    /// `admin.revokeSession`
    pub async fn admin_revoke_session(&self, ctx: &Ctx, input: AccountSessionInput) -> Result<bool> {
        self.revoke_one(ctx, input.auth_id, input.session_id).await
    }

    /// `admin.revokeAllSessions`: every session of another account, its API token included.
    pub async fn admin_revoke_all_sessions(&self, ctx: &Ctx, input: AuthIdInput) -> Result<RevokedSessions> {
        let caller = ctx.caller()?;
        if input.auth_id == caller.subject {
            return Err(bad("Use auth.revokeOtherSessions for your own sessions"));
        }
        let auth_id = input.auth_id.clone();
        let revoked =
            self.store.run(move |c| session::revoke_all(c, &auth_id, None, true)).await?.ok_or_else(auth_not_found)?
                as u64;
        audit!(ctx, "all_sessions_revoked", auth_id = %input.auth_id, by = %caller.subject, revoked);
        Ok(RevokedSessions { revoked })
    }
}

fn is_current_cookie(caller: &Identity, id: &str) -> bool {
    caller.source == CredentialSource::Cookie && caller.session_id == id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ids_are_fixed_per_session_and_reveal_nothing_of_the_row_id() {
        let row = "3f".repeat(32);
        let id = public_session_id(&row);
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(public_session_id(&row), id);
        assert_ne!(public_session_id(&"3e".repeat(32)), id);
        assert!(!row.contains(&id) && !id.contains(&row[..8]));
    }
}
