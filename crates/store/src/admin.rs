//! The single admin account.

use diesel::prelude::*;

use crate::auth::NewAuth;
use crate::schema::{admin, auth};
use crate::{DbConn, StoreError, write_tx};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = admin)]
pub struct AdminRow {
    pub admin_id: String,
    pub auth_id: String,
    pub created_at: String,
}

pub fn exists(conn: &mut DbConn) -> Result<bool, StoreError> {
    Ok(first(conn)?.is_some())
}

/// Inserts the auth row and the admin row in one transaction. A second admin fails with
/// `UniqueViolation(ADMIN)` (the database allows one, even under races), a taken email with
/// `UniqueViolation(EMAIL)`; either way nothing is written.
pub fn create(conn: &mut DbConn, new: NewAuth<'_>, admin_id: &str, created_at: &str) -> Result<(), StoreError> {
    write_tx(conn, |conn| {
        diesel::insert_into(auth::table).values(new).execute(conn)?;
        diesel::insert_into(admin::table)
            .values((admin::admin_id.eq(admin_id), admin::auth_id.eq(new.id), admin::created_at.eq(created_at)))
            .execute(conn)?;
        Ok(())
    })
}

pub fn find_by_auth(conn: &mut DbConn, auth_id: &str) -> Result<Option<AdminRow>, StoreError> {
    Ok(admin::table.filter(admin::auth_id.eq(auth_id)).select(admin::all_columns).get_result(conn).optional()?)
}

pub fn first(conn: &mut DbConn) -> Result<Option<AdminRow>, StoreError> {
    Ok(admin::table.select(admin::all_columns).get_result(conn).optional()?)
}
