//! Who is calling: the session cookie, a Bearer API token or an `x-api-key`, each
//! checked against its signature and against its store row (revocation, expiry).

use std::sync::Arc;

use futures_util::future::BoxFuture;
use gateway_store::session::SessionRow;
use gateway_store::{DbConn, Epoch, StoreError, session};
use gateway_wire::{Authenticator, Cookie, CookieDuration, CredentialSource, Ctx, Identity, RpcError, SameSite};

use crate::AuthService;
use crate::bounded::BoundedMap;
use crate::device::{DEVICE_COOKIE, DEVICE_TTL_SECS};
use crate::ids::{hex_token, now_iso, unix_now};
use crate::io::{Auth, Role};
use crate::tokens::{Claims, TokenKind};
use crate::workers::db;

pub const SESSION_COOKIE: &str = "auth_session";
pub const CHALLENGE_COOKIE: &str = "auth_2fa_challenge";

/// An HttpOnly, SameSite=Lax cookie for the whole site.
pub fn cookie(name: &'static str, value: String, max_age_secs: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .max_age(CookieDuration::seconds(max_age_secs))
        .finish()
}

pub fn removal_cookie(name: &'static str, secure: bool) -> Cookie<'static> {
    cookie(name, String::new(), 0, secure)
}

impl AuthService {
    /// Creates a session row and its token.
    pub(crate) fn new_session(&self, conn: &mut DbConn, auth_id: &str, kind: TokenKind) -> Result<String, StoreError> {
        let ttl = match kind {
            TokenKind::Session => self.config.session_ttl,
            TokenKind::ApiToken => self.config.api_token_ttl,
        };
        let row = SessionRow {
            id: hex_token(),
            auth_id: auth_id.to_owned(),
            kind: kind.as_str().to_owned(),
            expires_at: unix_now() + ttl.as_secs() as i64,
            created_at: now_iso(),
        };
        session::insert(conn, &row)?;
        Ok(self.mint(&row))
    }

    pub(crate) fn mint(&self, row: &SessionRow) -> String {
        let kind = if row.kind == TokenKind::ApiToken.as_str() { TokenKind::ApiToken } else { TokenKind::Session };
        self.root_key.mint(&Claims {
            auth_id: row.auth_id.clone(),
            session_id: row.id.clone(),
            kind,
            expires_at: row.expires_at,
        })
    }

    pub(crate) fn session_cookie(&self, token: String) -> Cookie<'static> {
        cookie(SESSION_COOKIE, token, self.config.session_ttl.as_secs() as i64, self.config.cookie_secure)
    }

    /// Signs in `auth_id` on this response: a session row and the cookie, and a fresh device
    /// cookie (this browser now knows the password: see `device.rs`).
    pub(crate) async fn start_session(self: &Arc<Self>, ctx: &Ctx, auth_id: String) -> Result<(), RpcError> {
        let device = self.devices.issue(&auth_id);
        let service = Arc::clone(self);
        let token = db(&self.store, move |c| service.new_session(c, &auth_id, TokenKind::Session)).await?;
        ctx.set_cookie(self.session_cookie(token));
        ctx.set_cookie(
            Cookie::build(DEVICE_COOKIE, device)
                .http_only(true)
                .same_site(SameSite::Lax)
                .path("/api")
                .secure(self.config.cookie_secure)
                .max_age(CookieDuration::seconds(DEVICE_TTL_SECS))
                .finish(),
        );
        Ok(())
    }

    /// The identity behind one credential, if it is valid right now.
    async fn resolve(&self, ctx: &Ctx, token: &str, source: CredentialSource) -> Result<Option<Identity>, RpcError> {
        let Some(claims) = self.verified.verify(&self.root_key, token) else {
            return Ok(None);
        };
        let expected = if source == CredentialSource::Cookie { TokenKind::Session } else { TokenKind::ApiToken };
        if claims.kind != expected {
            return Ok(None);
        }
        let Some(found) = self.find_session(&claims.session_id).await? else {
            return Ok(None);
        };
        let (row, now) = (&found.session, unix_now());
        if row.auth_id != claims.auth_id || row.kind != expected.as_str() || row.expires_at <= now {
            return Ok(None);
        }
        if source == CredentialSource::Cookie {
            self.refresh_if_old(ctx, row.clone(), now).await?;
        }
        Ok(Some(Identity {
            subject: found.account.id.clone(),
            admin: matches!(found.account.rol, Role::Admin),
            session_id: claims.session_id,
            source,
            details: Some(found.account.clone()),
        }))
    }

    /// A session and its account: from the cache while the auth epoch has not moved since
    /// they were read (no session or account changed), else from the store.
    async fn find_session(&self, id: &str) -> Result<Option<Arc<FoundSession>>, RpcError> {
        if let Some(hit) = self.store.auth_epoch().and_then(|epoch| self.found_sessions.get(id, epoch)) {
            return Ok(Some(hit));
        }
        let (key, era) = (id.to_owned(), self.store.auth_era());
        let Some((session, auth, epoch)) = db(&self.store, move |c| session::find_with_auth(c, &key)).await? else {
            return Ok(None);
        };
        let found = Arc::new(FoundSession { session, account: Arc::new(self.view(auth)) });
        if let Some(n) = epoch {
            self.found_sessions.put(id, Epoch { era, n }, Arc::clone(&found));
        }
        Ok(Some(found))
    }

    /// Rolling sessions: a session used in the second half of its life gets a fresh cookie.
    async fn refresh_if_old(&self, ctx: &Ctx, mut row: SessionRow, now: i64) -> Result<(), RpcError> {
        let ttl = self.config.session_ttl.as_secs() as i64;
        if row.expires_at - now > ttl / 2 {
            return Ok(());
        }
        row.expires_at = now + ttl;
        let (id, expires_at) = (row.id.clone(), row.expires_at);
        db(&self.store, move |c| session::extend(c, &id, expires_at)).await?;
        ctx.set_cookie(self.session_cookie(self.mint(&row)));
        Ok(())
    }
}

