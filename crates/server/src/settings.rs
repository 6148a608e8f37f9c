//! Every setting, from flags, environment variables and defaults (one table in the README).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use gateway_auth::AuthConfig;
use gateway_wire::{ForwardAuthHeaders, OriginPolicy, Transformer, UpstreamOptions, WireConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransformerArg {
    Superjson,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address and port to listen on.
    #[arg(long, env = "GATEWAY_BIND", default_value = "127.0.0.1:3000", global = true)]
    pub bind: SocketAddr,

    /// Address and port of the Prometheus metrics listener (`GET /metrics`), for example
    /// 127.0.0.1:9464. Off when unset. Keep it off the public network.
    #[arg(long, env = "GATEWAY_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,

    /// Directory for the SQLite database and the root key (created if missing).
    #[arg(long, env = "GATEWAY_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Database URL: postgres://user@host/db, or sqlite://PATH. Default: sqlite in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// File holding the token root key (hex); created with mode 0600 when missing.
    /// Default: root.key in the data directory.
    #[arg(long, env = "GATEWAY_ROOT_KEY_FILE", global = true)]
    pub root_key_file: Option<PathBuf>,

    /// The token root key itself (hex), instead of a file: give every replica the same one.
    #[arg(long, env = "GATEWAY_ROOT_KEY", hide_env_values = true, global = true)]
    pub root_key: Option<String>,

    /// File holding the token signing keys after a rotation (`auth-gateway keygen --rotate`),
    /// the current one first. Default: token.keys in the data directory; without it, the
    /// root key signs tokens.
    #[arg(long, env = "GATEWAY_TOKEN_KEYS_FILE", global = true)]
    pub token_keys_file: Option<PathBuf>,

    /// The token signing keys themselves, instead of a file: `ID:HEX` entries and `root`,
    /// comma-separated, the current one first (give every replica the same).
    #[arg(long, env = "GATEWAY_TOKEN_KEYS", hide_env_values = true, global = true)]
    pub token_keys: Option<String>,

    /// Encoding of tRPC inputs and outputs.
    #[arg(long, env = "GATEWAY_TRANSFORMER", value_enum, default_value = "superjson", global = true)]
    pub transformer: TransformerArg,

    /// Mark cookies Secure (when clients reach the gateway over HTTPS).
    #[arg(long, env = "GATEWAY_COOKIE_SECURE", default_value_t = false, global = true)]
    pub cookie_secure: bool,

    /// Lifetime of a login session, in hours (rolling: refreshed in its second half).
    #[arg(long, env = "GATEWAY_SESSION_TTL_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=8760), global = true)]
    pub session_ttl_hours: u64,

    /// Lifetime of an API token, in days.
    #[arg(long, env = "GATEWAY_API_TOKEN_TTL_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650), global = true)]
    pub api_token_ttl_days: u64,

    /// How coarse the last use auth.listSessions shows is, in seconds: a session's use is
    /// written to the store when the one recorded is this old (no write per request).
    #[arg(long, env = "GATEWAY_LAST_USED_RESOLUTION_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=86400), global = true)]
    pub last_used_resolution_secs: u64,

    /// bcrypt cost of new password hashes (10 is Dokploy's; lower only for tests; at most
    /// 14, the highest cost a stored hash may have).
    #[arg(long, env = "GATEWAY_BCRYPT_COST", default_value_t = 10, value_parser = clap::value_parser!(u32).range(4..=14), global = true)]
    pub bcrypt_cost: u32,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "GATEWAY_MAX_BODY_BYTES", default_value_t = 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=(64 * 1024 * 1024)), global = true)]
    pub max_body_bytes: u64,

    /// Most calls in one tRPC batch.
    #[arg(long, env = "GATEWAY_MAX_BATCH_CALLS", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000), global = true)]
    pub max_batch_calls: u64,

    /// Accept tRPC queries over POST (the client's methodOverride).
    #[arg(long, env = "GATEWAY_METHOD_OVERRIDE", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub method_override: bool,

    /// Header a trusted reverse proxy appends the client address to (e.g. x-forwarded-for):
    /// the right-most entry of its last line is used, the one the proxy added. Only set it
    /// behind such a proxy; without the header, the connection's address is used.
    #[arg(long, env = "GATEWAY_CLIENT_IP_HEADER", global = true)]
    pub client_ip_header: Option<String>,

    /// Log format.
    #[arg(long, env = "GATEWAY_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// Log filter: a level (info, debug, ...) or tracing directives.
    #[arg(long, env = "GATEWAY_LOG", default_value = "info", global = true)]
    pub log_level: String,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "GATEWAY_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Database connections in the pool.
    #[arg(long, env = "GATEWAY_DB_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=512), global = true)]
    pub db_pool_size: u32,

    /// Longest wait for a database connection, in seconds: past it a request answers 503
    /// (bounds every request while the database is down).
    #[arg(long, env = "GATEWAY_DB_TIMEOUT_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300), global = true)]
    pub db_timeout_secs: u64,

    /// Longest time a client may take to send a request body, in seconds (then 408).
    #[arg(long, env = "GATEWAY_BODY_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub body_timeout_secs: u64,

    /// How often, in seconds, expired sessions, spent 2FA challenges and old throttle rows
    /// are deleted from the store.
    #[arg(long, env = "GATEWAY_PURGE_INTERVAL_SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86400), global = true)]
    pub purge_interval_secs: u64,

    /// Longest time, in seconds, that SIGTERM or SIGINT waits for requests in flight; then
    /// the process exits even if a request is stuck.
    #[arg(long, env = "GATEWAY_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub shutdown_timeout_secs: u64,

    /// The origin browsers reach the gateway at (e.g. https://dokploy.example.com): a
    /// state-changing request whose Origin is neither this nor a --cors-origin is refused.
    /// Default: the request's Host header.
    #[arg(long, env = "GATEWAY_PUBLIC_ORIGIN", value_parser = parse_origin, global = true)]
    pub public_origin: Option<String>,

    /// Browser origin allowed to call the API with credentials (CORS) and to send
    /// state-changing requests, e.g. https://app.example.com; repeat or comma-separate.
    /// None: no CORS headers at all.
    #[arg(long = "cors-origin", env = "GATEWAY_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin, global = true)]
    pub cors_origins: Vec<String>,

    /// The tRPC endpoint of the app behind the gateway (http://app:3000/api/trpc): calls of
    /// procedures the gateway does not serve go there, with the caller's signed identity.
    /// None: they answer NOT_FOUND.
    #[arg(long, env = "GATEWAY_UPSTREAM", global = true)]
    pub upstream: Option<String>,

    /// How long the upstream may take to answer, in seconds; then GATEWAY_TIMEOUT.
    #[arg(long, env = "GATEWAY_UPSTREAM_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub upstream_timeout_secs: u64,

    /// Longest URL of a forwarded GET batch; a longer one is split into several requests.
    #[arg(long, env = "GATEWAY_UPSTREAM_MAX_URL_BYTES", default_value_t = 8192, value_parser = clap::value_parser!(u64).range(256..=1048576), global = true)]
    pub upstream_max_url_bytes: u64,

    /// Forwarded calls need a valid session or API token (the gateway answers UNAUTHORIZED
    /// itself), except those of --upstream-public-path.
    #[arg(long, env = "GATEWAY_UPSTREAM_REQUIRE_SESSION", default_value_t = false, global = true)]
    pub upstream_require_session: bool,

    /// A procedure path anyone may call upstream with --upstream-require-session: exact
    /// (`settings.health`) or a whole router (`public.*`); repeat or comma-separate.
    #[arg(long = "upstream-public-path", env = "GATEWAY_UPSTREAM_PUBLIC_PATHS", value_delimiter = ',', global = true)]
    pub upstream_public_paths: Vec<String>,

    /// Prefix of the identity headers /api/forward-auth answers with: {prefix}Id,
    /// {prefix}Role, {prefix}Email.
    #[arg(long, env = "GATEWAY_FORWARD_AUTH_HEADER_PREFIX", default_value = "X-Auth-", value_parser = parse_header_prefix, global = true)]
    pub forward_auth_header_prefix: String,
}

