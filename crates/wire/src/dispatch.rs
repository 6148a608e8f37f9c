//! The one place that checks method, access and input before a procedure runs.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{ErrorCode, RpcError};
use crate::gateway::Gateway;
use crate::procedure::{Access, Kind};
use crate::superjson::Transformer;

/// The HTTP method a call arrived with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
}

/// One call of a request, as a surface decoded it.
pub struct Call {
    pub path: String,
    pub verb: Verb,
    /// The call's raw input (`None`: absent), or why it could not be read.
    pub input: Result<Option<Value>, RpcError>,
}

/// Runs one call: lookup, method, access, input, handler. Panics become 500s.
pub async fn dispatch(
    gateway: Arc<Gateway>,
    ctx: Ctx,
    call: Call,
    transformer: Transformer,
) -> Result<Value, RpcError> {
    let path = call.path.clone();
    let result =
        AssertUnwindSafe(run(&gateway, &ctx, call, transformer)).catch_unwind().await.unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(RpcError::internal(format!("procedure panicked: {what}")))
        });
    if let Err(e) = &result {
        if e.http_status() >= 500 {
            tracing::error!(request_id = ctx.request_id(), path, error = %e, "call failed");
        } else {
            tracing::debug!(request_id = ctx.request_id(), path, code = e.code.key(), "call refused");
        }
    }
    result
}

async fn run(gateway: &Gateway, ctx: &Ctx, call: Call, transformer: Transformer) -> Result<Value, RpcError> {
    let procedure = gateway
        .registry()
        .get(&call.path)
        .ok_or_else(|| RpcError::not_found(format!("No procedure found on path \"{}\"", call.path)))?;
    let info = procedure.info();
    let method_ok = match (info.kind, call.verb) {
        (Kind::Query, Verb::Get) | (Kind::Mutation, Verb::Post) => true,
        (Kind::Query, Verb::Post) => gateway.config().method_override,
        (Kind::Mutation, Verb::Get) => false,
    };
    if !method_ok {
        let verb = if call.verb == Verb::Get { "GET" } else { "POST" };
        return Err(RpcError::new(
            ErrorCode::MethodNotSupported,
            format!("Unsupported {verb}-request to {} procedure at path \"{}\"", kind_name(info.kind), call.path),
        ));
    }
    if info.access != Access::Public {
        let identity = ctx.identity().await?.ok_or_else(RpcError::unauthorized)?;
        if info.access == Access::Admin && !identity.admin {
            return Err(RpcError::forbidden());
        }
    }
    let input = transformer.decode(call.input?)?;
    procedure.call(ctx.clone(), input).await
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Query => "query",
        Kind::Mutation => "mutation",
    }
}
