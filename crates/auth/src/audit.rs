//! Audit events (`target = "audit"`): what happened to whom, from where, under which request
//! id. Never a secret.

/// `audit!(ctx, "event", field = value, ...)`
macro_rules! audit {
    ($ctx:expr, $event:literal $(, $($field:tt)*)?) => {
        tracing::info!(target: "audit", event = $event, request_id = $ctx.request_id(),
              client = %$ctx.client_addr().map(|a| a.to_string()).unwrap_or_default() $(, $($field)*)?)
    };
}
