//! Reading a Dokploy database (the lucia-based releases, up to v0.18): the rows the gateway
//! imports, as Dokploy's drizzle schema stores them. Read-only, in one snapshot.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use crate::StoreError;

/// A row of Dokploy's `auth` table.
#[derive(Debug, Clone, QueryableByName)]
pub struct DokployAuth {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Text)]
    pub password: String,
    #[diesel(sql_type = Text)]
    pub rol: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub image: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub secret: Option<String>,
    /// The API token: the id of a lucia session of 365 days.
    #[diesel(sql_type = Nullable<Text>)]
    pub token: Option<String>,
    #[diesel(sql_type = Bool)]
    pub is_2fa_enabled: bool,
    #[diesel(sql_type = Text)]
    pub created_at: String,
}

/// A row of Dokploy's `admin` table (the columns the gateway keeps).
#[derive(Debug, Clone, QueryableByName)]
pub struct DokployAdmin {
    #[diesel(sql_type = Text)]
    pub admin_id: String,
    #[diesel(sql_type = Text)]
    pub auth_id: String,
    #[diesel(sql_type = Text)]
    pub created_at: String,
}

/// A row of Dokploy's `user` table: an invitation, used or not.
#[derive(Debug, Clone, QueryableByName)]
pub struct DokployUser {
    #[diesel(sql_type = Text)]
    pub user_id: String,
    #[diesel(sql_type = Text)]
    pub auth_id: String,
    #[diesel(sql_type = Text)]
    pub admin_id: String,
    #[diesel(sql_type = Text)]
    pub token: String,
    #[diesel(sql_type = Bool)]
    pub is_registered: bool,
    /// Unix seconds (Dokploy stores UTC in a `timestamp` without zone).
    #[diesel(sql_type = BigInt)]
    pub expires_at: i64,
    #[diesel(sql_type = Text)]
    pub created_at: String,
}

/// A row of lucia's `session` table: browser sessions and API tokens alike.
#[derive(Debug, Clone, QueryableByName)]
pub struct DokploySession {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub auth_id: String,
    /// Unix seconds.
    #[diesel(sql_type = BigInt)]
    pub expires_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct DokployData {
    pub accounts: Vec<DokployAuth>,
    pub admins: Vec<DokployAdmin>,
    pub users: Vec<DokployUser>,
    pub sessions: Vec<DokploySession>,
}

/// Reads the accounts, admins, invitations and sessions of the Dokploy database at `url`
/// (PostgreSQL), in one read-only snapshot, ordered by id.
pub fn read(url: &str) -> Result<DokployData, StoreError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::Database("a Dokploy database is a postgres:// URL".into()));
    }
    let mut conn = PgConnection::establish(url)?;
    conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    let accounts = diesel::sql_query(
        r#"SELECT id, email, password, rol::text AS rol, image, secret, token,
                  "is2FAEnabled" AS is_2fa_enabled, "createdAt" AS created_at
           FROM auth ORDER BY id"#,
    )
    .load(&mut conn)?;
    let admins = diesel::sql_query(
        r#"SELECT "adminId" AS admin_id, "authId" AS auth_id, "createdAt" AS created_at FROM admin ORDER BY "adminId""#,
    )
    .load(&mut conn)?;
    let users = diesel::sql_query(
        r#"SELECT "userId" AS user_id, "authId" AS auth_id, "adminId" AS admin_id, token,
                  "isRegistered" AS is_registered,
                  extract(epoch FROM "expirationDate")::bigint AS expires_at, "createdAt" AS created_at
           FROM "user" ORDER BY "userId""#,
    )
    .load(&mut conn)?;
    let sessions = diesel::sql_query(
        "SELECT id, user_id AS auth_id, extract(epoch FROM expires_at)::bigint AS expires_at FROM session ORDER BY id",
    )
    .load(&mut conn)?;
    conn.batch_execute("COMMIT")?;
    Ok(DokployData { accounts, admins, users, sessions })
}
