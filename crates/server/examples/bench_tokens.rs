//! API tokens for sessions the benchmark seeds with SQL (`bench/run.sh`, scenario E): one
//! token per session row `<SESSION_PREFIX><i>`, i = 1..=COUNT, signed with the gateway's
//! current token key as `auth.generateToken` signs them, printed one per line.
//!
//!   cargo run --release -p gateway-server --example bench_tokens -- \
//!     --data-dir DIR --sessions seed-api- --count 100000 --expires-at UNIX \
//!     (--account ID | --accounts seed-)
//!
//! A token names its account and session, so each needs its own signature: a loop over
//! the public API would cost a login (bcrypt) per account.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Parser;
use gateway_auth::{Claims, TokenKeys};
use gateway_server::{Settings, existing_root_key, load_token_keys};
use gateway_store::session::SessionKind;

#[derive(Parser)]
struct Args {
    /// The gateway's data directory (its root key and token keys).
    #[arg(long)]
    data_dir: PathBuf,
    /// Session ids are this prefix followed by 1..=count.
    #[arg(long)]
    sessions: String,
    #[arg(long)]
    count: u32,
    /// Unix seconds, as the seeded rows' `expiresAt`.
    #[arg(long)]
    expires_at: i64,
    /// Every session belongs to this account.
    #[arg(long, conflicts_with = "accounts", required_unless_present = "accounts")]
    account: Option<String>,
    /// Session i belongs to the account `<prefix><i>`.
    #[arg(long)]
    accounts: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = Settings { data_dir: args.data_dir.clone(), ..Settings::defaults() };
    let keys = load_token_keys(&settings, &existing_root_key(&settings)?)?;
    let claims = |i: u32| Claims {
        auth_id: match &args.account {
            Some(id) => id.clone(),
            None => format!("{}{i}", args.accounts.as_deref().unwrap_or_default()),
        },
        session_id: format!("{}{i}", args.sessions),
        kind: SessionKind::ApiToken,
        expires_at: args.expires_at,
    };
    // Signing is the slow part: one half of the range per core.
    let half = args.count / 2;
    let mint = |range: std::ops::RangeInclusive<u32>, keys: &TokenKeys| -> Vec<String> {
        range.map(|i| keys.mint(&claims(i))).collect()
    };
    let (first, second) = std::thread::scope(|s| {
        let first = s.spawn(|| mint(1..=half, &keys));
        let second = mint(half + 1..=args.count, &keys);
        (first.join().expect("the minting thread"), second)
    });
    let mut out = BufWriter::new(std::io::stdout().lock());
    for token in first.iter().chain(&second) {
        writeln!(out, "{token}")?;
    }
    Ok(out.flush()?)
}
