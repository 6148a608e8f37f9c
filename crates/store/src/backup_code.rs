//! 2FA backup codes: ten single-use codes per account, stored as keyed hashes. Every write
//! here first updates the account's row, which takes its lock (PostgreSQL) or runs under the
//! write lock (SQLite): writes for one account run one after another, and each sees the
//! 2FA state the previous one left.

use diesel::prelude::*;

use crate::auth::AuthRow;
use crate::schema::{auth, backup_code};
use crate::{DbConn, StoreError, write_tx};

/// Makes `hashes` the account's only backup codes, in one transaction, if its 2FA is on:
/// the old set is gone the moment the new one exists. False (nothing written) when 2FA is
/// off, or there is no such account.
pub fn replace(conn: &mut DbConn, auth_id: &str, hashes: &[String], created_at: &str) -> Result<bool, StoreError> {
    write_tx(conn, |c| {
        let on = auth::table.find(auth_id).filter(auth::is_2fa_enabled.eq(true));
        if diesel::update(on).set(auth::id.eq(auth_id)).execute(c)? != 1 {
            return Ok(false);
        }
        diesel::delete(backup_code::table.filter(backup_code::auth_id.eq(auth_id))).execute(c)?;
        // One row per statement: batch inserts are not available over both backends at once.
        for hash in hashes {
            let row =
                (backup_code::hash.eq(hash), backup_code::auth_id.eq(auth_id), backup_code::created_at.eq(created_at));
            diesel::insert_into(backup_code::table).values(row).execute(c)?;
        }
        Ok(true)
    })
}

/// Spends the account's code with `hash`: true if it existed (and now no longer does). One
/// DELETE decides, so of two racing uses of a code only one succeeds.
pub fn spend(conn: &mut DbConn, auth_id: &str, hash: &str) -> Result<bool, StoreError> {
    let spent = diesel::delete(backup_code::table.find(hash).filter(backup_code::auth_id.eq(auth_id))).execute(conn)?;
    Ok(spent == 1)
}

/// How many unused codes the account has.
pub fn count(conn: &mut DbConn, auth_id: &str) -> Result<i64, StoreError> {
    Ok(backup_code::table.filter(backup_code::auth_id.eq(auth_id)).count().get_result(conn)?)
}

/// Turns the account's 2FA on with `sealed_secret`; codes made for an earlier secret are
/// deleted in the same transaction. The row after the change, `None` if there is no such account.
pub fn enable_2fa(conn: &mut DbConn, auth_id: &str, sealed_secret: &str) -> Result<Option<AuthRow>, StoreError> {
    set_2fa(conn, auth_id, Some(sealed_secret))
}

/// Turns the account's 2FA off and deletes its backup codes, in one transaction.
pub fn disable_2fa(conn: &mut DbConn, auth_id: &str) -> Result<Option<AuthRow>, StoreError> {
    set_2fa(conn, auth_id, None)
}

fn set_2fa(conn: &mut DbConn, auth_id: &str, secret: Option<&str>) -> Result<Option<AuthRow>, StoreError> {
    write_tx(conn, |c| {
        let change = (auth::secret.eq(secret), auth::is_2fa_enabled.eq(secret.is_some()));
        let row = diesel::update(auth::table.find(auth_id))
            .set(change)
            .returning(auth::all_columns)
            .get_result(c)
            .optional()?;
        diesel::delete(backup_code::table.filter(backup_code::auth_id.eq(auth_id))).execute(c)?;
        Ok(row)
    })
}
