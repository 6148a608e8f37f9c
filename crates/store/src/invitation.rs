//! Invited users (Dokploy's `user` table): an auth row plus an invitation token.

use diesel::prelude::*;

use crate::auth::NewAuth;
use crate::schema::{auth, user};
use crate::{DbConn, StoreError, write_tx};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = user)]
pub struct InvitationRow {
    pub user_id: String,
    pub auth_id: String,
    pub admin_id: String,
    pub token: String,
    pub is_registered: bool,
    /// ISO-8601 UTC (`2026-11-27T10:00:00.000Z`): compares as text.
    pub expiration_date: String,
    pub created_at: String,
}

/// Inserts the invited account and its invitation in one transaction. The caller gives the
/// account role `user` and a password no login can match. A taken email is
/// `UniqueViolation(EMAIL)`.
pub fn create(
    conn: &mut DbConn,
    new: NewAuth<'_>,
    user_id: &str,
    admin_id: &str,
    token: &str,
    expiration_date: &str,
    created_at: &str,
) -> Result<(), StoreError> {
    write_tx(conn, |conn| {
        diesel::insert_into(auth::table).values(new).execute(conn)?;
        diesel::insert_into(user::table)
            .values((
                user::user_id.eq(user_id),
                user::auth_id.eq(new.id),
                user::admin_id.eq(admin_id),
                user::token.eq(token),
                user::is_registered.eq(false),
                user::expiration_date.eq(expiration_date),
                user::created_at.eq(created_at),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// The invitation and the invited email, by the token as stored (its hash).
pub fn find_by_token(conn: &mut DbConn, token: &str) -> Result<Option<(InvitationRow, String)>, StoreError> {
    Ok(user::table
        .inner_join(auth::table)
        .filter(user::token.eq(token))
        .select((user::all_columns, auth::email))
        .get_result(conn)
        .optional()?)
}

/// Marks the invitation registered and sets the account's password, if the invitation is for
/// `auth_id`, unused and not expired at `now_iso`. The conditional UPDATE decides: of two
/// concurrent redeems exactly one returns true.
pub fn redeem(
    conn: &mut DbConn,
    token: &str,
    auth_id: &str,
    now_iso: &str,
    new_password_hash: &str,
) -> Result<bool, StoreError> {
    write_tx(conn, |conn| {
        let claimed = diesel::update(
            user::table
                .filter(user::token.eq(token))
                .filter(user::auth_id.eq(auth_id))
                .filter(user::is_registered.eq(false))
                .filter(user::expiration_date.gt(now_iso)),
        )
        .set(user::is_registered.eq(true))
        .execute(conn)?;
        if claimed != 1 {
            return Ok(false);
        }
        diesel::update(auth::table.find(auth_id)).set(auth::password.eq(new_password_hash)).execute(conn)?;
        Ok(true)
    })
}

/// `(userId, token)` of every invitation.
pub fn tokens(conn: &mut DbConn) -> Result<Vec<(String, String)>, StoreError> {
    Ok(user::table.select((user::user_id, user::token)).load(conn)?)
}

/// Replaces an invitation's stored token (by its `userId`).
pub fn set_token(conn: &mut DbConn, user_id: &str, token: &str) -> Result<(), StoreError> {
    diesel::update(user::table.find(user_id)).set(user::token.eq(token)).execute(conn)?;
    Ok(())
}
