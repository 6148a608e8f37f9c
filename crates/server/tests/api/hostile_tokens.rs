//! Tokens an attacker builds from one they hold: anyone can append a block to a biscuit
//! token without the root key, and a block's Datalog can be written to run for hours. The
//! gateway refuses every such token before any Datalog runs, so a hundred of them in flight
//! cost it nothing: `/health` and real callers keep being answered.

use crate::helpers::*;
use biscuit_auth::UnverifiedBiscuit;
use biscuit_auth::builder::BlockBuilder;
use futures_util::future::join_all;
use gateway_store::Backend;
use rstest::rstest;
use serde_json::Value;

/// `token` with one more block: ten facts and a check joining eight of them (10^8 steps, within
/// the authorizer's fact limit).
fn with_expensive_block(token: &str) -> String {
    let mut code: String = (0..10).map(|i| format!("n({i});")).collect();
    code.push_str("check if n($a), n($b), n($c), n($d), n($e), n($f), n($g), n($h), $a < 0;");
    let block = BlockBuilder::new().code(&code).unwrap();
    UnverifiedBiscuit::from_base64(token).unwrap().append(block).unwrap().to_base64().unwrap()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_hundred_hostile_tokens_in_flight_leave_the_gateway_answering(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        let token = admin.mutation("auth.generateToken", Value::Null).await.ok()["token"].as_str().unwrap().to_owned();
        let cookie = admin
            .mutation("auth.login", serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .await
            .set_cookie("auth_session")
            .unwrap();
        let session = cookie.split(';').next().unwrap().strip_prefix("auth_session=").unwrap().to_owned();
        let hostile_api = with_expensive_block(&token);
        let hostile_session = with_expensive_block(&session);
        // Within the size limit: the parser, not the length check, has to refuse them.
        assert!(hostile_api.len().max(hostile_session.len()) <= gateway_auth::MAX_TOKEN_CHARS);
        let api = s.browser().bearer(&token);

        let hostile = (0..100).map(|i| {
            let b = match i % 3 {
                0 => s.browser().bearer(&hostile_api),
                1 => s.browser().with_header("x-api-key", &hostile_api),
                _ => s.browser().with_header("cookie", &format!("auth_session={hostile_session}")),
            };
            async move { b.query("auth.get", Value::Null).await }
        });
        let meanwhile = async {
            let health = s.browser().raw(|c, base| c.get(format!("{base}/health"))).await;
            let me = api.query("auth.get", Value::Null).await;
            (health, me)
        };
        let (refused, (health, me)) = futures_util::join!(join_all(hostile), meanwhile);
        assert_eq!(health.status, 200);
        assert_eq!(me.ok()["email"], ADMIN_EMAIL);
        for r in &refused {
            r.fails(401, "UNAUTHORIZED", "");
        }

        // The same block on a revoked token or a token of another key is refused the same way.
        let fresh = admin.mutation("auth.generateToken", Value::Null).await.ok()["token"].as_str().unwrap().to_owned();
        let revoked = with_expensive_block(&token);
        let other_key = biscuit_auth::KeyPair::new();
        let foreign = biscuit_auth::Biscuit::builder().fact("auth_id(\"x\")").unwrap().build(&other_key).unwrap();
        let foreign = with_expensive_block(&foreign.to_base64().unwrap());
        for t in [revoked, foreign] {
            s.browser().bearer(&t).query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        }
        s.browser().bearer(&fresh).query("auth.get", Value::Null).await.ok();
    }
    on_backend!(backend, scenario);
}
