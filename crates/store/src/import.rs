//! Writing accounts imported from another system (see `dokploy.rs`): all in one
//! transaction, and an account already in the store is left as it is, with its sessions.

use diesel::prelude::*;

use crate::admin::AdminRow;
use crate::auth::AuthRow;
use crate::invitation::InvitationRow;
use crate::schema::{admin, auth, session, user};
use crate::session::{SessionKind, SessionRow};
use crate::{DbConn, StoreError, write_tx};

/// One account and what comes with it, ready to store.
#[derive(Debug, Clone)]
pub struct ImportedAccount {
    pub auth: AuthRow,
    pub admin: Option<AdminRow>,
    pub invitation: Option<InvitationRow>,
    pub sessions: Vec<SessionRow>,
}

/// What [`write`] stored, or would store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub accounts: usize,
    /// Accounts already in the store (an earlier import): left as they are.
    pub already_present: usize,
    pub admins: usize,
    pub invitations: usize,
    pub sessions: usize,
    pub api_tokens: usize,
    /// Ids of accounts whose email another account of the store has.
    pub email_taken: Vec<String>,
    /// The id of an admin account refused because the store has an admin already.
    pub admin_taken: Option<String>,
}

impl Written {
    pub fn has_conflicts(&self) -> bool {
        !self.email_taken.is_empty() || self.admin_taken.is_some()
    }
}

/// Why a write was rolled back without a database error.
enum Abort {
    Rollback,
    Failed(StoreError),
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Abort::Failed(e.into())
    }
}

/// Stores `accounts` in one transaction, committed only when `commit` is set and nothing
/// conflicts (see [`Written::has_conflicts`]); otherwise nothing is written, and the answer
/// says what would have been.
pub fn write(conn: &mut DbConn, accounts: &[ImportedAccount], commit: bool) -> Result<Written, StoreError> {
    let mut written = Written::default();
    let outcome = write_tx(conn, |c| {
        for account in accounts {
            insert_account(c, account, &mut written)?;
        }
        if commit && !written.has_conflicts() { Ok(()) } else { Err(Abort::Rollback) }
    });
    match outcome {
        Ok(()) | Err(Abort::Rollback) => Ok(written),
        Err(Abort::Failed(e)) => Err(e),
    }
}

fn insert_account(c: &mut DbConn, account: &ImportedAccount, written: &mut Written) -> Result<(), Abort> {
    let row = &account.auth;
    let present: i64 = auth::table.find(&row.id).count().get_result(c)?;
    if present > 0 {
        written.already_present += 1;
        return Ok(());
    }
    let taken: i64 = auth::table.filter(auth::email.eq(&row.email)).count().get_result(c)?;
    if taken > 0 {
        written.email_taken.push(row.id.clone());
        return Ok(());
    }
    if account.admin.is_some() {
        let admins: i64 = admin::table.count().get_result(c)?;
        if admins > 0 {
            written.admin_taken = Some(row.id.clone());
            return Ok(());
        }
    }
    diesel::insert_into(auth::table).values(row.clone()).execute(c)?;
    written.accounts += 1;
    if let Some(admin) = &account.admin {
        diesel::insert_into(admin::table).values(admin.clone()).execute(c)?;
        written.admins += 1;
    }
    if let Some(invitation) = &account.invitation {
        // Its admin is missing only when the store's own admin was kept (a conflict: the
        // transaction rolls back), and the report should say so rather than fail here.
        let admin_there: i64 = admin::table.find(&invitation.admin_id).count().get_result(c)?;
        if admin_there > 0 {
            diesel::insert_into(user::table).values(invitation.clone()).execute(c)?;
            written.invitations += 1;
        }
    }
    for s in &account.sessions {
        diesel::insert_into(session::table).values(s.clone()).execute(c)?;
        match s.kind {
            SessionKind::Session => written.sessions += 1,
            SessionKind::ApiToken => written.api_tokens += 1,
        }
    }
    Ok(())
}
