//! `auth-gateway`: serves Dokploy's auth API over tRPC and OpenAPI from one binary.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gateway_auth::{RootKey, UpstreamIdentity};
use gateway_server::{Settings, logging, openapi_document, prepare, serve, typescript_router};

#[derive(Parser)]
#[command(name = "auth-gateway", version, about = "A tRPC and OpenAPI gateway serving Dokploy's auth API")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Apply the database migrations, encrypt secrets an older store kept in clear, and exit.
    Migrate {
        /// List the applied and pending migrations; change nothing.
        #[arg(long)]
        status: bool,
        /// Exit with 1 when migrations are pending (for CI and deploy hooks); change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Copy the SQLite database, while the gateway serves, to a new file (mode 0600). The
    /// root key is not in the copy: keep it with the backup. On PostgreSQL, use pg_dump.
    Backup {
        /// The backup file to write; it must not exist.
        #[arg(long, value_name = "FILE")]
        to: std::path::PathBuf,
    },
    /// Write a new root key to the key file (refuses to overwrite one); or rotate the
    /// token signing keys without logging anyone out.
    Keygen {
        /// Make a new token signing key the current one; tokens signed by the previous keys
        /// keep working until those are retired. Writes the token keys file, or with
        /// --token-keys prints the new value of that setting.
        #[arg(long, conflicts_with = "retire")]
        rotate: bool,
        /// Retire a previous token signing key (`root` or its id): the tokens it signed
        /// stop working.
        #[arg(long, value_name = "ID")]
        retire: Option<String>,
    },
    /// Operator escape hatches that work without the HTTP API.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Bring accounts, sessions and API tokens over from another installation.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print the OpenAPI document.
    Openapi,
    /// Print the TypeScript router (`export type AppRouter`) for tRPC clients.
    Typescript,
    /// Print the public key an app behind the gateway (--upstream) verifies the signed
    /// identity header with (`ed25519/<hex>`).
    PublicKey,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Set an account's password (read from standard input), revoke all its sessions and
    /// clear its failed-attempt counter.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
    /// Clear an account's failed-attempt counter, so that it can log in again at once.
    Unlock {
        #[arg(long)]
        email: String,
    },
    /// Invite a user: prints the account id and the invitation token.
    Invite {
        #[arg(long)]
        email: String,
    },
    /// Turn an account's 2FA off (its owner lost their authenticator) and end its browser
    /// sessions; its API token keeps working.
    #[command(name = "disable-2fa")]
    Disable2fa {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import a Dokploy installation (its lucia-based releases, up to v0.18): accounts,
    /// admin, invitations, 2FA, sessions and API tokens, in one transaction. A second run
    /// changes nothing. Exits with 1, writing nothing, when emails collide.
    Dokploy {
        /// Dokploy's PostgreSQL database, for example postgres://dokploy:PASSWORD@HOST:5432/dokploy
        /// (from the environment, the password stays out of the process list).
        #[arg(long, value_name = "POSTGRES_URL", env = "DOKPLOY_DATABASE_URL", hide_env_values = true)]
        from: String,
        /// Print the report without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line naming the setting, not a usage dump.
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("invalid arguments"));
            return ExitCode::from(2);
        }
    };
    let settings = cli.settings;
    if let Err(e) = logging::init(settings.log_format, &settings.log_level) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match run(cli.command.unwrap_or(Command::Serve), settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => actix_web::rt::System::new().block_on(serve(settings)),
        Command::Migrate { status, check } if status || check => {
            let url = settings.database_url();
            let options = gateway_store::PoolOptions {
                connection_timeout: std::time::Duration::from_secs(settings.db_timeout_secs),
                ..Default::default()
            };
            let found = gateway_store::Store::migration_status(&url, options)
                .with_context(|| format!("database {}", gateway_server::redact(&url)))?;
            if status {
                for version in &found.applied {
                    println!("applied  {version}");
                }
                for version in &found.pending {
                    println!("pending  {version}");
                }
                for version in &found.unknown {
                    println!("unknown  {version} (a newer version applied it)");
                }
            }
            if !found.unknown.is_empty() {
                anyhow::bail!("the database has migrations this version does not know");
            }
            if check && !found.pending.is_empty() {
                anyhow::bail!("{} migrations pending", found.pending.len());
            }
            Ok(())
        }
        Command::Migrate { .. } => {
            let store = gateway_server::open_store(&settings)?;
            let applied = store.migrate()?;
            let (root_key, _) = gateway_server::load_root_key(&settings)?;
            gateway_server::seal_stored_secrets(&store, &root_key)?;
            println!("{} database is up to date ({} migrations applied now)", store.backend(), applied.len());
            Ok(())
        }
        Command::Backup { to } => {
            let backup = gateway_store::backup::to_file(&settings.database_url(), &to)?;
            println!("backed up {} accounts to {} ({} bytes)", backup.accounts, backup.path.display(), backup.bytes);
            // Never the keys themselves: where they are kept.
            let mut key = match &settings.root_key {
                Some(_) => "the root key given by --root-key (GATEWAY_ROOT_KEY)".to_owned(),
                None => format!("the root key file {}", settings.root_key_file().display()),
            };
            if settings.token_keys.is_some() {
                key.push_str(" and the token keys given by --token-keys (GATEWAY_TOKEN_KEYS)");
            } else if settings.token_keys_file().exists() {
                key.push_str(&format!(" and the token keys file {}", settings.token_keys_file().display()));
            }
            println!(
                "its sessions, API tokens and 2FA secrets work only with {key}: keep a copy of it with the backup"
            );
            Ok(())
        }
        Command::Keygen { rotate: false, retire: None } => {
            let path = settings.root_key_file();
            RootKey::generate().save(&path).map_err(anyhow::Error::msg)?;
            println!("wrote a new root key to {}", path.display());
            Ok(())
        }
        Command::Keygen { rotate, retire } => {
            let root_key = gateway_server::existing_root_key(&settings)?;
            let mut keys = gateway_server::load_token_keys(&settings, &root_key)?;
            let done = match retire {
                Some(which) => {
                    keys.retire(&which).map_err(anyhow::Error::msg)?;
                    format!("retired token key {which}: the tokens it signed no longer work")
                }
                None if rotate => format!("token key {} signs new tokens", keys.rotate()),
                None => unreachable!("handled above"),
            };
            let names = keys.names().join(", ");
            if settings.token_keys.is_some() {
                // The keys live in a setting: its new value, for the operator to store.
                println!("{}", keys.to_setting());
                eprintln!(
                    "{done}; keys now {names} (current first): set GATEWAY_TOKEN_KEYS to the line above on every replica"
                );
            } else {
                let path = settings.token_keys_file();
                keys.save(&path).map_err(anyhow::Error::msg)?;
                println!("{done}; keys now {names} (current first), in {}", path.display());
            }
            Ok(())
        }
        Command::PublicKey => {
            let (root_key, _) = gateway_server::load_root_key(&settings)?;
            println!("{}", UpstreamIdentity::new(&root_key).public_key());
            Ok(())
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&openapi_document()?)?);
            Ok(())
        }
        Command::Typescript => {
            print!("{}", typescript_router(&settings)?);
            Ok(())
        }
        Command::Import(ImportCommand::Dokploy { from, dry_run }) => {
            let root_key = gateway_server::existing_root_key(&settings)?;
            let store = gateway_server::open_store(&settings)?;
            let report = gateway_auth::import_dokploy(&store, &root_key, &from, settings.bcrypt_cost, dry_run)
                .map_err(|e| anyhow::anyhow!(gateway_server::without_password(&e, &from)))?;
            print!("{report}");
            if report.refused() {
                anyhow::bail!("the import was refused; nothing was written");
            }
            Ok(())
        }
        Command::Admin(admin) => {
            let prepared = prepare(&settings)?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            match admin {
                AdminCommand::ResetPassword { email } => {
                    let mut password = String::new();
                    std::io::stdin().read_to_string(&mut password).context("reading the password")?;
                    let password = password.trim_end_matches(['\r', '\n']).to_owned();
                    if !(8..=256).contains(&password.chars().count()) {
                        anyhow::bail!("the password must be 8 to 256 characters");
                    }
                    if password.chars().any(|c| c.is_ascii_control() && c != '\t') {
                        anyhow::bail!("the password must not contain control characters");
                    }
                    let id = runtime.block_on(prepared.service.reset_password(email, password))?;
                    println!("password reset for {id}; its sessions are revoked");
                }
                AdminCommand::Unlock { email } => {
                    let id = runtime.block_on(prepared.service.unlock(email))?;
                    println!("failed attempts cleared for {id}");
                }
                AdminCommand::Invite { email } => {
                    let invitation = runtime.block_on(prepared.service.invite(None, email))?;
                    println!("{}", serde_json::to_string_pretty(&invitation)?);
                }
                AdminCommand::Disable2fa { email } => {
                    let id = runtime.block_on(prepared.service.disable_2fa_by_email(email))?;
                    println!("2FA turned off for {id}; its browser sessions are ended");
                }
            }
            Ok(())
        }
    }
}
