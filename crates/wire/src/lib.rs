//! The wire layer: tRPC and OpenAPI surfaces over a registry of typed procedures.
//! It knows nothing about what the procedures do.

mod config;
mod context;
mod dispatch;
mod error;
mod forward_auth;
mod gateway;
mod http;
mod limits;
mod metrics;
mod middleware;
mod openapi;
mod origin;
mod procedure;
mod registry;
mod rest;
mod superjson;
mod trpc;
mod typescript;
mod upstream;
mod validation;

pub use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
pub use config::{ForwardAuthHeaders, WireConfig};
pub use context::{
    Authenticator, CredentialSource, Ctx, Identity, MAX_USER_AGENT_CHARS, RequestInfo, clean_user_agent,
};
pub use dispatch::{Call, Dispatcher, Verb};
pub use error::{ErrorCode, Issue, RpcError, VALIDATION_FAILED};
pub use gateway::{Gateway, ReadinessCheck};
pub use limits::{MAX_HEADER_BYTES, MAX_URI_BYTES, request_limits};
pub use metrics::{CALL_DURATION, CALLS, FORWARDED_CALLS, UNKNOWN_PROCEDURE, UPSTREAM_DURATION, start_recording};
pub use middleware::{RequestSpan, not_found, response_headers};
pub use origin::OriginPolicy;
pub use procedure::{Access, Kind, NoInput, Procedure};
pub use registry::{ProcedureInfo, Registry, input_schema};
pub use rest::coerce_query;
pub use superjson::{Transformer, deserialize as superjson_deserialize};
pub use trpc::parse_calls;
pub use typescript::router as typescript_router;
pub use upstream::{
    Answer as UpstreamAnswer, IDENTITY_HEADER, IdentitySigner, Upstream, UpstreamOptions, answers as upstream_answers,
};
pub use validation::decode_input;
