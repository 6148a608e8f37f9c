//! `auth-gateway import dokploy`: a Dokploy installation (the lucia-based releases) moves
//! over with its accounts, bcrypt hashes, TOTP secrets, invitations, sessions and API
//! tokens, so that nobody has to sign in again. All or nothing, and a second run changes
//! nothing. Secrets are stored the gateway's way: TOTP secrets and API tokens sealed,
//! invitation tokens and lucia ids hashed.

use std::collections::BTreeMap;
use std::fmt;

use gateway_store::Store;
use gateway_store::admin::AdminRow;
use gateway_store::auth::{self, AuthRow, Role};
use gateway_store::dokploy::{self, DokployAuth, DokployData};
use gateway_store::import::{self, ImportedAccount, Written};
use gateway_store::invitation::InvitationRow;
use gateway_store::session::{SessionKind, SessionRow};

use crate::ids::{iso, now_iso, unix_now};
use crate::legacy::legacy_row_id;
use crate::password;
use crate::sealed::{Column, Sealer, invitation_hash};
use crate::tokens::RootKey;
use crate::totp;

/// What an import found, and what it wrote or would write.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub found: Found,
    /// Groups of account ids whose emails are the same once lowercased.
    pub collisions: Vec<Vec<String>>,
    /// `None` when nothing was attempted (collisions).
    pub written: Option<Written>,
    pub dry_run: bool,
}

/// Counts of what the Dokploy database holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub accounts: usize,
    pub admins: usize,
    pub registered_users: usize,
    pub pending_invitations: usize,
    pub expired_invitations: usize,
    pub with_2fa: usize,
    pub sessions: usize,
    pub api_tokens: usize,
    /// Sessions and API tokens already expired: not imported.
    pub expired_sessions: usize,
}

impl ImportReport {
    /// Whether the import was refused (collisions, or conflicts with the store's accounts).
    pub fn refused(&self) -> bool {
        !self.collisions.is_empty() || self.written.as_ref().is_some_and(Written::has_conflicts)
    }
}

/// Reads the Dokploy database at `source_url` and stores its accounts in `store`, unless
/// `dry_run`. Blocking (bcrypt for invitation placeholders, database calls).
pub fn import_dokploy(
    store: &Store,
    root: &RootKey,
    source_url: &str,
    bcrypt_cost: u32,
    dry_run: bool,
) -> Result<ImportReport, String> {
    let sealer = Sealer::new(root);
    check_key(store, &sealer)?;
    let data = dokploy::read(source_url).map_err(|e| format!("reading the Dokploy database: {e}"))?;
    let now = unix_now();
    let mut report = ImportReport {
        found: count(&data, now),
        collisions: collisions(&data.accounts),
        dry_run,
        ..Default::default()
    };
    if !report.collisions.is_empty() {
        return Ok(report);
    }
    let accounts = plan(&data, &sealer, bcrypt_cost, now)?;
    let written =
        store.run(|c| import::write(c, &accounts, !dry_run)).map_err(|e| format!("writing the import: {e}"))?;
    report.written = Some(written);
    Ok(report)
}

/// Refuses a root key other than the one the store's secrets are sealed with: the imported
/// secrets would be sealed with it, and the gateway could not open them.
fn check_key(store: &Store, sealer: &Sealer) -> Result<(), String> {
    let sealed = store.run(auth::with_secrets).map_err(|e| format!("reading the gateway's store: {e}"))?;
    let opens = |(id, secret, token): &auth::Secrets| {
        let opens =
            |column, value: &Option<String>| value.as_deref().is_none_or(|v| sealer.open(column, id, v).is_some());
        opens(Column::TotpSecret, secret) && opens(Column::ApiToken, token)
    };
    match sealed.iter().find(|s| !opens(s)) {
        Some(_) => Err("the root key is not the one this store's secrets are sealed with: give the import the settings the gateway serves with (--data-dir or --root-key)".into()),
        None => Ok(()),
    }
}

fn count(data: &DokployData, now: i64) -> Found {
    let tokens: Vec<&str> = data.accounts.iter().filter_map(|a| a.token.as_deref()).collect();
    let live = |s: &&dokploy::DokploySession| s.expires_at > now;
    let pending = data.users.iter().filter(|u| !u.is_registered);
    Found {
        accounts: data.accounts.len(),
        admins: data.admins.len(),
        registered_users: data.users.iter().filter(|u| u.is_registered).count(),
        pending_invitations: pending.clone().count(),
        expired_invitations: pending.filter(|u| u.expires_at <= now).count(),
        with_2fa: data.accounts.iter().filter(|a| a.is_2fa_enabled && a.secret.is_some()).count(),
        sessions: data.sessions.iter().filter(live).filter(|s| !tokens.contains(&s.id.as_str())).count(),
        api_tokens: data.sessions.iter().filter(live).filter(|s| tokens.contains(&s.id.as_str())).count(),
        expired_sessions: data.sessions.iter().filter(|s| s.expires_at <= now).count(),
    }
}

/// Accounts whose emails differ only in case: the gateway's emails are unique once
/// lowercased, and which of them is the real one is for a person to decide.
fn collisions(accounts: &[DokployAuth]) -> Vec<Vec<String>> {
    let mut by_email: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in accounts {
        by_email.entry(a.email.trim().to_lowercase()).or_default().push(a.id.clone());
    }
    by_email.into_values().filter(|ids| ids.len() > 1).collect()
}

