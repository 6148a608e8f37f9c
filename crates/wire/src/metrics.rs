//! What the wire layer counts: calls per procedure and code, their latency, and forwarded
//! calls. Labels come from the registry and the error codes only, so the series stay few
//! whatever paths callers send. Without an exporter installed these cost next to nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ::metrics::{Counter, Histogram, counter, histogram};

use crate::error::RpcError;

pub const CALLS: &str = "auth_gateway_calls_total";
pub const CALL_DURATION: &str = "auth_gateway_call_duration_seconds";
pub const FORWARDED_CALLS: &str = "auth_gateway_forwarded_calls_total";
pub const UPSTREAM_DURATION: &str = "auth_gateway_upstream_request_duration_seconds";

/// Whether an exporter records: until then calls are neither timed nor looked up again.
static RECORDING: AtomicBool = AtomicBool::new(false);

/// Says that an exporter is installed (call it once, before serving).
pub fn start_recording() {
    RECORDING.store(true, Ordering::Relaxed);
}

/// The time a call starts, when calls are recorded.
pub(crate) fn clock() -> Option<Instant> {
    RECORDING.load(Ordering::Relaxed).then(Instant::now)
}

/// The label of calls to paths the registry does not know (and that were not forwarded).
pub const UNKNOWN_PROCEDURE: &str = "unknown";

/// One procedure's series, made once: a successful call costs two atomic updates, no lookup.
pub(crate) struct CallSeries {
    procedure: &'static str,
    ok: Counter,
    duration: Histogram,
}

impl CallSeries {
    pub(crate) fn new(procedure: &'static str) -> Self {
        CallSeries {
            procedure,
            ok: counter!(CALLS, "procedure" => procedure, "code" => "OK"),
            duration: histogram!(CALL_DURATION, "procedure" => procedure),
        }
    }

    pub(crate) fn finished(&self, result: Result<(), &RpcError>, took: Duration) {
        match result {
            Ok(()) => self.ok.increment(1),
            Err(e) => counter!(CALLS, "procedure" => self.procedure, "code" => e.code.key()).increment(1),
        }
        self.duration.record(took);
    }
}

/// A call to a path no procedure has.
pub(crate) fn unknown_call(e: &RpcError, took: Duration) {
    counter!(CALLS, "procedure" => UNKNOWN_PROCEDURE, "code" => e.code.key()).increment(1);
    histogram!(CALL_DURATION, "procedure" => UNKNOWN_PROCEDURE).record(took);
}

/// A forwarded call, by what came of it (see `Answer::code`).
pub(crate) fn forwarded(code: &'static str) {
    counter!(FORWARDED_CALLS, "code" => code).increment(1);
}

/// One request to the upstream, however it ended.
pub(crate) fn upstream_request(took: Duration) {
    histogram!(UPSTREAM_DURATION).record(took);
}
