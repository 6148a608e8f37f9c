//! The auth epoch: a counter the database moves whenever a session or an account is changed
//! or deleted (see the `auth_epoch` migrations). A cache entry read at epoch `n` is current
//! while the epoch is still `n`; this module keeps track of the epoch, so that checking costs
//! no query:
//! - this process's own store calls read it after they run, before their answer goes out;
//! - a watcher thread follows other processes' changes: PostgreSQL announces each move on
//!   the `auth_epoch` channel (a few milliseconds), an SQLite file is polled.
//!
//! The watcher also vouches for what is known: if it loses its connection or stops
//! answering, [`EpochWatch::current`] says `None` and callers go to the store.
//!
//! Epoch values never repeat (the triggers move them to at least the current time in
//! microseconds), and they only go back when the store itself went back: restored from a
//! backup. The watcher then starts a new *era*: every entry cached before is dropped.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::schema::auth_epoch;
use crate::{ConnManager, DbConn, StoreError};

/// How often PostgreSQL notifications are collected (the delay before another process's
/// revocation is seen here).
const NOTIFICATION_POLL: Duration = Duration::from_millis(2);
/// How often an SQLite file is polled for other processes' changes.
const SQLITE_POLL: Duration = Duration::from_millis(200);
/// How often the watcher reads the epoch itself, proving its connection works.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long one proof is trusted.
const TRUST: Duration = Duration::from_secs(3);
/// Wait before reconnecting a lost watcher.
const RECONNECT: Duration = Duration::from_secs(1);

/// The epoch and the count of sessions added, as the store holds them now.
pub fn read(conn: &mut DbConn) -> Result<Reading, StoreError> {
    let (n, added) = auth_epoch::table.find(1).select((auth_epoch::n, auth_epoch::added)).get_result(conn)?;
    Ok(Reading { n, added })
}

/// One read of the `auth_epoch` row. Both values only ever grow, until a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub n: i64,
    /// Moves on every session insert (which leaves `n`, and so the caches, alone).
    pub added: i64,
}

/// The auth epoch as this process knows it: the store's value, in the era it was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    pub era: u64,
    pub n: i64,
}

pub struct EpochWatch {
    known: AtomicI64,
    /// The highest `added` read: a lower one later means a restore (see [`Reading`]).
    known_added: AtomicI64,
    /// Moves when the store's epoch went back (a restore): values of another history.
    era: AtomicU64,
    /// Milliseconds after `start` until which `known` is vouched for.
    trusted_until: AtomicU64,
    /// Milliseconds after `start` of the last proof (0: none yet).
    proven_at: AtomicU64,
    followed: AtomicBool,
    start: Instant,
}

impl Default for EpochWatch {
    fn default() -> Self {
        EpochWatch {
            known: AtomicI64::new(-1),
            known_added: AtomicI64::new(-1),
            era: AtomicU64::new(0),
            trusted_until: AtomicU64::new(0),
            proven_at: AtomicU64::new(0),
            followed: AtomicBool::new(false),
            start: Instant::now(),
        }
    }
}

impl EpochWatch {
    /// The newest epoch known, while the watcher vouches that no change was missed.
    pub fn current(&self) -> Option<Epoch> {
        (self.millis() < self.trusted_until.load(Ordering::SeqCst))
            .then(|| Epoch { era: self.era(), n: self.known.load(Ordering::SeqCst) })
    }

    /// The current era: read it before a query whose epoch value is to be cached.
    pub fn era(&self) -> u64 {
        self.era.load(Ordering::SeqCst)
    }

    /// The newest values known, whether vouched for or not.
    fn known(&self) -> Reading {
        Reading { n: self.known.load(Ordering::SeqCst), added: self.known_added.load(Ordering::SeqCst) }
    }

    /// The watcher read `now`, with `floor` known before its read began. Every value known
    /// then had been committed, so a read below it means the store went back (a restore):
    /// whatever was cached belongs to another history.
    fn read(&self, now: Reading, floor: Reading) {
        if now.n < floor.n || now.added < floor.added {
            self.era.fetch_add(1, Ordering::SeqCst);
            self.known.store(now.n, Ordering::SeqCst);
            self.known_added.store(now.added, Ordering::SeqCst);
            tracing::warn!(from = ?floor, to = ?now, "the auth epoch went back (a restored store?): cached sessions dropped");
        } else {
            self.saw(now);
        }
    }

