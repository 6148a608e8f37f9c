//! The auth gateway: settings, wiring of store, auth router and wire layer, and the HTTP server.

pub mod logging;
pub mod metrics;
pub mod settings;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::{Context, bail};
use gateway_auth::{AuthService, RootKey, TokenKeys, UpstreamIdentity};
use gateway_store::{PoolOptions, Store};
use gateway_wire::{Gateway, Registry, Upstream};
use tracing_actix_web::TracingLogger;

pub use settings::Settings;

/// Everything a running gateway needs, built before the HTTP server starts.
pub struct Prepared {
    pub gateway: Arc<Gateway>,
    pub service: Arc<AuthService>,
    pub store: Store,
    /// Where the root key came from, for the start-up line (never the key).
    pub key_origin: String,
}

pub fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let url = settings.database_url();
    let options = PoolOptions {
        max_size: settings.db_pool_size,
        connection_timeout: Duration::from_secs(settings.db_timeout_secs),
    };
    Store::open(&url, options).with_context(|| format!("database {}", redact(&url)))
}

/// The root key from configuration, or from its file (created on first start).
pub fn load_root_key(settings: &Settings) -> anyhow::Result<(RootKey, String)> {
    if let Some(hex) = &settings.root_key {
        let key = RootKey::from_hex(hex).map_err(|e| anyhow::anyhow!("--root-key: {e}"))?;
        return Ok((key, "from configuration".into()));
    }
    let path = settings.root_key_file();
    let (key, created) = RootKey::load_or_create(&path).map_err(|e| anyhow::anyhow!("--root-key-file: {e}"))?;
    let verb = if created { "created" } else { "loaded" };
    Ok((key, format!("{verb} {}", path.display())))
}

/// The root key the gateway already serves with, never a new one (a new key would seal
/// secrets, or sign tokens, that nothing else opens): for commands that act on its data.
pub fn existing_root_key(settings: &Settings) -> anyhow::Result<RootKey> {
    let key_file = settings.root_key_file();
    if settings.root_key.is_none() && !key_file.exists() {
        bail!("no root key at {}: give the gateway's --data-dir or --root-key", key_file.display());
    }
    Ok(load_root_key(settings)?.0)
}

/// The token signing keys: from configuration, from their file, or the root key alone.
pub fn load_token_keys(settings: &Settings, root_key: &RootKey) -> anyhow::Result<TokenKeys> {
    match &settings.token_keys {
        Some(text) => TokenKeys::parse(text, root_key).map_err(|e| anyhow::anyhow!("--token-keys: {e}")),
        None => TokenKeys::load(&settings.token_keys_file(), root_key)
            .map_err(|e| anyhow::anyhow!("--token-keys-file: {e}")),
    }
}

/// Encrypts the secrets, and hashes the invitation tokens, that an older store kept as they are.
pub fn seal_stored_secrets(store: &Store, root_key: &RootKey) -> anyhow::Result<()> {
    let (accounts, invitations) =
        gateway_auth::seal_stored_secrets(store, root_key).context("encrypting the secrets at rest")?;
    if accounts + invitations > 0 {
        tracing::info!(accounts, invitations, "secrets at rest encrypted, invitation tokens hashed");
    }
    Ok(())
}

