use std::time::Duration;

/// Lifetimes, costs and limits of the auth domain.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub bcrypt_cost: u32,
    pub session_ttl: Duration,
    pub api_token_ttl: Duration,
    /// Marks cookies `Secure` (serve over HTTPS).
    pub cookie_secure: bool,
    /// How long the password step of a 2FA login stays valid.
    pub challenge_ttl: Duration,
    pub invitation_ttl: Duration,
    /// Failed attempts allowed per account and per client address within `throttle_window`.
    pub throttle_limit: i64,
    pub throttle_window: Duration,
    /// How stale a session's recorded last use may get: a use is written to the store when
    /// the one recorded is at least this old (`auth.listSessions` shows it).
    pub last_used_resolution: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            bcrypt_cost: 10,
            session_ttl: Duration::from_secs(24 * 3600),
            api_token_ttl: Duration::from_secs(30 * 24 * 3600),
            cookie_secure: false,
            challenge_ttl: Duration::from_secs(5 * 60),
            invitation_ttl: Duration::from_secs(24 * 3600),
            throttle_limit: 5,
            throttle_window: Duration::from_secs(15 * 60),
            last_used_resolution: Duration::from_secs(3600),
        }
    }
}
