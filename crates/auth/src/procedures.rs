//! The `auth` and `admin` routers: each procedure's path, kind, access and types, bound to
//! the feature method that does the work. A new procedure is one line here.

use std::sync::Arc;

use gateway_wire::{NoInput, Registry};

use crate::AuthService;
use crate::account::{Auth, IdInput};
use crate::backup_codes::{BackupCodes, GenerateBackupCodesInput};
use crate::identity::SessionAuthenticator;
use crate::invitations::{CreateUserInput, Invitation, InvitationInput, InvitationView, TokenInput};
use crate::login::{Credentials, LoginOutput};
use crate::profile::{UpdateByAdminInput, UpdateInput};
use crate::session_list::{AccountSessionInput, AuthIdInput, RevokedSessions, SessionIdInput, SessionList};
use crate::two_factor::{TwoFactorSecret, Verify2faSetupInput, VerifyLogin2faInput};

gateway_wire::procedures! {
    service: AuthService, register: register_procedures;
    CreateAdmin: "auth.createAdmin", Mutation, Public, Credentials => bool, create_admin,
        "Creates the first (and only) admin and signs it in";
    CreateUser: "auth.createUser", Mutation, Public, CreateUserInput => bool, create_user,
        "Registers an invited user with the invitation token and signs it in";
    Login: "auth.login", Mutation, Public, Credentials => LoginOutput, login,
        "Checks email and password; starts a session, or a 2FA challenge";
    Get: "auth.get", Query, Protected, NoInput => Auth, get,
        "The caller's account";
    Logout: "auth.logout", Mutation, Protected, NoInput => bool, logout,
        "Ends the cookie session";
    Update: "auth.update", Mutation, Protected, UpdateInput => Auth, update,
        "Changes the caller's email, password or image";
    GenerateToken: "auth.generateToken", Mutation, Protected, NoInput => Auth, generate_token,
        "Issues a new API token; the previous one stops working";
    One: "auth.one", Query, Admin, IdInput => Auth, one,
        "An account by id";
    UpdateByAdmin: "auth.updateByAdmin", Mutation, Admin, UpdateByAdminInput => Auth, update_by_admin,
        "Changes an account's email, password or image";
    Generate2faSecret: "auth.generate2FASecret", Query, Protected, NoInput => TwoFactorSecret, generate_2fa_secret,
        "A fresh TOTP secret and its QR code";
    Verify2faSetup: "auth.verify2FASetup", Mutation, Protected, Verify2faSetupInput => Auth, verify_2fa_setup,
        "Turns on 2FA with a secret and a pin generated from it";
    VerifyLogin2fa: "auth.verifyLogin2FA", Mutation, Public, VerifyLogin2faInput => bool, verify_login_2fa,
        "Completes a 2FA login with a pin or a backup code", errors: [Unauthorized];
    Disable2fa: "auth.disable2FA", Mutation, Protected, NoInput => Auth, disable_2fa,
        "Turns off 2FA; its backup codes are deleted";
    GenerateBackupCodes: "auth.generateBackupCodes", Mutation, Protected, GenerateBackupCodesInput => BackupCodes, generate_backup_codes,
        "Ten single-use 2FA backup codes, shown once; any earlier set stops working";
    VerifyToken: "auth.verifyToken", Mutation, Protected, NoInput => bool, verify_token,
        "Answers true for a valid session or API token";
    ListSessions: "auth.listSessions", Query, Protected, NoInput => SessionList, list_sessions,
        "The caller's sessions and API token, the current one marked; nothing secret";
    RevokeSession: "auth.revokeSession", Mutation, Protected, SessionIdInput => bool, revoke_session,
        "Ends one of the caller's sessions, or its API token (its own: a logout)", errors: [NotFound];
    RevokeOtherSessions: "auth.revokeOtherSessions", Mutation, Protected, NoInput => RevokedSessions, revoke_other_sessions,
        "Ends every browser session of the caller but the current one; the API token stays";
    CreateUserInvitation: "admin.createUserInvitation", Mutation, Admin, InvitationInput => Invitation, create_user_invitation,
        "Creates a user account and an invitation token valid 24 hours";
    GetUserByToken: "admin.getUserByToken", Query, Public, TokenInput => InvitationView, get_user_by_token,
        "What the invitation page shows for a token";
    AdminListSessions: "admin.listSessions", Query, Admin, AuthIdInput => SessionList, admin_list_sessions,
        "An account's sessions and API token", errors: [NotFound];
    AdminRevokeSession: "admin.revokeSession", Mutation, Admin, AccountSessionInput => bool, admin_revoke_session,
        "Ends one of an account's sessions, or its API token", errors: [NotFound];
    AdminRevokeAllSessions: "admin.revokeAllSessions", Mutation, Admin, AuthIdInput => RevokedSessions, admin_revoke_all_sessions,
        "Ends every session of another account and its API token", errors: [NotFound];
}

/// Registers every procedure and the session authenticator.
pub fn register(registry: &mut Registry, service: Arc<AuthService>) {
    register_procedures(registry, &service);
    registry.authenticate_with(SessionAuthenticator(service));
}
