//! Who is calling: the session cookie, a Bearer API token or an `x-api-key`, each checked
//! against its signature and against its store row (revocation, expiry). Known sessions are
//! answered from memory while the auth epoch stands still.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use futures_util::future::BoxFuture;
use gateway_store::Epoch;
use gateway_store::session::{self, SessionKind, SessionRow};
use gateway_wire::{Authenticator, CredentialSource, Ctx, Identity, RpcError};

use crate::AuthService;
use crate::account::{AccountRole, Auth};
use crate::cache::Cache;
use crate::error::Result;
use crate::ids::{parse_iso, unix_now};
use crate::legacy::{is_legacy, is_lucia_shaped, legacy_row_id};
use crate::sessions::SESSION_COOKIE;

impl AuthService {
    /// The identity behind one credential, if it is valid right now: a token the gateway
    /// minted, or a session or API token imported from Dokploy (`legacy.rs`).
    async fn resolve(&self, ctx: &Ctx, token: &str, source: CredentialSource) -> Result<Option<Identity>> {
        let expected = if source == CredentialSource::Cookie { SessionKind::Session } else { SessionKind::ApiToken };
        let (mut session_id, signed_for) = match self.token_cache.verify(token, |t| self.token_keys.verify(t)) {
            Some(claims) if claims.kind == expected => (claims.session_id, Some(claims.auth_id)),
            Some(_) => return Ok(None),
            // Hashed only once imported sessions may exist: made-up ids cost nothing else.
            None if is_lucia_shaped(token) && self.legacy_sessions_exist().await? => (legacy_row_id(token), None),
            None => return Ok(None),
        };
        let Some(found) = self.find_session(&session_id).await? else {
            return Ok(None);
        };
        let (row, now) = (&found.session, unix_now());
        let signed_for_other = signed_for.is_some_and(|auth_id| auth_id != row.auth_id);
        if signed_for_other || row.kind != expected || row.expires_at <= now {
            return Ok(None);
        }
        if source == CredentialSource::Cookie {
            if is_legacy(&session_id) {
                if let Some(swapped) = self.swap_legacy_session(ctx, row, now).await? {
                    session_id = swapped;
                }
            } else {
                self.refresh_if_old(ctx, row.clone(), now).await?;
            }
        }
        self.note_use(&found, now);
        Ok(Some(Identity {
            subject: found.account.id.clone(),
            admin: found.account.rol == AccountRole::Admin,
            email: Some(found.account.email.clone()),
            session_id,
            source,
            details: Some(found.account.clone()),
        }))
    }

    /// A session and its account: from the cache while the auth epoch has not moved since
    /// they were read (no session or account changed), else from the store.
    async fn find_session(&self, id: &str) -> Result<Option<Arc<FoundSession>>> {
        if let Some(hit) = self.store.auth_epoch().and_then(|epoch| self.session_cache.get(id, epoch)) {
            return Ok(Some(hit));
        }
        let (key, era) = (id.to_owned(), self.store.auth_era());
        let Some((session, auth, last_used, epoch)) =
            self.store.read(move |c| session::find_with_auth(c, &key)).await?
        else {
            return Ok(None);
        };
        // A session is used when it is made: no use needs recording before a while after.
        let made = parse_iso(&session.created_at).unwrap_or(0);
        let last_used = AtomicI64::new(last_used.unwrap_or(0).max(made));
        let found = Arc::new(FoundSession { session, account: Arc::new(self.view(auth)), last_used });
        if let Some(n) = epoch {
            self.session_cache.put(id, Epoch { era, n }, Arc::clone(&found));
        }
        Ok(Some(found))
    }

    /// Records a use of the session when the one recorded is older than the resolution
    /// (`auth.listSessions` shows it): on the path of every call, one number is compared;
    /// about once an hour, one call of the session writes it, in the background.
    fn note_use(&self, found: &FoundSession, now: i64) {
        let recorded = found.last_used.load(Ordering::Relaxed);
        if now - recorded < self.config.last_used_resolution.as_secs() as i64
            || found.last_used.compare_exchange(recorded, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let (store, id) = (self.store.clone(), found.session.id.clone());
        tokio::spawn(async move {
            if let Err(e) = store.run(move |c| session::touch(c, &id, now)).await {
                tracing::debug!(error = %e, "a session's last use was not recorded");
            }
        });
    }
}

/// A session row and its account, as the store had them at some auth epoch.
pub struct FoundSession {
    session: SessionRow,
    /// The account as clients see it (API token opened), made once per read.
    account: Arc<Auth>,
    /// When a use of the session was last recorded (unix seconds), as this process knows:
    /// moved before the write that records a use, so that one call writes it, not every
    /// call in flight.
    last_used: AtomicI64,
}

impl FoundSession {
    /// What its strings hold, roughly: the cache's budget counts it.
    fn heap_bytes(&self) -> usize {
        let (s, a) = (&self.session, &*self.account);
        let optional = |v: &Option<String>| v.as_ref().map_or(0, String::len);
        s.id.len()
            + s.auth_id.len()
            + s.created_at.len()
            + std::mem::size_of::<Auth>()
            + a.id.len()
            + a.email.len()
            + a.created_at.len()
            + optional(&a.image)
            + optional(&a.token)
    }
}

/// Sessions found in the store, by id, each with the auth epoch it was read at.
pub struct SessionCache(Cache<(Epoch, Arc<FoundSession>)>);

/// Bytes the session cache may hold: about 30,000 sessions.
const SESSION_CACHE_BYTES: usize = 16 * 1024 * 1024;

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache(Cache::new("session", SESSION_CACHE_BYTES, |(_, found)| found.heap_bytes()))
    }
}

impl SessionCache {
    fn get(&self, id: &str, epoch: Epoch) -> Option<Arc<FoundSession>> {
        self.0.get(id, |(read_at, _)| *read_at == epoch).map(|(_, found)| found)
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
