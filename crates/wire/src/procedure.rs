//! What a procedure is: a dotted path, a kind, an access level, typed input and
//! output, and an async handler that gets the request context.

use std::future::Future;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::context::Ctx;
use crate::error::{ErrorCode, RpcError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Read-only; GET (or POST when method override is on).
    Query,
    /// Changes state; POST only.
    Mutation,
}

impl Kind {
    /// As tRPC names it in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Query => "query",
            Kind::Mutation => "mutation",
        }
    }

    /// The HTTP method of its calls on the REST surface.
    pub fn http_method(self) -> &'static str {
        match self {
            Kind::Query => "GET",
            Kind::Mutation => "POST",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Public,
    /// Any signed-in caller.
    Protected,
    /// A signed-in caller whose identity is an administrator.
    Admin,
}

/// A typed procedure. Register it with [`crate::Registry::register`].
pub trait Procedure: Send + Sync + 'static {
    const PATH: &'static str;
    const KIND: Kind;
    const ACCESS: Access;
    /// Short description for the OpenAPI document.
    const SUMMARY: &'static str = "";
    /// Errors the handler itself may answer beyond those of its access level (documented).
    const ERRORS: &'static [ErrorCode] = &[];

    /// Deserialized from the call's input, then validated with garde. Use [`NoInput`]
    /// for procedures that take none.
    type Input: DeserializeOwned + garde::Validate<Context = ()> + JsonSchema + Send + 'static;
    type Output: Serialize + JsonSchema + Send + 'static;

    fn call(&self, ctx: Ctx, input: Self::Input) -> impl Future<Output = Result<Self::Output, RpcError>> + Send;
}

/// The input of a procedure that takes none: whatever the client sends is ignored,
/// as tRPC does for procedures without an input parser.
#[derive(Debug, Clone, Copy, Default, JsonSchema)]
pub struct NoInput;

impl<'de> Deserialize<'de> for NoInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| NoInput)
    }
}

impl garde::Validate for NoInput {
    type Context = ();
    fn validate_into(&self, _: &(), _: &mut dyn FnMut() -> garde::Path, _: &mut garde::Report) {}
}

/// Declares procedures, in one of two forms.
///
/// Methods of a shared service, with a function that registers them all:
///
/// ```ignore
/// gateway_wire::procedures! {
///     service: AuthService, register: register_procedures;
///     Login: "auth.login", Mutation, Public, Credentials => LoginOutput, login,
///         "Checks email and password", errors: [Unauthorized];
/// }
/// ```
///
/// Each becomes `pub struct Login(pub Arc<AuthService>)` whose call is
/// `service.login(&ctx, input)`; its error converts into [`RpcError`](crate::RpcError).
///
/// Bodies written in place (small routers, tests), each a unit struct:
///
/// ```ignore
/// gateway_wire::procedures! {
///     Echo: "test.echo", Query, Public, |_ctx, input: EchoInput| -> EchoInput { Ok(input) }
/// }
/// ```
#[macro_export]
macro_rules! procedures {
    (service: $service:ty, register: $register:ident;
     $( $name:ident: $path:literal, $kind:ident, $access:ident, $input:ty => $output:ty, $method:ident, $summary:literal
        $(, errors: [$($error:ident),*])?; )*) => {
        $(
            pub struct $name(pub ::std::sync::Arc<$service>);

            impl $crate::Procedure for $name {
                const PATH: &'static str = $path;
                const KIND: $crate::Kind = $crate::Kind::$kind;
                const ACCESS: $crate::Access = $crate::Access::$access;
                const SUMMARY: &'static str = $summary;
                $(const ERRORS: &'static [$crate::ErrorCode] = &[$($crate::ErrorCode::$error),*];)?
                type Input = $input;
                type Output = $output;

                async fn call(&self, ctx: $crate::Ctx, input: $input) -> ::std::result::Result<$output, $crate::RpcError> {
                    Ok(self.0.$method(&ctx, input).await?)
                }
            }
        )*

        /// Registers every procedure of this table on `registry`.
        pub fn $register(registry: &mut $crate::Registry, service: &::std::sync::Arc<$service>) {
            $( registry.register($name(::std::sync::Arc::clone(service))); )*
        }
    };
    ($( $name:ident: $path:literal, $kind:ident, $access:ident,
        |$ctx:ident, $input:ident: $in:ty| -> $output:ty $body:block )*) => {
        $(
            pub struct $name;

            impl $crate::Procedure for $name {
                const PATH: &'static str = $path;
                const KIND: $crate::Kind = $crate::Kind::$kind;
                const ACCESS: $crate::Access = $crate::Access::$access;
                type Input = $in;
                type Output = $output;

                async fn call(&self, $ctx: $crate::Ctx, $input: $in) -> ::std::result::Result<$output, $crate::RpcError> $body
            }
        )*
    };
}
