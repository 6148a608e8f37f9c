//! Credentials imported from Dokploy (see `import.rs`): its lucia sessions, which travel as
//! `auth_session=<id>`, and its API tokens, lucia sessions sent as `Bearer <id>`. Their rows
//! are stored under a hash of the lucia id, never the id itself, and work until they expire
//! or are revoked like the gateway's own. A browser session is swapped for a gateway
//! session at its first use.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use sha2::{Digest, Sha256};

use gateway_store::session::{self, SessionKind, SessionRow};
use gateway_wire::Ctx;

use crate::AuthService;
use crate::error::Result;

/// Marks the row id of an imported session: `legacy-` and the SHA-256 of the lucia id.
const LEGACY: &str = "legacy-";

/// After a legacy session is swapped, calls already in flight with its cookie (a page's
/// parallel requests) still pass for this long; then the old cookie is refused.
pub const LEGACY_GRACE_SECS: i64 = 60;

/// The row id a lucia session id is stored under; `None` when `token` cannot be one. Lucia
/// ids are lowercase letters and digits (40 of them from lucia 2 and 3).
pub fn legacy_session_id(token: &str) -> Option<String> {
    is_lucia_shaped(token).then(|| legacy_row_id(token))
}

pub fn is_lucia_shaped(token: &str) -> bool {
    (20..=64).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The row id an imported session is stored under.
pub fn legacy_row_id(lucia_id: &str) -> String {
    format!("{LEGACY}{}", data_encoding::HEXLOWER.encode(&Sha256::digest(lucia_id.as_bytes())))
}

pub fn is_legacy(session_id: &str) -> bool {
    session_id.starts_with(LEGACY)
}

/// Whether imported sessions exist, so that a credential shaped like a lucia id is worth a
/// store read. Without any (most installations), a flood of made-up ids costs no database
/// work. Read again at most once a second, so an import by another process counts within a
/// second; with imported sessions, each such credential costs one primary-key read.
pub struct LegacyPresence {
    present: AtomicBool,
    since: Instant,
    /// Milliseconds after `since` of the last read; [`NEVER`] before the first.
    read_at: AtomicU64,
    /// Held by the one caller reading: the others wait for its answer rather than use one
    /// known to be stale (right after an import, that would refuse the imported sessions).
    reading: tokio::sync::Mutex<()>,
}

const NEVER: u64 = u64::MAX;

impl Default for LegacyPresence {
    fn default() -> Self {
        LegacyPresence {
            present: AtomicBool::new(false),
            since: Instant::now(),
            read_at: AtomicU64::new(NEVER),
            reading: Default::default(),
        }
    }
}

impl AuthService {
    /// Whether imported sessions may exist (see [`LegacyPresence`]).
    pub(crate) async fn legacy_sessions_exist(&self) -> Result<bool> {
        let presence = &self.legacy_presence;
        let stale = || {
            let last = presence.read_at.load(Ordering::Acquire);
            last == NEVER || presence.since.elapsed().as_millis() as u64 >= last.saturating_add(1000)
        };
        if stale() {
            let _reading = presence.reading.lock().await;
            if stale() {
                let present = self.store.run(|c| session::any_with_prefix(c, LEGACY)).await?;
                presence.present.store(present, Ordering::Release);
                presence.read_at.store(presence.since.elapsed().as_millis() as u64, Ordering::Release);
            }
        }
        Ok(presence.present.load(Ordering::Acquire))
    }

    /// Swaps a legacy browser session for a gateway session on this response (the rolling
    /// refresh, done at once): the new cookie is set and the legacy row ends after the grace.
    /// Returns the new session's id; `None` when another request swapped it first (the
    /// legacy row then ends with its grace), or when it ends within the grace anyway.
    pub(crate) async fn swap_legacy_session(&self, ctx: &Ctx, legacy: &SessionRow, now: i64) -> Result<Option<String>> {
        let until = now + LEGACY_GRACE_SECS;
        if legacy.expires_at <= until {
            return Ok(None);
        }
        let new = self.session_row(ctx, &legacy.auth_id, SessionKind::Session);
        let token = self.mint(&new.row);
        let (old, read_expiry, new_id) = (legacy.id.clone(), legacy.expires_at, new.row.id.clone());
        if !self.store.run(move |c| session::replace(c, &old, read_expiry, until, &new)).await? {
            return Ok(None);
        }
        ctx.set_cookie(self.session_cookie(token));
        Ok(Some(new_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lucia_ids_map_to_hashed_row_ids_and_nothing_else_does() {
        let lucia = "hx2fqlbm4r6jzsn3wl7qvcoq5hxyd3mpkfk6t7ab";
        let id = legacy_session_id(lucia).unwrap();
        assert!(is_legacy(&id) && !id.contains(lucia) && id.len() == LEGACY.len() + 64);
        assert_eq!(legacy_session_id(lucia), Some(id));
        for not_lucia in ["", "short", &"A".repeat(40), &"a".repeat(65), "eyJhbGciOiJ-", &"a-b".repeat(10)] {
            assert_eq!(legacy_session_id(not_lucia), None, "{not_lucia:?}");
        }
    }
}
