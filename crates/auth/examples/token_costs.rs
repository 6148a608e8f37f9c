//! What verifying a token costs, by kind of token: `cargo run --release -p gateway-auth
//! --example token_costs`. A hostile token (a valid one with a block appended, whose Datalog
//! would run for hours) must cost about what a normal verify costs, or less.

use std::hint::black_box;
use std::time::{Duration, Instant};

use biscuit_auth::UnverifiedBiscuit;
use biscuit_auth::builder::BlockBuilder;
use gateway_auth::{Claims, RootKey};
use gateway_store::session::SessionKind;

/// Median time of `f` over `runs` runs of `batch` calls each, per call.
fn per_call(runs: usize, batch: u32, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed() / batch
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let key = RootKey::generate();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = Claims {
        auth_id: "eAJ3uUJASl_OvxEiThGF1".into(),
        session_id: "b5f5f7e6a417484c5e5925efc4753a44c53e6a172ac378b5b81dcb2f57030773".into(),
        kind: SessionKind::ApiToken,
        expires_at: now + 3600,
    };
    let good = key.mint(&claims);
    let mut code: String = (0..10).map(|i| format!("n({i});")).collect();
    code.push_str("check if n($a), n($b), n($c), n($d), n($e), n($f), n($g), n($h), $a < 0;");
    let block = BlockBuilder::new().code(&code).unwrap();
    let hostile = UnverifiedBiscuit::from_base64(&good).unwrap().append(block).unwrap().to_base64().unwrap();
    let foreign = RootKey::generate().mint(&claims);
    let garbage = "A".repeat(good.len());
    let oversized = "A".repeat(gateway_auth::MAX_TOKEN_CHARS + 1);
    assert!(key.verify(&good).is_some() && key.verify(&hostile).is_none());
    println!("verify, median of 21 runs of 200 calls (release build):");
    for (what, token) in [
        ("minted token (accepted)", &good),
        ("appended 8-way join (hostile)", &hostile),
        ("another key's token", &foreign),
        ("garbage of the same length", &garbage),
        ("over the size limit", &oversized),
    ] {
        let t = per_call(21, 200, || {
            black_box(key.verify(black_box(token)));
        });
        println!("  {what:32} {:>8.1} µs  ({} characters)", t.as_secs_f64() * 1e6, token.len());
    }
}