    /// Whether a watcher runs (only then is the epoch worth reading after each call).
    pub(crate) fn followed(&self) -> bool {
        self.followed.load(Ordering::Relaxed)
    }

    pub(crate) fn saw(&self, reading: Reading) {
        self.known.fetch_max(reading.n, Ordering::SeqCst);
        self.known_added.fetch_max(reading.added, Ordering::SeqCst);
    }

    /// A change may have gone unseen: nothing is vouched for until the watcher says so again.
    pub(crate) fn lost(&self) {
        self.trusted_until.store(0, Ordering::SeqCst);
    }

    fn vouch(&self) {
        let now = self.millis().max(1);
        self.proven_at.store(now, Ordering::SeqCst);
        self.trusted_until.store(now + TRUST.as_millis() as u64, Ordering::SeqCst);
    }

    /// How old the last proof is: the most another process's change can have gone unseen
    /// (`None` before the first).
    pub(crate) fn lag(&self) -> Option<Duration> {
        let proven_at = self.proven_at.load(Ordering::SeqCst);
        (proven_at > 0).then(|| Duration::from_millis(self.millis().saturating_sub(proven_at)))
    }

    fn millis(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
}

/// Starts the watcher thread; it ends soon after the last handle to `watch` is dropped.
pub(crate) fn follow(manager: ConnManager, watch: &Arc<EpochWatch>) {
    if watch.followed.swap(true, Ordering::SeqCst) {
        return;
    }
    let weak = Arc::downgrade(watch);
    std::thread::Builder::new()
        .name("auth-epoch".into())
        .spawn(move || {
            // Warned once per outage, not at every reconnection attempt.
            let mut warned = false;
            while weak.strong_count() > 0 {
                match watch_once(&manager, &weak, &mut warned) {
                    Err(e) if !warned => {
                        tracing::warn!(error = %e, "lost track of session changes; resolving every token in the store until back");
                        warned = true;
                    }
                    Err(e) => tracing::debug!(error = %e, "still no track of session changes"),
                    Ok(()) => {}
                }
                if let Some(w) = weak.upgrade() {
                    w.lost();
                }
                std::thread::sleep(RECONNECT);
            }
        })
        .expect("spawning the epoch watcher");
}

/// Follows the epoch over one connection until it fails (or the store is gone: `Ok`).
fn watch_once(manager: &ConnManager, weak: &Weak<EpochWatch>, warned: &mut bool) -> Result<(), StoreError> {
    let mut conn = r2d2::ManageConnection::connect(manager).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    if let DbConn::Postgres(pg) = &mut conn {
        // Listening first: no move between the first read and the first notification is lost.
        pg.batch_execute("LISTEN auth_epoch")?;
    }
    // PostgreSQL pushes each move; an SQLite file has to be read every time.
    let (poll, read_every) = match conn {
        DbConn::Postgres(_) => (NOTIFICATION_POLL, HEARTBEAT),
        DbConn::Sqlite(_) => (SQLITE_POLL, SQLITE_POLL),
    };
    let mut last_read: Option<Instant> = None;
    loop {
        let Some(watch) = weak.upgrade() else { return Ok(()) };
        if let DbConn::Postgres(pg) = &mut conn {
            for note in pg.notifications_iter() {
                if let Ok(n) = note?.payload.parse::<i64>() {
                    watch.known.fetch_max(n, Ordering::SeqCst);
                }
            }
        }
        if last_read.is_none_or(|t| t.elapsed() >= read_every) {
            let floor = watch.known();
            watch.read(read(&mut conn)?, floor);
            watch.vouch();
            last_read = Some(Instant::now());
            if std::mem::take(warned) {
                tracing::info!("back on track of session changes");
            }
        }
        drop(watch);
        std::thread::sleep(poll);
    }
}
