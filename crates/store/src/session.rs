//! Sessions and API tokens: one row each, so either can be revoked.

use diesel::prelude::*;

use crate::auth::AuthRow;
use crate::schema::{auth, auth_epoch, backup_code, login_challenge, session};
use crate::{DbConn, StoreError, write_tx};

text_enum! {
    /// What a session row stands for.
    pub enum SessionKind as "session kind" {
        /// A browser session (the `auth_session` cookie).
        Session = "session",
        /// An API token (Bearer or `x-api-key`).
        ApiToken = "api_token",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = session)]
pub struct SessionRow {
    pub id: String,
    pub auth_id: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub kind: SessionKind,
    /// Unix seconds.
    pub expires_at: i64,
    pub created_at: String,
}

pub fn insert(conn: &mut DbConn, row: &SessionRow) -> Result<(), StoreError> {
    diesel::insert_into(session::table).values(row.clone()).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<Option<SessionRow>, StoreError> {
    Ok(session::table.find(id).select(session::all_columns).first(conn).optional()?)
}

/// The session, its account and the auth epoch, in one query (one snapshot): the lookup
/// behind an authenticated call whose answer is not cached yet.
pub fn find_with_auth(conn: &mut DbConn, id: &str) -> Result<Option<(SessionRow, AuthRow, Option<i64>)>, StoreError> {
    let epoch = auth_epoch::table.select(auth_epoch::n).single_value();
    Ok(session::table
        .inner_join(auth::table)
        .filter(session::id.eq(id))
        .select((session::all_columns, auth::all_columns, epoch))
        .first(conn)
        .optional()?)
}

/// Whether any session's id starts with `prefix` (ASCII, ending below `~`): a range read on
/// the primary key, on both backends.
pub fn any_with_prefix(conn: &mut DbConn, prefix: &str) -> Result<bool, StoreError> {
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    let end = String::from_utf8(end).map_err(|e| StoreError::Database(e.to_string()))?;
    let first: Option<String> = session::table
        .filter(session::id.ge(prefix))
        .filter(session::id.lt(end))
        .select(session::id)
        .first(conn)
        .optional()?;
    Ok(first.is_some())
}

/// Moves the expiry (rolling sessions); false if the session is gone.
pub fn extend(conn: &mut DbConn, id: &str, new_expires_at: i64) -> Result<bool, StoreError> {
    let changed = diesel::update(session::table.find(id)).set(session::expires_at.eq(new_expires_at)).execute(conn)?;
    Ok(changed == 1)
}

/// Ends session `old` at `until` and stores `new` in its place, in one transaction, if `old`
/// still expires at `read_expiry` (as read before the call). False, changing nothing, when
/// it does not: another request replaced it first.
pub fn replace(
    conn: &mut DbConn,
    old: &str,
    read_expiry: i64,
    until: i64,
    new: &SessionRow,
) -> Result<bool, StoreError> {
    write_tx(conn, |c| {
        let ended = diesel::update(session::table.find(old).filter(session::expires_at.eq(read_expiry)))
            .set(session::expires_at.eq(until))
            .execute(c)?;
        if ended == 1 {
            diesel::insert_into(session::table).values(new.clone()).execute(c)?;
        }
        Ok(ended == 1)
    })
}

pub fn delete(conn: &mut DbConn, id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(session::table.find(id)).execute(conn)? == 1)
}

/// Makes `new` the account's only API token and `token_text` its `auth.token`, in one
/// transaction. The auth row is updated first: that takes the row lock (PostgreSQL) or is
/// already under the write lock (SQLite), so concurrent calls for one account run one after
/// another and leave exactly one API token. `None` if there is no such account.
pub fn replace_api_token(
    conn: &mut DbConn,
    auth_id: &str,
    new: &SessionRow,
    token_text: &str,
) -> Result<Option<AuthRow>, StoreError> {
    write_tx(conn, |conn| {
        let Some(updated) = diesel::update(auth::table.find(auth_id))
            .set(auth::token.eq(token_text))
            .returning(auth::all_columns)
            .get_result::<AuthRow>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let api_tokens = session::table
            .filter(session::auth_id.eq(auth_id))
            .filter(session::kind.eq(SessionKind::ApiToken.as_str()));
        diesel::delete(api_tokens).execute(conn)?;
        diesel::insert_into(session::table).values(new.clone()).execute(conn)?;
        Ok(Some(updated))
    })
}

/// Deletes up to `limit` sessions whose expiry is at or before `now` (unix seconds);
/// returns how many.
pub fn delete_expired(conn: &mut DbConn, now: i64, limit: i64) -> Result<usize, StoreError> {
    let expired: Vec<String> =
        session::table.filter(session::expires_at.le(now)).select(session::id).limit(limit).load(conn)?;
    if expired.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(session::table.filter(session::id.eq_any(expired))).execute(conn)?)
}

/// Turns 2FA off and, in the same transaction, ends the account's browser sessions and
/// pending 2FA challenges and backup codes (operator recovery: its owner lost their
/// authenticator). The API token stays: scripts do not use the second factor. False when no
/// account has `id`.
pub fn disable_2fa_ending_browser_sessions(conn: &mut DbConn, id: &str) -> Result<bool, StoreError> {
    write_tx(conn, |c| {
        let off =
            (auth::secret.eq(None::<String>), auth::is_2fa_enabled.eq(false), auth::totp_last_step.eq(None::<i64>));
        let changed = diesel::update(auth::table.find(id)).set(off).execute(c)?;
        let browser = SessionKind::Session.as_str();
        diesel::delete(session::table.filter(session::auth_id.eq(id)).filter(session::kind.eq(browser))).execute(c)?;
        diesel::delete(login_challenge::table.filter(login_challenge::auth_id.eq(id))).execute(c)?;
        diesel::delete(backup_code::table.filter(backup_code::auth_id.eq(id))).execute(c)?;
        Ok(changed == 1)
    })
}
