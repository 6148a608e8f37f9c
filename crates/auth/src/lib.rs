//! Dokploy's `auth` router: accounts, sessions and API tokens, TOTP two-factor login,
//! invitations and throttling, over the store, registered on the wire layer.

mod bounded;
mod config;
mod cpu;
mod device;
mod dummy;
mod ids;
mod io;
mod password;
mod procedures;
mod purge;
mod sealed;
mod service;
mod sessions;
mod throttle;
mod tokens;
mod totp;
mod workers;

pub use config::AuthConfig;
pub use device::DEVICE_COOKIE;
pub use io::Invitation;
pub use procedures::register;
pub use purge::{Purged, maintain};
pub use sealed::seal_stored_secrets;
pub use sessions::{CHALLENGE_COOKIE, SESSION_COOKIE};
pub use tokens::{Claims, MAX_TOKEN_CHARS, RootKey, TokenKind};
pub use totp::code_at as totp_code_at;

use gateway_store::Store;

pub struct AuthService {
    store: workers::Database,
    config: AuthConfig,
    root_key: RootKey,
    /// Verified for unknown emails so that they cost what a wrong password costs.
    dummies: dummy::DummyHashes,
    cpu: cpu::CpuPool,
    verified: tokens::VerifiedTokens,
    found_sessions: sessions::FoundSessions,
    throttle: throttle::Throttle,
    devices: device::DeviceKey,
    sealer: sealed::Sealer,
}

impl AuthService {
    /// Computes the dummy hash (one bcrypt at the configured cost): call off the async workers.
    pub fn new(store: Store, config: AuthConfig, root_key: RootKey) -> Self {
        let dummies = dummy::DummyHashes::new(&root_key, config.bcrypt_cost);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (cpu, verified) = (cpu::CpuPool::new(cores), tokens::VerifiedTokens::default());
        let found_sessions = Default::default();
        let store = workers::Database::new(store);
        let (throttle, devices) = (throttle::Throttle::new(config.clone()), device::DeviceKey::new(&root_key));
        let sealer = sealed::Sealer::new(&root_key);
        Self { store, config, root_key, dummies, cpu, verified, found_sessions, throttle, devices, sealer }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Reads which password costs the accounts use, for the dummy hashes of unknown emails
    /// (at start and periodically). Blocking: call off the async workers.
    pub fn refresh_dummy_hashes(&self) -> Result<(), gateway_store::StoreError> {
        let counts = self.store.run(gateway_store::auth::password_costs)?;
        self.dummies.update(&counts);
        Ok(())
    }
}
