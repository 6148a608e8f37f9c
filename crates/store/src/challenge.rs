//! Login challenges: the password step passed, the 2FA pin is still owed.

use diesel::prelude::*;

use crate::schema::login_challenge;
use crate::{DbConn, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_challenge)]
pub struct ChallengeRow {
    pub id: String,
    pub auth_id: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Wrong pins so far.
    pub failures: i32,
}

pub fn insert(conn: &mut DbConn, row: &ChallengeRow) -> Result<(), StoreError> {
    diesel::insert_into(login_challenge::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<Option<ChallengeRow>, StoreError> {
    Ok(login_challenge::table.find(id).select(login_challenge::all_columns).get_result(conn).optional()?)
}

/// Counts one more wrong pin, atomically; returns the new count. `NotFound` if the
/// challenge is gone.
pub fn add_failure(conn: &mut DbConn, id: &str) -> Result<i32, StoreError> {
    Ok(diesel::update(login_challenge::table.find(id))
        .set(login_challenge::failures.eq(login_challenge::failures + 1))
        .returning(login_challenge::failures)
        .get_result(conn)?)
}

pub fn delete(conn: &mut DbConn, id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(login_challenge::table.find(id)).execute(conn)? == 1)
}

/// Deletes up to `limit` challenges that expired at or before `now`, or were spent by
/// `spent_at` wrong pins; returns how many.
pub fn delete_done(conn: &mut DbConn, now: i64, spent_at: i32, limit: i64) -> Result<usize, StoreError> {
    let done: Vec<String> = login_challenge::table
        .filter(login_challenge::expires_at.le(now).or(login_challenge::failures.ge(spent_at)))
        .select(login_challenge::id)
        .limit(limit)
        .load(conn)?;
    if done.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(login_challenge::table.filter(login_challenge::id.eq_any(done))).execute(conn)?)
}