/// Opens the store (running migrations), loads the key and registers the procedures.
/// Blocking: call it off the async workers.
pub fn prepare(settings: &Settings) -> anyhow::Result<Prepared> {
    gateway_store::create_private_dir(&settings.data_dir)
        .with_context(|| format!("--data-dir: cannot create {}", settings.data_dir.display()))?;
    let store = open_store(settings)?;
    let (root_key, key_origin) = load_root_key(settings)?;
    seal_stored_secrets(&store, &root_key)?;
    if settings.bcrypt_cost < 10 {
        tracing::warn!(cost = settings.bcrypt_cost, "bcrypt cost below 10: fine for tests, weak for production");
    }
    // Lets sessions be answered from memory until one changes, in this or any other gateway.
    store.follow_auth_epoch();
    let token_keys = load_token_keys(settings, &root_key)?;
    let key_origin = format!("{key_origin}, token keys {}", token_keys.names().join(","));
    let upstream_identity = UpstreamIdentity::new(&root_key);
    let service = Arc::new(AuthService::new(store.clone(), settings.auth_config(), &root_key, token_keys));
    service.refresh_dummy_hashes().context("reading the password costs in use")?;
    gateway_auth::maintain(&service, Duration::from_secs(settings.purge_interval_secs));
    let mut registry = Registry::new();
    gateway_auth::register(&mut registry, Arc::clone(&service));
    let mut wire = settings.wire_config();
    if let Some(options) = settings.upstream_options() {
        let upstream = Upstream::new(options, Some(Arc::new(upstream_identity))).map_err(anyhow::Error::msg)?;
        wire.upstream = Some(Arc::new(upstream));
    }
    let ready_store = store.clone();
    let gateway = Gateway::new(registry, wire).with_readiness(Arc::new(move || {
        let store = ready_store.clone();
        // While the database is known to be down, the probe's word stands: no wait.
        Box::pin(async move {
            !store.is_down() && tokio::task::spawn_blocking(move || store.ping().is_ok()).await.unwrap_or(false)
        })
    }));
    Ok(Prepared { gateway: Arc::new(gateway), service, store, key_origin })
}

/// The HTTP server, bound and ready to run; returns the address it listens on.
pub fn build_server(prepared: &Prepared, settings: &Settings) -> anyhow::Result<(actix_web::dev::Server, SocketAddr)> {
    let gateway = Arc::clone(&prepared.gateway);
    let cors_origins = settings.cors_origins.clone();
    let mut server = HttpServer::new(move || {
        App::new()
            .configure(|c| gateway.configure(c))
            .default_service(web::to(gateway_wire::not_found))
            .wrap(Condition::new(!cors_origins.is_empty(), cors(&cors_origins)))
            .wrap(from_fn(gateway_wire::request_limits))
            .wrap(from_fn(gateway_wire::response_headers))
            .wrap(TracingLogger::<gateway_wire::RequestSpan>::new())
    })
    // Slow or stalled clients do not hold a worker: headers must arrive within 5 s.
    .client_request_timeout(Duration::from_secs(5))
    .client_disconnect_timeout(Duration::from_secs(2))
    .shutdown_timeout(settings.shutdown_timeout_secs)
    // `serve` handles the signals itself, with a deadline no stuck request can outlive.
    .disable_signals();
    if let Some(workers) = settings.workers {
        if workers == 0 {
            bail!("--workers: must be at least 1");
        }
        server = server.workers(workers);
    }
    let server = server.bind(settings.bind).with_context(|| format!("--bind: cannot listen on {}", settings.bind))?;
    let addr = server.addrs().first().copied().context("--bind: no address")?;
    Ok((server.run(), addr))
}

/// CORS for the listed origins only, with credentials (the session cookie). Other origins
/// get no CORS headers, so browsers keep their pages from reading answers; they are not
/// refused outright because browsers also send `Origin` on same-origin POSTs.
fn cors(origins: &[String]) -> Cors {
    let cors = origins.iter().fold(Cors::default(), |cors, origin| cors.allowed_origin(origin));
    cors.supports_credentials()
        .allowed_methods(["GET", "POST"])
        .allowed_headers(["content-type", "authorization", "x-api-key", "trpc-accept", "trpc-batch-mode"])
        .block_on_origin_mismatch(false)
        .max_age(600)
}

