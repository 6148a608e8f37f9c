//! Failed attempts per key (an account or a client address), one row per failure.

use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::schema::throttle_failure;
use crate::{DbConn, StoreError};

pub fn record_failure(conn: &mut DbConn, key: &str, now: i64) -> Result<(), StoreError> {
    diesel::insert_into(throttle_failure::table)
        .values((throttle_failure::key.eq(key), throttle_failure::at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// What [`reserve`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// A pending row was recorded for the attempt: its id, to settle it with.
    Reserved(i64),
    /// Failures and attempts still being checked fill the limit: try again shortly.
    Busy,
    /// Failures alone fill the limit.
    Full,
}

/// Reserves a place for one attempt on `key`: a row under `pending_key` unless the failures
/// of `key` since `since`, plus the pending rows since `pending_since`, reach `limit`. One
/// writer at a time runs this (SQLite's write lock, a PostgreSQL advisory lock), so attempts
/// racing for one key cannot all pass on a count that misses the others.
pub fn reserve(
    conn: &mut DbConn,
    key: &str,
    pending_key: &str,
    since: i64,
    pending_since: i64,
    now: i64,
    limit: i64,
) -> Result<Reservation, StoreError> {
    crate::write_tx(conn, |c| {
        if let DbConn::Postgres(pg) = c {
            diesel::connection::SimpleConnection::batch_execute(pg, "SELECT pg_advisory_xact_lock(7242013)")?;
        }
        let count = |c: &mut DbConn, key: &str, since: i64| -> QueryResult<i64> {
            throttle_failure::table
                .filter(throttle_failure::key.eq(key))
                .filter(throttle_failure::at.ge(since))
                .count()
                .get_result(c)
        };
        let failures = count(c, key, since)?;
        if failures >= limit {
            return Ok(Reservation::Full);
        }
        if failures + count(c, pending_key, pending_since)? >= limit {
            return Ok(Reservation::Busy);
        }
        let id = diesel::insert_into(throttle_failure::table)
            .values((throttle_failure::key.eq(pending_key), throttle_failure::at.eq(now)))
            .returning(throttle_failure::id)
            .get_result(c)?;
        Ok(Reservation::Reserved(id))
    })
}

/// Turns the pending row `place` into a failure of `key`, under the same lock as
/// [`reserve`]: a reservation never sees the attempt as neither pending nor failed. A place
/// that expired meanwhile still leaves its failure.
pub fn pending_failed(conn: &mut DbConn, place: i64, key: &str, now: i64) -> Result<(), StoreError> {
    crate::write_tx(conn, |c| {
        if let DbConn::Postgres(pg) = c {
            diesel::connection::SimpleConnection::batch_execute(pg, "SELECT pg_advisory_xact_lock(7242013)")?;
        }
        let moved = diesel::update(throttle_failure::table.filter(throttle_failure::id.eq(place)))
            .set((throttle_failure::key.eq(key), throttle_failure::at.eq(now)))
            .execute(c)?;
        if moved == 0 {
            diesel::insert_into(throttle_failure::table)
                .values((throttle_failure::key.eq(key), throttle_failure::at.eq(now)))
                .execute(c)?;
        }
        Ok(())
    })
}

/// Gives the pending row `place` back (its attempt was settled without a failure).
pub fn release(conn: &mut DbConn, place: i64) -> Result<(), StoreError> {
    diesel::delete(throttle_failure::table.filter(throttle_failure::id.eq(place))).execute(conn)?;
    Ok(())
}

/// Failures for `key` at or after `since`, and the oldest of them (to compute Retry-After).
pub fn recent(conn: &mut DbConn, key: &str, since: i64) -> Result<(i64, Option<i64>), StoreError> {
    Ok(throttle_failure::table
        .filter(throttle_failure::key.eq(key))
        .filter(throttle_failure::at.ge(since))
        .select((count_star(), min(throttle_failure::at)))
        .get_result(conn)?)
}

pub fn reset(conn: &mut DbConn, key: &str) -> Result<(), StoreError> {
    diesel::delete(throttle_failure::table.filter(throttle_failure::key.eq(key))).execute(conn)?;
    Ok(())
}

/// Deletes failures older than `before`; returns how many.
pub fn prune(conn: &mut DbConn, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(throttle_failure::table.filter(throttle_failure::at.lt(before))).execute(conn)?)
}