/// A session row and its account, as the store had them at some auth epoch.
pub struct FoundSession {
    session: SessionRow,
    /// The account as clients see it (API token opened), made once per read.
    account: Arc<Auth>,
}

/// Sessions found in the store, by id, each with the auth epoch it was read at.
pub struct FoundSessions(BoundedMap<(Epoch, Arc<FoundSession>)>);

/// Bytes the found sessions may hold: about 30,000 sessions.
const FOUND_SESSIONS_BYTES: usize = 16 * 1024 * 1024;

impl Default for FoundSessions {
    fn default() -> Self {
        FoundSessions(BoundedMap::new(FOUND_SESSIONS_BYTES, |(_, found)| found.heap_bytes()))
    }
}

impl FoundSession {
    /// What its strings hold, roughly: the cache's budget counts it.
    fn heap_bytes(&self) -> usize {
        let (s, a) = (&self.session, &*self.account);
        let optional = |v: &Option<String>| v.as_ref().map_or(0, String::len);
        s.id.len()
            + s.auth_id.len()
            + s.kind.len()
            + s.created_at.len()
            + std::mem::size_of::<Auth>()
            + a.id.len()
            + a.email.len()
            + a.created_at.len()
            + optional(&a.image)
            + optional(&a.token)
    }
}

impl FoundSessions {
    fn get(&self, id: &str, epoch: Epoch) -> Option<Arc<FoundSession>> {
        self.0.get(id).filter(|(read_at, _)| *read_at == epoch).map(|(_, found)| found)
    }

    fn put(&self, id: &str, epoch: Epoch, found: Arc<FoundSession>) {
        self.0.insert(id, (epoch, found));
    }
}

/// Plugs the auth domain into the wire layer's identity resolution.
pub struct SessionAuthenticator(pub Arc<AuthService>);

impl Authenticator for SessionAuthenticator {
    fn authenticate<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Option<Identity>, RpcError>> {
        Box::pin(async move {
            let candidates = [
                (ctx.cookie(SESSION_COOKIE), CredentialSource::Cookie),
                (ctx.bearer(), CredentialSource::Bearer),
                (ctx.api_key(), CredentialSource::ApiKey),
            ];
            for (token, source) in candidates {
                if let Some(token) = token.filter(|t| !t.is_empty())
                    && let Some(identity) = self.0.resolve(ctx, token, source).await?
                {
                    return Ok(Some(identity));
                }
            }
            Ok(None)
        })
    }
}