/// Starts the gateway and runs until SIGTERM or SIGINT, finishing in-flight requests.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    // Before anything records: the store and procedures take their series at construction.
    let exporter = settings.metrics_bind.map(|_| metrics::install()).transpose()?;
    let prep_settings = settings.clone();
    let prepared = web::block(move || prepare(&prep_settings)).await??;
    let (server, addr) = build_server(&prepared, &settings)?;
    tracing::info!(
        address = %format!("http://{addr}"),
        database = %prepared.store.backend(),
        url = %redact(&settings.database_url()),
        root_key = %prepared.key_origin,
        "auth gateway listening"
    );
    let metrics_server = match (exporter, settings.metrics_bind) {
        (Some(handle), Some(bind)) => {
            let (metrics_server, metrics_addr) = metrics::server(bind, handle, prepared.store.clone())?;
            tracing::info!(address = %format!("http://{metrics_addr}/metrics"), "metrics listening");
            let stop = metrics_server.handle();
            actix_web::rt::spawn(metrics_server);
            Some(stop)
        }
        _ => None,
    };
    let deadline = Duration::from_secs(settings.shutdown_timeout_secs);
    actix_web::rt::spawn(stop_on_signal(server.handle(), deadline));
    server.await?;
    if let Some(metrics_server) = metrics_server {
        metrics_server.stop(false).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Exit code when requests were still running at the shutdown deadline.
const EXIT_STUCK: i32 = 3;

/// On SIGTERM or SIGINT, stops accepting connections and lets requests in flight finish
/// for up to `deadline`. A request stuck past it (a handler waiting on a database lock, a
/// thread that never yields) cannot hold the process: a watchdog thread ends it.
async fn stop_on_signal(server: actix_web::dev::ServerHandle, deadline: Duration) {
    let signal = shutdown_signal().await;
    tracing::info!(signal, deadline_secs = deadline.as_secs(), "stopping: finishing requests in flight");
    std::thread::spawn(move || {
        std::thread::sleep(deadline + Duration::from_secs(1));
        tracing::error!("requests still running at the shutdown deadline: exiting");
        std::process::exit(EXIT_STUCK);
    });
    server.stop(true).await;
}

async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            tracing::error!("cannot listen for signals: stop the process with SIGKILL");
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// A database URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(None);
            parsed.into()
        }
        _ => url.to_owned(),
    }
}

/// `text` (an error about the database at `url`) with the URL's password blanked out, as
/// written and percent-decoded. Read by hand: a URL that fails to parse may be quoted too.
pub fn without_password(text: &str, url: &str) -> String {
    let authority = url.split_once("://").map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
    let Some((user_info, _)) = authority.rsplit_once('@') else { return text.to_owned() };
    let Some((_, password)) = user_info.split_once(':').filter(|(_, p)| !p.is_empty()) else {
        return text.to_owned();
    };
    let decoded = percent_encoding::percent_decode_str(password).decode_utf8_lossy().into_owned();
    text.replace(password, "***").replace(&decoded, "***")
}

/// The gateway as the documents describe it, built without touching any configured
/// database (a throwaway SQLite store).
fn documented_gateway<T>(read: impl FnOnce(&gateway_wire::Gateway) -> T) -> anyhow::Result<T> {
    let dir = tempfile::Builder::new().prefix("auth-gateway-documents-").tempdir()?;
    let settings = Settings::for_documents(dir.path());
    prepare(&settings).map(|p| read(&p.gateway))
}

/// The OpenAPI document.
pub fn openapi_document() -> anyhow::Result<serde_json::Value> {
    documented_gateway(|g| g.openapi().clone())
}

/// The TypeScript router (`export type AppRouter`) for the transformer of `settings`.
pub fn typescript_router(settings: &Settings) -> anyhow::Result<String> {
    let transformer = settings.wire_config().transformer;
    documented_gateway(|g| gateway_wire::typescript_router(g.registry(), transformer))
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(super::redact("postgres://u:secret@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite://data/gateway.db"), "sqlite://data/gateway.db");
        assert_eq!(super::redact("postgres://u:p%40ss@h/db?sslmode=require"), "postgres://u@h/db?sslmode=require");
        assert_eq!(super::redact("data/gateway.db"), "data/gateway.db");
    }

    #[test]
    fn errors_about_a_database_lose_its_password_as_written_and_decoded() {
        let hide = super::without_password;
        assert_eq!(hide("bad token: \"pa%ss\"", "postgres://u:pa%ss@h/db"), "bad token: \"***\"");
        assert_eq!(hide("auth failed for p@ss", "postgres://u:p%40ss@h/db"), "auth failed for ***");
        assert_eq!(hide("refused", "postgres://u@h/db"), "refused");
        assert_eq!(hide("x", "not a url"), "x");
    }
}
