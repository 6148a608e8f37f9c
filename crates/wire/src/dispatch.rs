//! The one place that checks method, access and input before a procedure runs.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{ErrorCode, RpcError};
use crate::metrics;
use crate::procedure::{Access, Kind};
use crate::registry::{ErasedProcedure, Registry};
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

/// Runs calls against a registry, with the rules of the surface they came through.
#[derive(Clone)]
pub struct Dispatcher {
    pub registry: Arc<Registry>,
    /// Queries may come over POST (tRPC's `methodOverride: 'POST'`).
    pub method_override: bool,
    /// How inputs arrive (and outputs leave) on this surface.
    pub transformer: Transformer,
}

impl Dispatcher {
    /// Runs one call: lookup, method, access, input, handler. Panics become 500s.
    pub async fn dispatch(self, ctx: Ctx, call: Call) -> Result<Value, RpcError> {
        let path = call.path.clone();
        let procedure = self.registry.get(&path);
        let started = metrics::clock();
        let result = AssertUnwindSafe(self.run(procedure, &ctx, call)).catch_unwind().await.unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(RpcError::internal(format!("procedure panicked: {what}")))
        });
        if let Some(started) = started {
            match (procedure, &result) {
                (Some(procedure), _) => procedure.series().finished(result.as_ref().map(|_| ()), started.elapsed()),
                (None, Err(e)) => metrics::unknown_call(e, started.elapsed()),
                (None, Ok(_)) => {} // an unknown path is NOT_FOUND
            }
        }
        if let Err(e) = &result {
            if e.http_status() >= 500 {
                tracing::error!(request_id = ctx.request_id(), path, error = %e, "call failed");
            } else {
                tracing::debug!(request_id = ctx.request_id(), path, code = e.code.key(), "call refused");
            }
        }
        result
    }

    async fn run(
        &self,
        procedure: Option<&Arc<dyn ErasedProcedure>>,
        ctx: &Ctx,
        call: Call,
    ) -> Result<Value, RpcError> {
        let procedure = procedure.ok_or_else(|| Registry::not_found(&call.path))?;
        let info = procedure.info();
        check_method(info.kind, call.verb, self.method_override, &call.path)?;
        if info.access != Access::Public {
            let identity = ctx.identity().await?.ok_or_else(RpcError::unauthorized)?;
            if info.access == Access::Admin && !identity.admin {
                return Err(RpcError::forbidden());
            }
        }
        let input = self.transformer.decode(call.input?)?;
        procedure.call(ctx.clone(), input).await
    }
}

/// Whether a call of `kind` may come with `verb`: queries over GET (or POST with method
/// override), mutations over POST.
fn check_method(kind: Kind, verb: Verb, method_override: bool, path: &str) -> Result<(), RpcError> {
    let allowed = match (kind, verb) {
        (Kind::Query, Verb::Get) | (Kind::Mutation, Verb::Post) => true,
        (Kind::Query, Verb::Post) => method_override,
        (Kind::Mutation, Verb::Get) => false,
    };
    if allowed {
        return Ok(());
    }
    let verb = if verb == Verb::Get { "GET" } else { "POST" };
    Err(RpcError::new(
        ErrorCode::MethodNotSupported,
        format!("Unsupported {verb}-request to {} procedure at path \"{path}\"", kind.name()),
    ))
}
