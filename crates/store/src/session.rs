//! Sessions and API tokens: one row each, so either can be revoked.

use diesel::prelude::*;

use crate::auth::AuthRow;
use crate::schema::{auth, auth_epoch, backup_code, login_challenge, session, session_activity};
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

/// What checking a credential needs of its session.
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

/// Where a session was made, for its owner to recognise it: the client's User-Agent (as
/// the wire layer cleaned and bounded it) and address. Unknown for imported sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Insertable)]
#[diesel(table_name = session)]
pub struct SessionOrigin {
    pub user_agent: Option<String>,
    pub client_address: Option<String>,
}

/// A session to store: its row and where it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub row: SessionRow,
    pub origin: SessionOrigin,
}

impl NewSession {
    /// The values of its insert.
    fn values(&self) -> (SessionRow, SessionOrigin) {
        (self.row.clone(), self.origin.clone())
    }
}

impl From<SessionRow> for NewSession {
    fn from(row: SessionRow) -> Self {
        NewSession { row, origin: SessionOrigin::default() }
    }
}

/// A session as its account's owner sees it listed.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct SessionListing {
    pub id: String,
    #[diesel(deserialize_as = String)]
    pub kind: SessionKind,
    /// Unix seconds.
    pub expires_at: i64,
    pub created_at: String,
    pub user_agent: Option<String>,
    pub client_address: Option<String>,
    /// Unix seconds; `None` when no use was recorded since it was made.
    pub last_used_at: Option<i64>,
}

pub fn insert(conn: &mut DbConn, new: &NewSession) -> Result<(), StoreError> {
    diesel::insert_into(session::table).values(new.values()).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<Option<SessionRow>, StoreError> {
    Ok(session::table.find(id).select(SessionRow::as_select()).get_result(conn).optional()?)
}

/// A session found with what goes with it, read in one query (one snapshot).
pub type SessionWithAuth = (SessionRow, AuthRow, Option<i64>, Option<i64>);

/// The session, its account, its last recorded use and the auth epoch, in one query (one
/// snapshot): the lookup behind an authenticated call whose answer is not cached yet.
///
/// It runs on the backend's own connection, where diesel keys its prepared statement by
/// the query's type; through the `DbConn` enum it writes the SQL out again on every call,
/// which cost more than the lookup. The epoch is a join on its one row, not a
/// `single_value` subquery, which would bind a `LIMIT` (see [`DbConn`]).
pub fn find_with_auth(conn: &mut DbConn, id: &str) -> Result<Option<SessionWithAuth>, StoreError> {
    // (A macro: the selection's type names its backend.)
    macro_rules! query {
        () => {
            session::table
                .inner_join(auth::table)
                .left_join(session_activity::table)
                .left_join(auth_epoch::table.on(auth_epoch::id.eq(1)))
                .filter(session::id.eq(id))
                .select((
                    SessionRow::as_select(),
                    auth::all_columns,
                    session_activity::last_used_at.nullable(),
                    auth_epoch::n.nullable(),
                ))
        };
    }
    Ok(match conn {
        DbConn::Postgres(c) => query!().get_result(c),
        DbConn::Sqlite(c) => query!().get_result(c),
    }
    .optional()?)
}

/// Records that session `id` was used at `at` (unix seconds). Its own table: this moves no
/// auth epoch. Nothing when the session is gone.
pub fn touch(conn: &mut DbConn, id: &str, at: i64) -> Result<(), StoreError> {
    use diesel::sql_types::BigInt;
    let moved =
        diesel::update(session_activity::table.find(id)).set(session_activity::last_used_at.eq(at)).execute(conn)?;
    if moved == 0 {
        // Taken from the session row itself, so a session ended meanwhile adds nothing.
        let live = session::table.filter(session::id.eq(id)).select((session::id, at.into_sql::<BigInt>()));
        diesel::insert_into(session_activity::table)
            .values(live)
            .into_columns((session_activity::session_id, session_activity::last_used_at))
            .execute(conn)?;
    }
    Ok(())
}

/// The account's sessions and API tokens valid at `now` (unix seconds), at most `limit`:
/// `first` (the caller's own, say) and the API token come first, then the newest.
pub fn list_live(
    conn: &mut DbConn,
    auth_id: &str,
    now: i64,
    first: Option<&str>,
    limit: i64,
) -> Result<Vec<SessionListing>, StoreError> {
    Ok(session::table
        .left_join(session_activity::table)
        .filter(session::auth_id.eq(auth_id))
        .filter(session::expires_at.gt(now))
        .order_by((
            session::id.eq(first.unwrap_or_default()).desc(),
            session::kind.eq(SessionKind::ApiToken.as_str()).desc(),
            session::created_at.desc(),
            session::id,
        ))
        .limit(limit)
        .select((
            session::id,
            session::kind,
            session::expires_at,
            session::created_at,
            session::user_agent,
            session::client_address,
            session_activity::last_used_at.nullable(),
        ))
        .load(conn)?)
}

/// Ends the first of the account's sessions whose id `matches`, in one transaction; for
/// its API token, the account's `token` goes too. Returns the session's id and kind;
/// `None`, changing nothing, when no session of the account matches.
pub fn revoke_matching(
    conn: &mut DbConn,
    auth_id: &str,
    matches: impl Fn(&str) -> bool,
) -> Result<Option<(String, SessionKind)>, StoreError> {
    write_tx(conn, |c| {
        let ids: Vec<String> = session::table.filter(session::auth_id.eq(auth_id)).select(session::id).load(c)?;
        let Some(id) = ids.into_iter().find(|id| matches(id)) else {
            return Ok(None);
        };
        let kind: String = diesel::delete(session::table.find(&id)).returning(session::kind).get_result(c)?;
        let kind = SessionKind::try_from(kind)?;
        if kind == SessionKind::ApiToken {
            diesel::update(auth::table.find(auth_id)).set(auth::token.eq(None::<String>)).execute(c)?;
        }
        Ok(Some((id, kind)))
    })
}

/// Ends the account's browser sessions but `keep`, and with `api_token` its API token
/// (and `token`) too, in one transaction. Returns how many ended; `None`, changing
/// nothing, when there is no such account.
pub fn revoke_all(
    conn: &mut DbConn,
    auth_id: &str,
    keep: Option<&str>,
    api_token: bool,
) -> Result<Option<usize>, StoreError> {
    write_tx(conn, |c| {
        let exists: Option<String> = auth::table.find(auth_id).select(auth::id).get_result(c).optional()?;
        if exists.is_none() {
            return Ok(None);
        }
        let mut kinds = vec![SessionKind::Session.as_str()];
        if api_token {
            kinds.push(SessionKind::ApiToken.as_str());
            diesel::update(auth::table.find(auth_id).filter(auth::token.is_not_null()))
                .set(auth::token.eq(None::<String>))
                .execute(c)?;
        }
        let ended = diesel::delete(
            session::table
                .filter(session::auth_id.eq(auth_id))
                .filter(session::kind.eq_any(kinds))
                .filter(session::id.ne(keep.unwrap_or_default())),
        )
        .execute(c)?;
        Ok(Some(ended))
    })
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
    new: &NewSession,
) -> Result<bool, StoreError> {
    write_tx(conn, |c| {
        let ended = diesel::update(session::table.find(old).filter(session::expires_at.eq(read_expiry)))
            .set(session::expires_at.eq(until))
            .execute(c)?;
        if ended == 1 {
            diesel::insert_into(session::table).values(new.values()).execute(c)?;
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
    new: &NewSession,
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
        diesel::insert_into(session::table).values(new.values()).execute(conn)?;
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
