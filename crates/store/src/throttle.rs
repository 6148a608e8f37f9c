//! Login and 2FA attempts per counter key (an account, a known device, a client address):
//! one row per failure, and one row per attempt still being checked (its *place*), keyed
//! `pending:<key>`. A place is taken before the password or pin is checked, so that
//! concurrent attempts cannot all pass a limit none of them is counted in yet.

use diesel::prelude::*;

use crate::advisory_lock::{self, Lock};
use crate::schema::throttle_failure;
use crate::{DbConn, StoreError, write_tx};

/// The row that holds an attempt's place on one key until the attempt is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub id: i64,
    pub key: String,
}

/// What [`take_places`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// One place per key, taken together.
    Places(Vec<Place>),
    /// Failures and attempts still being checked fill a key's limit: try again shortly.
    Busy,
    /// Failures alone fill a key's limit; the oldest of them leaves the window at `until`.
    Full { until: i64 },
}

fn pending(key: &str) -> String {
    format!("pending:{key}")
}

/// Takes a place on every key in `keys` in one locked step, unless for some key the
/// failures since `since` reach `limit` (`Full`), or failures plus the places taken since
/// `places_since` do (`Busy`). Serialized per key: SQLite's write lock, or PostgreSQL
/// advisory locks on the keys (attempts on other keys never wait on these).
pub fn take_places(
    conn: &mut DbConn,
    keys: &[&str],
    since: i64,
    places_since: i64,
    now: i64,
    limit: i64,
    window: i64,
) -> Result<Taken, StoreError> {
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    write_tx(conn, |c| {
        if let DbConn::Postgres(pg) = c {
            for key in &sorted {
                advisory_lock::wait_for(pg, Lock::Key(key))?;
            }
        }
        let pending_keys: Vec<String> = sorted.iter().map(|k| pending(k)).collect();
        let all: Vec<&str> = sorted.iter().copied().chain(pending_keys.iter().map(String::as_str)).collect();
        // One statement, one snapshot: an attempt settling meanwhile is seen once, as a
        // place or as a failure.
        let rows: Vec<(String, i64)> = throttle_failure::table
            .filter(throttle_failure::key.eq_any(&all))
            .filter(throttle_failure::at.ge(since.min(places_since)))
            .select((throttle_failure::key, throttle_failure::at))
            .load(c)?;
        let mut busy = false;
        for (key, pending_key) in sorted.iter().zip(&pending_keys) {
            let failures: Vec<i64> =
                rows.iter().filter(|(k, at)| k == key && *at >= since).map(|(_, at)| *at).collect();
            if failures.len() as i64 >= limit {
                let oldest = failures.iter().copied().min().unwrap_or(now);
                return Ok(Taken::Full { until: oldest + window });
            }
            let places = rows.iter().filter(|(k, at)| k == pending_key && *at >= places_since).count() as i64;
            busy |= failures.len() as i64 + places >= limit;
        }
        if busy {
            return Ok(Taken::Busy);
        }
        let mut places = Vec::with_capacity(sorted.len());
        for (key, pending_key) in sorted.iter().zip(&pending_keys) {
            let id = diesel::insert_into(throttle_failure::table)
                .values((throttle_failure::key.eq(pending_key), throttle_failure::at.eq(now)))
                .returning(throttle_failure::id)
                .get_result(c)?;
            places.push(Place { id, key: (*key).to_owned() });
        }
        Ok(Taken::Places(places))
    })
}

/// The attempt failed: each place becomes a failure of its key, in one statement per place
/// (a place is never seen as neither). A place that expired meanwhile still leaves its failure.
pub fn failed(conn: &mut DbConn, places: &[Place], now: i64) -> Result<(), StoreError> {
    write_tx(conn, |c| {
        for place in places {
            let moved = diesel::update(throttle_failure::table.filter(throttle_failure::id.eq(place.id)))
                .set((throttle_failure::key.eq(&place.key), throttle_failure::at.eq(now)))
                .execute(c)?;
            if moved == 0 {
                diesel::insert_into(throttle_failure::table)
                    .values((throttle_failure::key.eq(&place.key), throttle_failure::at.eq(now)))
                    .execute(c)?;
            }
        }
        Ok(())
    })
}

/// Records one failure of `key` outside any place (a key the attempt was not judged by).
pub fn record_failure(conn: &mut DbConn, key: &str, now: i64) -> Result<(), StoreError> {
    diesel::insert_into(throttle_failure::table)
        .values((throttle_failure::key.eq(key), throttle_failure::at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// The attempt is over without a failure: its places are given back.
pub fn release(conn: &mut DbConn, places: &[Place]) -> Result<(), StoreError> {
    let ids: Vec<i64> = places.iter().map(|p| p.id).collect();
    diesel::delete(throttle_failure::table.filter(throttle_failure::id.eq_any(ids))).execute(conn)?;
    Ok(())
}

/// Forgets every failure of `key` (a completed login, an operator's unlock).
pub fn reset(conn: &mut DbConn, key: &str) -> Result<usize, StoreError> {
    Ok(diesel::delete(throttle_failure::table.filter(throttle_failure::key.eq(key))).execute(conn)?)
}

/// Failures of `key` at or after `since`.
pub fn failures(conn: &mut DbConn, key: &str, since: i64) -> Result<i64, StoreError> {
    Ok(throttle_failure::table
        .filter(throttle_failure::key.eq(key))
        .filter(throttle_failure::at.ge(since))
        .count()
        .get_result(conn)?)
}

/// Deletes up to `limit` rows (failures and places) older than `before`; returns how many.
pub fn prune(conn: &mut DbConn, before: i64, limit: i64) -> Result<usize, StoreError> {
    let old: Vec<i64> = throttle_failure::table
        .filter(throttle_failure::at.lt(before))
        .select(throttle_failure::id)
        .limit(limit)
        .load(conn)?;
    if old.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(throttle_failure::table.filter(throttle_failure::id.eq_any(old))).execute(conn)?)
}
