//! What verifying a token costs, by kind of token: `cargo run --release -p gateway-auth
//! --example token_costs`. A hostile token (a valid one with a block appended, whose Datalog
//! would run for minutes) must cost about what a normal verify costs, or less. Last, what
//! such a block costs an authorizer that does run it, without the gateway's shape check.

use std::hint::black_box;
use std::time::{Duration, Instant};

use biscuit_auth::builder::BlockBuilder;
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit, KeyPair, UnverifiedBiscuit};
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

/// The Datalog of the block `hostile_tokens.rs` appends, joining `ways` facts: ten facts
/// and a check over `ways` of them, 10^ways combinations, none of which passes.
fn joining_block(ways: usize) -> BlockBuilder {
    let mut code: String = (0..10).map(|i| format!("n({i});")).collect();
    let vars: Vec<String> = (0..ways).map(|v| format!("n($v{v})")).collect();
    code.push_str(&format!("check if {}, $v0 < 0;", vars.join(", ")));
    BlockBuilder::new().code(&code).unwrap()
}

/// How long an authorizer with no run limit to speak of takes over a token with that block.
fn authorizer_time(ways: usize) -> Duration {
    let root = KeyPair::new();
    let token = Biscuit::builder().fact("user(\"x\")").unwrap().build(&root).unwrap();
    let token = token.append(joining_block(ways)).unwrap();
    let limits = AuthorizerLimits { max_facts: 1000, max_iterations: 100, max_time: Duration::from_secs(3600) };
    let mut authorizer =
        AuthorizerBuilder::new().policy("allow if true").unwrap().set_limits(limits).build(&token).unwrap();
    let start = Instant::now();
    assert!(authorizer.authorize().is_err(), "the check fails for every combination");
    start.elapsed()
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
    let hostile = UnverifiedBiscuit::from_base64(&good).unwrap().append(joining_block(8)).unwrap().to_base64().unwrap();
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

    println!("an authorizer that runs the appended block (a check joining ten facts n ways):");
    let mut last = Duration::ZERO;
    for ways in 4..=6 {
        last = authorizer_time(ways);
        println!("  {ways}-way join, 10^{ways} combinations  {:>10.1} ms", last.as_secs_f64() * 1e3);
    }
    println!(
        "  8-way join (the hostile token's), 10^8: about {:.0} s at the 6-way join's rate",
        last.as_secs_f64() * 100.0
    );
}