/// The rows to store, admins first (invitations refer to them).
fn plan(data: &DokployData, sealer: &Sealer, bcrypt_cost: u32, now: i64) -> Result<Vec<ImportedAccount>, String> {
    if data.admins.len() > 1 {
        return Err(format!("the Dokploy database has {} admins; the gateway serves one", data.admins.len()));
    }
    let mut accounts = Vec::with_capacity(data.accounts.len());
    for a in &data.accounts {
        let admin = data.admins.iter().find(|ad| ad.auth_id == a.id);
        let user = data.users.iter().find(|u| u.auth_id == a.id);
        let rol = Role::try_from(a.rol.clone()).map_err(|_| format!("account {} has an unknown role", a.id))?;
        // The gateway's admin is the account with role admin, and it has the admin row.
        if (rol == Role::Admin) != admin.is_some() {
            return Err(format!("account {}: its role and Dokploy's admin table disagree", a.id));
        }
        // Dokploy gives an invited account a fixed, publicly known password until the
        // invitation is used: the gateway gives it one nobody knows.
        let pending = user.is_some_and(|u| !u.is_registered);
        let password = if pending { password::unusable(bcrypt_cost) } else { password::mark_truncating(&a.password) };
        let secret = a.secret.as_deref().filter(|_| a.is_2fa_enabled);
        if secret.is_some_and(|s| totp::secret_bytes(s).is_none()) {
            return Err(format!("account {} has 2FA on with a secret that is not base32", a.id));
        }
        let live_token = a.token.as_deref().filter(|t| data.sessions.iter().any(|s| s.id == *t && s.expires_at > now));
        let sessions = data
            .sessions
            .iter()
            .filter(|s| s.auth_id == a.id && s.expires_at > now)
            .map(|s| SessionRow {
                id: legacy_row_id(&s.id),
                auth_id: a.id.clone(),
                kind: if Some(s.id.as_str()) == live_token { SessionKind::ApiToken } else { SessionKind::Session },
                expires_at: s.expires_at,
                created_at: now_iso(),
            })
            .collect();
        accounts.push(ImportedAccount {
            auth: AuthRow {
                id: a.id.clone(),
                email: a.email.trim().to_lowercase(),
                password,
                rol,
                image: a.image.clone(),
                secret: secret.map(|s| sealer.seal(Column::TotpSecret, &a.id, &s.trim().to_ascii_uppercase())),
                token: live_token.map(|t| sealer.seal(Column::ApiToken, &a.id, t)),
                is_2fa_enabled: secret.is_some(),
                created_at: a.created_at.clone(),
                totp_last_step: None,
            },
            admin: admin.map(|ad| AdminRow {
                admin_id: ad.admin_id.clone(),
                auth_id: a.id.clone(),
                created_at: ad.created_at.clone(),
            }),
            invitation: user.map(|u| InvitationRow {
                user_id: u.user_id.clone(),
                auth_id: a.id.clone(),
                admin_id: u.admin_id.clone(),
                token: invitation_hash(&u.token),
                is_registered: u.is_registered,
                expiration_date: iso(u.expires_at),
                created_at: u.created_at.clone(),
            }),
            sessions,
        });
    }
    accounts.sort_by_key(|a| a.admin.is_none());
    Ok(accounts)
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = &self.found;
        writeln!(
            f,
            "Dokploy database: {} accounts ({} admin, {} registered users, {} with 2FA), {} invitations pending ({} of them expired), {} sessions and {} API tokens live, {} expired sessions and tokens (not imported).",
            n.accounts,
            n.admins,
            n.registered_users,
            n.with_2fa,
            n.pending_invitations,
            n.expired_invitations,
            n.sessions,
            n.api_tokens,
            n.expired_sessions
        )?;
        for ids in &self.collisions {
            writeln!(f, "Refused: accounts {} have the same email once lowercased.", ids.join(", "))?;
        }
        if !self.collisions.is_empty() {
            return writeln!(
                f,
                "Nothing was imported. Give each of these accounts its own email in Dokploy (or delete one), then run the import again."
            );
        }
        let Some(w) = &self.written else { return Ok(()) };
        for id in &w.email_taken {
            writeln!(f, "Refused: account {id} has the email of another account of the gateway.")?;
        }
        if let Some(id) = &w.admin_taken {
            writeln!(f, "Refused: admin account {id}, since the gateway has an admin already.")?;
        }
        if w.has_conflicts() {
            return writeln!(f, "Nothing was imported.");
        }
        let verb = if self.dry_run { "Would import" } else { "Imported" };
        if w.accounts == 0 {
            writeln!(f, "Nothing to do: all {} accounts are in the gateway already.", w.already_present)?;
        } else {
            writeln!(
                f,
                "{verb}: {} accounts, {} admin, {} invitations, {} sessions, {} API tokens; {} accounts were in the gateway already (left as they are).",
                w.accounts, w.admins, w.invitations, w.sessions, w.api_tokens, w.already_present
            )?;
        }
        if self.dry_run {
            writeln!(f, "Dry run: nothing was written.")?;
        }
        writeln!(
            f,
            "Passwords: kept as bcrypt hashes. One longer than 72 bytes cannot be told from its hash: it logs in once checked as Dokploy did (its first 72 bytes), then is rehashed in full."
        )
    }
}
