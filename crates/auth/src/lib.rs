//! Dokploy's `auth` router: accounts, sessions and API tokens, TOTP two-factor login,
//! invitations and throttling, over the store, registered on the wire layer.
//!
//! One file per feature: each holds its procedures' methods on [`AuthService`] with their
//! input and output types; `procedures.rs` is the table that names them on the wire.

#[macro_use]
mod audit;

mod account;
mod api_tokens;
mod backup_codes;
mod bootstrap;
mod cache;
mod config;
mod device;
mod dummy;
mod error;
mod identity;
mod ids;
mod import;
mod invitations;
mod legacy;
mod login;
mod login_outcomes;
mod operator;
mod password;
mod password_pool;
mod procedures;
mod profile;
mod purge;
mod sealed;
mod session_list;
mod sessions;
mod throttle;
mod token_keys;
mod tokens;
mod totp;
mod two_factor;
mod upstream_identity;

pub use backup_codes::BackupCodeKey;
pub use cache::CACHE_LOOKUPS;
pub use config::AuthConfig;
pub use device::DEVICE_COOKIE;
pub use error::AuthError;
pub use import::{ImportReport, import_dokploy};
pub use invitations::Invitation;
pub use legacy::legacy_session_id;
pub use login_outcomes::LOGINS;
pub use password_pool::{PASSWORD_QUEUE_DEPTH, PASSWORD_WAIT};
pub use procedures::register;
pub use purge::{Purged, maintain};
pub use sealed::seal_stored_secrets;
pub use sessions::{CHALLENGE_COOKIE, SESSION_COOKIE};
pub use token_keys::TokenKeys;
pub use tokens::{Claims, MAX_TOKEN_CHARS, RootKey};
pub use totp::code_at as totp_code_at;
pub use upstream_identity::UpstreamIdentity;

use gateway_store::{AsyncStore, Store, StoreError};

pub struct AuthService {
    store: AsyncStore,
    config: AuthConfig,
    token_keys: TokenKeys,
    /// Verified for unknown emails so that they cost what a wrong password costs.
    dummies: dummy::DummyHashes,
    passwords: password_pool::PasswordPool,
    token_cache: tokens::TokenCache,
    session_cache: identity::SessionCache,
    throttle: throttle::Throttle,
    devices: device::DeviceKey,
    sealer: sealed::Sealer,
    backup_codes: backup_codes::BackupCodeKey,
    legacy_presence: legacy::LegacyPresence,
}

impl AuthService {
    /// Computes the dummy hash (one bcrypt at the configured cost): call off the async workers.
    /// Keys for secrets at rest, device cookies and backup codes come from `root_key`.
    pub fn new(store: Store, config: AuthConfig, root_key: &RootKey, token_keys: TokenKeys) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        AuthService {
            store: AsyncStore::new(store),
            dummies: dummy::DummyHashes::new(root_key, config.bcrypt_cost),
            passwords: password_pool::PasswordPool::new(cores),
            token_cache: Default::default(),
            session_cache: Default::default(),
            throttle: throttle::Throttle::new(config.clone()),
            devices: device::DeviceKey::new(root_key),
            sealer: sealed::Sealer::new(root_key),
            backup_codes: backup_codes::BackupCodeKey::new(root_key),
            legacy_presence: Default::default(),
            config,
            token_keys,
        }
    }

    pub fn store(&self) -> &Store {
        self.store.blocking()
    }

    /// Reads which password costs the accounts use, for the dummy hashes of unknown emails
    /// (at start and periodically). Blocking: call off the async workers.
    pub fn refresh_dummy_hashes(&self) -> Result<(), StoreError> {
        let counts = self.store.blocking().run(gateway_store::auth::password_costs)?;
        self.dummies.update(&counts);
        Ok(())
    }
}
