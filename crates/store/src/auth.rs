//! Accounts: email, password hash, role, 2FA and API token.

use diesel::prelude::*;

use crate::schema::{auth, login_challenge, session};
use crate::{DbConn, StoreError, write_tx};

text_enum! {
    /// An account's role (Dokploy's `rol` column).
    pub enum Role as "role" {
        Admin = "admin",
        User = "user",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = auth)]
pub struct AuthRow {
    pub id: String,
    pub email: String,
    pub password: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub rol: Role,
    pub image: Option<String>,
    pub secret: Option<String>,
    pub token: Option<String>,
    pub is_2fa_enabled: bool,
    pub created_at: String,
    pub totp_last_step: Option<i64>,
}

#[derive(Debug, Clone, Copy, Insertable)]
#[diesel(table_name = auth)]
pub struct NewAuth<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    #[diesel(serialize_as = String)]
    pub rol: Role,
    pub image: Option<&'a str>,
    pub created_at: &'a str,
}

/// Fields to change; `None` leaves a field as it is, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = auth)]
pub struct AuthChanges {
    pub email: Option<String>,
    pub password: Option<String>,
    pub image: Option<String>,
    pub secret: Option<Option<String>>,
    pub token: Option<Option<String>>,
    pub is_2fa_enabled: Option<bool>,
}

impl AuthChanges {
    fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.password.is_none()
            && self.image.is_none()
            && self.secret.is_none()
            && self.token.is_none()
            && self.is_2fa_enabled.is_none()
    }
}

pub fn find_by_id(conn: &mut DbConn, id: &str) -> Result<Option<AuthRow>, StoreError> {
    Ok(auth::table.find(id).select(auth::all_columns).get_result(conn).optional()?)
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> Result<Option<AuthRow>, StoreError> {
    Ok(auth::table.filter(auth::email.eq(email)).select(auth::all_columns).get_result(conn).optional()?)
}

/// The row after the update, `None` if there is no such id. A taken email is
/// `UniqueViolation(EMAIL)`.
pub fn update(conn: &mut DbConn, id: &str, changes: &AuthChanges) -> Result<Option<AuthRow>, StoreError> {
    // diesel refuses an empty SET.
    if changes.is_empty() {
        return find_by_id(conn, id);
    }
    Ok(diesel::update(auth::table.find(id)).set(changes).returning(auth::all_columns).get_result(conn).optional()?)
}

/// Applies `changes` like [`update`]; when they set a new password, the same transaction
/// revokes every session of the account but `keep`, its API token (`changes.token` should
/// clear the column) and its pending 2FA challenges: no request sees the new password with
/// an old session still valid.
pub fn update_revoking(
    conn: &mut DbConn,
    id: &str,
    changes: &AuthChanges,
    keep: Option<&str>,
) -> Result<Option<AuthRow>, StoreError> {
    if changes.password.is_none() {
        return update(conn, id, changes);
    }
    write_tx(conn, |c| {
        let row: Option<AuthRow> =
            diesel::update(auth::table.find(id)).set(changes).returning(auth::all_columns).get_result(c).optional()?;
        if row.is_some() {
            let sessions = session::table.filter(session::auth_id.eq(id));
            match keep {
                Some(keep) => diesel::delete(sessions.filter(session::id.ne(keep))).execute(c)?,
                None => diesel::delete(sessions).execute(c)?,
            };
            diesel::delete(login_challenge::table.filter(login_challenge::auth_id.eq(id))).execute(c)?;
        }
        Ok(row)
    })
}

/// Records `step` as the last accepted TOTP step unless that step (or a later one) was already
/// used. One conditional UPDATE, so of two racing uses of a pin only one wins.
pub fn accept_totp_step(conn: &mut DbConn, id: &str, step: i64) -> Result<bool, StoreError> {
    let changed =
        diesel::update(auth::table.find(id).filter(auth::totp_last_step.is_null().or(auth::totp_last_step.lt(step))))
            .set(auth::totp_last_step.eq(step))
            .execute(conn)?;
    Ok(changed == 1)
}

/// An account's id, TOTP secret and API token, as stored.
pub type Secrets = (String, Option<String>, Option<String>);

/// The secrets of every account that has a TOTP secret or an API token.
pub fn with_secrets(conn: &mut DbConn) -> Result<Vec<Secrets>, StoreError> {
    Ok(auth::table
        .filter(auth::secret.is_not_null().or(auth::token.is_not_null()))
        .select((auth::id, auth::secret, auth::token))
        .load(conn)?)
}

/// How many accounts have a password hash of each bcrypt cost (`"10"`, say: the two digits
/// after `$2b$`, counted from the end of the 60-character hash, which a marker may precede).
pub fn password_costs(conn: &mut DbConn) -> Result<Vec<(String, i64)>, StoreError> {
    #[derive(QueryableByName)]
    struct Cost {
        #[diesel(sql_type = diesel::sql_types::Text)]
        cost: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Vec<Cost> = diesel::sql_query(
        "SELECT substr(password, length(password) - 55, 2) AS cost, count(*) AS n FROM auth \
         GROUP BY substr(password, length(password) - 55, 2)",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.cost, r.n)).collect())
}

/// Replaces the password hash `old` with `new` (the same password, hashed anew), unless it
/// changed meanwhile; returns whether it did.
pub fn rehash_password(conn: &mut DbConn, id: &str, old: &str, new: &str) -> Result<bool, StoreError> {
    let changed = diesel::update(auth::table.find(id).filter(auth::password.eq(old)))
        .set(auth::password.eq(new))
        .execute(conn)?;
    Ok(changed == 1)
}

pub fn count(conn: &mut DbConn) -> Result<i64, StoreError> {
    Ok(auth::table.count().get_result(conn)?)
}

/// Deletes an account; sessions, challenges, admin and invitation rows go with it (cascade).
pub fn delete(conn: &mut DbConn, id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(auth::table.find(id)).execute(conn)? == 1)
}
