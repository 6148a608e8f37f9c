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
