//! Prometheus metrics on their own listener (`--metrics-bind`): the exporter, the help text
//! of every series, and the gauges read from the store at each scrape. The crates record
//! through the `metrics` facade; without `--metrics-bind` no exporter is installed and
//! recording does nothing.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use gateway_store::Store;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const STORE_UP: &str = "auth_gateway_store_up";
const STORE_CONNECTIONS_IN_USE: &str = "auth_gateway_store_connections_in_use";
const STORE_CONNECTIONS_OPEN: &str = "auth_gateway_store_connections_open";
const STORE_CONNECTIONS_MAX: &str = "auth_gateway_store_connections_max";
const EPOCH_WATCHER_UP: &str = "auth_gateway_auth_epoch_watcher_up";
const EPOCH_LAG: &str = "auth_gateway_auth_epoch_lag_seconds";

/// Bucket bounds of every `_seconds` histogram: from a cached call (well under a
/// millisecond) to a password check waiting in a queue (seconds).
const BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How often histogram samples are folded into their buckets when nobody scrapes, which
/// bounds the memory they hold.
const UPKEEP: Duration = Duration::from_secs(5);

/// Installs the exporter as the process's recorder. Call it before the store and the
/// procedures are built: they take their series from whatever recorder is installed then.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .context("--metrics-bind: histogram buckets")?
        .install_recorder()
        .context("--metrics-bind: installing the exporter")?;
    describe();
    gateway_wire::start_recording();
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP);
                upkeep.run_upkeep();
            }
        })
        .context("spawning the metrics upkeep thread")?;
    Ok(handle)
}

fn describe() {
    describe_counter!(gateway_wire::CALLS, "Procedure calls, by procedure and tRPC code (OK for a success).");
    describe_histogram!(gateway_wire::CALL_DURATION, Unit::Seconds, "Time to answer one procedure call.");
    describe_counter!(
        gateway_wire::FORWARDED_CALLS,
        "Calls forwarded upstream, by what came of them (OK, UPSTREAM_ERROR, or the gateway's code)."
    );
    describe_histogram!(gateway_wire::UPSTREAM_DURATION, Unit::Seconds, "Time of one request to the upstream app.");
    describe_counter!(
        gateway_auth::LOGINS,
        "Logins by outcome: success, wrong_password, unknown_account, throttled, 2fa_required, 2fa_failed."
    );
    describe_gauge!(gateway_auth::PASSWORD_QUEUE_DEPTH, "Password checks and hashes waiting for a thread.");
    describe_histogram!(gateway_auth::PASSWORD_WAIT, Unit::Seconds, "Time a password job waited for a thread.");
    describe_counter!(
        gateway_auth::CACHE_LOOKUPS,
        "Cache lookups, by cache (session, token, upstream_identity) and result."
    );
    describe_counter!(gateway_store::STORE_ERRORS, "Failed store calls: unavailable (out of reach) or database.");
    describe_histogram!(
        gateway_store::STORE_CHECKOUT_WAIT,
        Unit::Seconds,
        "Time a store call waited for a connection."
    );
    describe_gauge!(STORE_UP, "1 while the database answers, 0 while it is known to be down.");
    describe_gauge!(STORE_CONNECTIONS_IN_USE, "Pooled connections checked out.");
    describe_gauge!(STORE_CONNECTIONS_OPEN, "Pooled connections open.");
    describe_gauge!(STORE_CONNECTIONS_MAX, "Most connections the pool opens.");
    describe_gauge!(EPOCH_WATCHER_UP, "1 while the auth-epoch watcher vouches for cached sessions.");
    describe_gauge!(EPOCH_LAG, Unit::Seconds, "Age of the auth-epoch watcher's last proof.");
}

/// The store's state, read at each scrape.
fn read_vitals(store: &Store) {
    let vitals = store.vitals();
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    gauge!(STORE_UP).set(flag(vitals.up));
    gauge!(STORE_CONNECTIONS_IN_USE).set(vitals.connections.saturating_sub(vitals.idle_connections));
    gauge!(STORE_CONNECTIONS_OPEN).set(vitals.connections);
    gauge!(STORE_CONNECTIONS_MAX).set(vitals.max_connections);
    gauge!(EPOCH_WATCHER_UP).set(flag(vitals.epoch_watcher_up));
    if let Some(lag) = vitals.epoch_lag {
        gauge!(EPOCH_LAG).set(lag);
    }
}

/// The listener: `GET /metrics` in the Prometheus text format, nothing else. One worker:
/// scrapes are rare, and it shares nothing with the request workers.
pub fn server(
    bind: SocketAddr,
    handle: PrometheusHandle,
    store: Store,
) -> anyhow::Result<(actix_web::dev::Server, SocketAddr)> {
    let scrape = web::Data::new((handle, store));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(scrape.clone())
            .route("/metrics", web::get().to(render))
            .default_service(web::to(HttpResponse::NotFound))
    })
    .workers(1)
    .disable_signals()
    .bind(bind)
    .with_context(|| format!("--metrics-bind: cannot listen on {bind}"))?;
    let addr = server.addrs().first().copied().context("--metrics-bind: no address")?;
    Ok((server.run(), addr))
}

async fn render(scrape: web::Data<(PrometheusHandle, Store)>) -> HttpResponse {
    let scrape = scrape.into_inner();
    // Reading the pool takes its lock and the render sorts every series: off the workers.
    let text = web::block(move || {
        read_vitals(&scrape.1);
        scrape.0.render()
    })
    .await
    .unwrap_or_default();
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text)
}