/// A header name prefix: letters, digits and dashes.
fn parse_header_prefix(prefix: &str) -> Result<String, String> {
    let valid =
        !prefix.is_empty() && prefix.len() <= 64 && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    valid.then(|| prefix.to_owned()).ok_or_else(|| "letters, digits and dashes, as in X-Auth-".to_owned())
}

/// An exact origin, `scheme://host[:port]`: no wildcard, path or trailing slash, since
/// credentials are allowed for it.
fn parse_origin(value: &str) -> Result<String, String> {
    let value = value.trim();
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '*', ' ', '?', '#']) => Ok(value.to_owned()),
        _ => Err(format!("{value:?} is not an origin like https://app.example.com")),
    }
}

impl Settings {
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("gateway.db").display()))
    }

    pub fn root_key_file(&self) -> PathBuf {
        self.root_key_file.clone().unwrap_or_else(|| self.data_dir.join("root.key"))
    }

    pub fn token_keys_file(&self) -> PathBuf {
        self.token_keys_file.clone().unwrap_or_else(|| self.data_dir.join("token.keys"))
    }

    pub fn wire_config(&self) -> WireConfig {
        WireConfig {
            transformer: match self.transformer {
                TransformerArg::Superjson => Transformer::Superjson,
                TransformerArg::Json => Transformer::Json,
            },
            method_override: self.method_override,
            max_body_bytes: self.max_body_bytes as usize,
            max_batch_calls: self.max_batch_calls as usize,
            client_ip_header: self.client_ip_header.clone(),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            origins: OriginPolicy { public_origin: self.public_origin.clone(), trusted: self.cors_origins.clone() },
            session_cookie: gateway_auth::SESSION_COOKIE.into(),
            title: "Dokploy auth gateway".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            upstream: None,
            forward_auth_headers: ForwardAuthHeaders::with_prefix(&self.forward_auth_header_prefix),
        }
    }

    /// Where unknown calls go, if anywhere.
    pub fn upstream_options(&self) -> Option<UpstreamOptions> {
        self.upstream.as_ref().map(|url| UpstreamOptions {
            url: url.clone(),
            timeout: Duration::from_secs(self.upstream_timeout_secs),
            max_url_bytes: self.upstream_max_url_bytes as usize,
            own_cookies: [gateway_auth::SESSION_COOKIE, gateway_auth::CHALLENGE_COOKIE, gateway_auth::DEVICE_COOKIE]
                .map(str::to_owned)
                .to_vec(),
            require_session: self.upstream_require_session.then(|| self.upstream_public_paths.clone()),
        })
    }

    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig {
            bcrypt_cost: self.bcrypt_cost,
            session_ttl: Duration::from_secs(self.session_ttl_hours * 3600),
            api_token_ttl: Duration::from_secs(self.api_token_ttl_days * 24 * 3600),
            cookie_secure: self.cookie_secure,
            last_used_resolution: Duration::from_secs(self.last_used_resolution_secs),
            ..AuthConfig::default()
        }
    }
}

impl Settings {
    /// Every setting at its default, as `auth-gateway serve` without flags has them
    /// (`GATEWAY_*` and `DATABASE_URL` variables still apply).
    pub fn defaults() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            settings: Settings,
        }
        Only::parse_from(["auth-gateway"]).settings
    }

    /// Defaults with a throwaway data directory: enough to build the registry.
    pub fn for_documents(data_dir: &std::path::Path) -> Self {
        Settings {
            data_dir: data_dir.to_owned(),
            database_url: None,
            root_key_file: None,
            root_key: None,
            bcrypt_cost: 4,
            ..Settings::defaults()
        }
    }
}
