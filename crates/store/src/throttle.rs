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
