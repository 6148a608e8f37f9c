//! The `auth` and `admin` routers: each procedure's path, kind, access and types,
//! bound to the service method that does the work.

use std::sync::Arc;

use gateway_wire::{Access, Ctx, ErrorCode, Kind, NoInput, Procedure, Registry, RpcError};

use crate::AuthService;
use crate::io::*;
use crate::sessions::SessionAuthenticator;

/// Declares a procedure type that forwards to `AuthService::$method`.
macro_rules! procedures {
    ($( $name:ident: $path:literal, $kind:ident, $access:ident, $input:ty => $output:ty, $method:ident, $summary:literal
        $(, errors: [$($error:ident),*])?; )*) => {
        $(
            pub struct $name(pub Arc<AuthService>);

            impl Procedure for $name {
                const PATH: &'static str = $path;
                const KIND: Kind = Kind::$kind;
                const ACCESS: Access = Access::$access;
                const SUMMARY: &'static str = $summary;
                $(const ERRORS: &'static [ErrorCode] = &[$(ErrorCode::$error),*];)?
                type Input = $input;
                type Output = $output;

                async fn call(&self, ctx: Ctx, input: $input) -> Result<$output, RpcError> {
                    self.0.$method(&ctx, input).await
                }
            }
        )*

        /// Registers every procedure and the session authenticator.
        pub fn register(registry: &mut Registry, service: Arc<AuthService>) {
            $( registry.register($name(Arc::clone(&service))); )*
            registry.authenticate_with(SessionAuthenticator(service));
        }
    };
}

procedures! {
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
        "Completes a 2FA login with a pin", errors: [Unauthorized];
    Disable2fa: "auth.disable2FA", Mutation, Protected, NoInput => Auth, disable_2fa,
        "Turns off 2FA";
    VerifyToken: "auth.verifyToken", Mutation, Protected, NoInput => bool, verify_token,
        "Answers true for a valid session or API token";
    CreateUserInvitation: "admin.createUserInvitation", Mutation, Admin, InvitationInput => Invitation, create_user_invitation,
        "Creates a user account and an invitation token valid 24 hours";
    GetUserByToken: "admin.getUserByToken", Query, Public, TokenInput => InvitationView, get_user_by_token,
        "What the invitation page shows for a token";
}
