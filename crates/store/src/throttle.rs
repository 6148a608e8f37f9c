//! Failed attempts per key (an account or a client address), one row per failure.

use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;

use crate::schema::throttle_failure;
use crate::{DbConn, StoreError};

pub fn record_failure(conn: &mut DbConn, key: &str, now: i64) -> Result<(), StoreError> {
    diesel::insert_into(throttle_failure::table)
        .values((throttle_failure::key.eq(key), throttle_failure::at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Records one failure for each key, unless one of them already has `limit` failures at or
/// after `since` (then records nothing and returns false). One writer at a time runs this
/// (SQLite's write lock, a PostgreSQL advisory lock), so of attempts racing for one key no
/// more than `limit` are recorded: none can pass the check on a count that misses the others.
pub fn record_within_limit(
    conn: &mut DbConn,
    keys: &[&str],
    since: i64,
    now: i64,
    limit: i64,
) -> Result<bool, StoreError> {
    crate::write_tx(conn, |c| {
        if let DbConn::Postgres(pg) = c {
            diesel::connection::SimpleConnection::batch_execute(pg, "SELECT pg_advisory_xact_lock(7242013)")?;
        }
        for key in keys {
            let count: i64 = throttle_failure::table
                .filter(throttle_failure::key.eq(key))
                .filter(throttle_failure::at.ge(since))
                .count()
                .get_result(c)?;
            if count >= limit {
                return Ok(false);
            }
        }
        for key in keys {
            diesel::insert_into(throttle_failure::table)
                .values((throttle_failure::key.eq(key), throttle_failure::at.eq(now)))
                .execute(c)?;
        }
        Ok(true)
    })
}

/// Takes back one recorded failure for `key` (the attempt it stood for succeeded).
pub fn forgive_one(conn: &mut DbConn, key: &str) -> Result<(), StoreError> {
    let newest: Option<i64> = throttle_failure::table
        .filter(throttle_failure::key.eq(key))
        .select(max(throttle_failure::id))
        .get_result(conn)?;
    if let Some(id) = newest {
        diesel::delete(throttle_failure::table.filter(throttle_failure::id.eq(id))).execute(conn)?;
    }
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
