//! Logins counted by outcome (`auth_gateway_logins_total{outcome}`), for operators' alerts:
//! a rise in wrong passwords or throttled logins is an attack; in 2FA failures, a clock
//! gone wrong. A login with 2FA counts twice: `2fa_required` at the password step, then
//! `success` or `2fa_failed`.

use metrics::counter;

use crate::error::AuthError;

pub const LOGINS: &str = "auth_gateway_logins_total";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginOutcome {
    Success,
    WrongPassword,
    UnknownAccount,
    Throttled,
    TwoFactorRequired,
    TwoFactorFailed,
}

impl LoginOutcome {
    pub(crate) const fn label(self) -> &'static str {
        match self {
            LoginOutcome::Success => "success",
            LoginOutcome::WrongPassword => "wrong_password",
            LoginOutcome::UnknownAccount => "unknown_account",
            LoginOutcome::Throttled => "throttled",
            LoginOutcome::TwoFactorRequired => "2fa_required",
            LoginOutcome::TwoFactorFailed => "2fa_failed",
        }
    }

    pub(crate) fn count(self) {
        counter!(LOGINS, "outcome" => self.label()).increment(1);
    }

    /// Counts a refusal to start a login attempt: the throttle's answer (not a store failure).
    pub(crate) fn count_throttled(error: &AuthError) {
        if matches!(error, AuthError::Answer(_)) {
            LoginOutcome::Throttled.count();
        }
    }
}
