//! Sessions their owner sees and ends (`auth.listSessions`, `auth.revokeSession`,
//! `auth.revokeOtherSessions`) and an admin's counterparts (`admin.*`), on every backend:
//! what a listing shows and never shows, that ending a session ends exactly it, at once,
//! that another account's sessions cannot be ended or probed, how coarse the last use is,
//! and that a hostile User-Agent is cleaned and bounded.

use std::time::{Duration, Instant};

use crate::helpers::*;
use gateway_store::Backend;
use rstest::rstest;
use serde_json::{Value, json};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/126.0 Safari/537.36";
const FIELDS: [&str; 9] =
    ["clientAddress", "createdAt", "current", "expiresAt", "id", "imported", "kind", "lastUsedAt", "userAgent"];

/// The sessions `b` lists (`auth.listSessions`).
async fn sessions(b: &Browser) -> Vec<Value> {
    let r = b.query("auth.listSessions", Value::Null).await;
    r.ok()["sessions"].as_array().expect("a list of sessions").clone()
}

/// The one session of `list` that `pick` chooses.
#[track_caller]
fn one(list: &[Value], pick: impl Fn(&Value) -> bool) -> &Value {
    let found: Vec<&Value> = list.iter().filter(|s| pick(s)).collect();
    assert_eq!(found.len(), 1, "{list:?}");
    found[0]
}

fn id(session: &Value) -> String {
    session["id"].as_str().unwrap().to_owned()
}

/// Signs `b` in with the admin's credentials; returns the session cookie's value.
async fn login(b: &Browser) -> String {
    let r = b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
    r.ok();
    cookie_value(&r)
}

fn cookie_value(r: &Reply) -> String {
    let header = r.set_cookie("auth_session").expect("a session cookie");
    header["auth_session=".len()..].split(';').next().unwrap().to_owned()
}

/// Every session row id in the store.
fn row_ids(s: &TestServer) -> Vec<String> {
    use diesel::prelude::*;
    use gateway_store::schema::session;
    let mut conn = s.prepared.store.conn().unwrap();
    session::table.select(session::id).load(&mut *conn).unwrap()
}

/// Rows of session_activity: (session id, unix seconds).
fn activity_rows(s: &TestServer) -> Vec<(String, i64)> {
    use diesel::prelude::*;
    use gateway_store::schema::session_activity;
    let mut conn = s.prepared.store.conn().unwrap();
    session_activity::table.load(&mut *conn).unwrap()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_listing_shows_each_session_and_the_api_token_and_nothing_secret(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = s.browser().with_header("user-agent", FIREFOX);
        let created = a.mutation("auth.createAdmin", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        created.ok();
        let b = s.browser().with_header("user-agent", CHROME);
        let (cookie_a, cookie_b) = (cookie_value(&created), login(&b).await);
        let token = a.mutation0("auth.generateToken").await.ok()["token"].as_str().unwrap().to_owned();
        let api = s.browser().bearer(&token);

        let r = a.query("auth.listSessions", Value::Null).await;
        let list = r.ok()["sessions"].as_array().unwrap().clone();
        assert_eq!(list.len(), 3, "{list:?}");
        for session in &list {
            let mut keys: Vec<&str> = session.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(keys, FIELDS, "{session}");
            assert_eq!(session["clientAddress"], "127.0.0.1");
            assert_eq!(session["imported"], false);
            assert_eq!(session["lastUsedAt"], session["createdAt"], "not used since made (coarsely)");
            assert_eq!(id(session).len(), 32);
        }
        assert_eq!(list[0]["current"], true, "the current session comes first: {list:?}");
        let mine = one(&list, |s| s["current"] == true);
        assert_eq!((&mine["kind"], &mine["userAgent"]), (&json!("session"), &json!(FIREFOX)));
        let other = one(&list, |s| s["userAgent"] == CHROME);
        assert_eq!((&other["kind"], &other["current"]), (&json!("session"), &json!(false)));
        let api_token = one(&list, |s| s["kind"] == "apiToken");
        assert_eq!((&api_token["current"], &api_token["userAgent"]), (&json!(false), &json!(FIREFOX)));
        let lifetime = |s: &Value| {
            let secs = |f: &str| unix_secs(s[f].as_str().unwrap());
            secs("expiresAt") - secs("createdAt")
        };
        assert!((24 * 3600 - 5..=24 * 3600 + 5).contains(&lifetime(mine)), "{mine}");
        assert!((30 * 86400 - 5..=30 * 86400 + 5).contains(&lifetime(api_token)), "{api_token}");

        // Nothing in the answer is a credential, or names one as the store does.
        let text = r.body.to_string();
        for secret in [&token, &cookie_a, &cookie_b] {
            assert!(!text.contains(secret.as_str()), "a credential in {text}");
        }
        let rows = row_ids(s);
        assert_eq!(rows.len(), 3);
        for row in &rows {
            assert!(!text.contains(row.as_str()) && !text.contains(&row[..16]), "row id {row} in {text}");
        }
        // A listed id is no credential either: as a cookie or a token it is refused.
        let by_id = s.browser().with_header("cookie", &format!("auth_session={}", id(other)));
        by_id.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        s.browser().bearer(&id(api_token)).query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");

        // The same ids from another of them; there, it is the one marked current.
        let from_api = sessions(&api).await;
        assert_eq!(id(one(&from_api, |s| s["current"] == true)), id(api_token));
        let mut ids: Vec<String> = from_api.iter().map(id).collect();
        let mut before: Vec<String> = list.iter().map(id).collect();
        ids.sort();
        before.sort();
        assert_eq!(ids, before);
        // The REST surface gives the same listing.
        let rest = b.rest_get("auth.listSessions", &[]).await;
        assert_eq!(rest.status, 200, "{:?}", rest.body);
        assert_eq!(id(one(rest.body["sessions"].as_array().unwrap(), |s| s["current"] == true)), id(other));
    }
    on_backend!(backend, scenario);
}

/// Unix seconds of an ISO-8601 timestamp.
fn unix_secs(iso: &str) -> i64 {
    time::OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn revoking_a_session_ends_exactly_it(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let (b, c) = (s.browser(), s.browser());
        login(&b).await;
        login(&c).await;
        let token = a.mutation0("auth.generateToken").await.ok()["token"].as_str().unwrap().to_owned();
        let api = s.browser().bearer(&token);
        for browser in [&a, &b, &c, &api] {
            browser.query("auth.get", Value::Null).await.ok();
            browser.query("auth.get", Value::Null).await.ok(); // answered from memory now
        }
        let b_id = id(one(&sessions(&b).await, |s| s["current"] == true));

        assert_eq!(a.mutation("auth.revokeSession", json!({"sessionId": b_id})).await.ok(), &json!(true));
        b.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        for still in [&a, &c, &api] {
            still.query("auth.get", Value::Null).await.ok();
        }
        let left = sessions(&a).await;
        assert_eq!(left.len(), 3);
        assert!(left.iter().all(|s| id(s) != b_id));
        let again = a.mutation("auth.revokeSession", json!({"sessionId": b_id})).await;
        again.fails(404, "NOT_FOUND", "Session not found");

        // The API token: refused at once, and no longer the account's token.
        let token_id = id(one(&left, |s| s["kind"] == "apiToken"));
        assert_eq!(c.mutation("auth.revokeSession", json!({"sessionId": token_id})).await.ok(), &json!(true));
        api.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        assert_eq!(a.query("auth.get", Value::Null).await.ok()["token"], Value::Null);

        // The current session: a logout, the cookie cleared.
        let c_id = id(one(&sessions(&c).await, |s| s["current"] == true));
        let own = c.mutation("auth.revokeSession", json!({"sessionId": c_id})).await;
        assert_eq!(own.ok(), &json!(true));
        let removal = own.set_cookie("auth_session").expect("the cookie is cleared");
        assert!(removal.starts_with("auth_session=;") && removal.contains("Max-Age=0"), "{removal}");
        c.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        assert_eq!(sessions(&a).await.len(), 1);
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn revoking_the_other_sessions_keeps_the_current_one_and_the_api_token(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let others = [s.browser(), s.browser(), s.browser()];
        for b in &others {
            login(b).await;
            b.query("auth.get", Value::Null).await.ok();
        }
        let token = a.mutation0("auth.generateToken").await.ok()["token"].as_str().unwrap().to_owned();
        let api = s.browser().bearer(&token);
        let (user, _) = user(s, &a, "user@example.com", "user-password").await;

        let r = a.mutation0("auth.revokeOtherSessions").await;
        assert_eq!(r.ok(), &json!({"revoked": 3}));
        for b in &others {
            b.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        }
        a.query("auth.get", Value::Null).await.ok();
        api.query("auth.get", Value::Null).await.ok();
        user.query("auth.get", Value::Null).await.ok();
        let left = sessions(&a).await;
        let kinds: Vec<(&Value, &Value)> = left.iter().map(|s| (&s["kind"], &s["current"])).collect();
        assert_eq!(kinds, [(&json!("session"), &json!(true)), (&json!("apiToken"), &json!(false))]);

        // Called with the API token, the browser sessions end and the token stays.
        assert_eq!(api.mutation0("auth.revokeOtherSessions").await.ok(), &json!({"revoked": 1}));
        a.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        api.query("auth.get", Value::Null).await.ok();
        assert_eq!(api.mutation0("auth.revokeOtherSessions").await.ok(), &json!({"revoked": 0}));
        assert_eq!(sessions(&user).await.len(), 1, "another account's sessions are untouched");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn another_accounts_session_is_refused_exactly_like_a_made_up_one(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let (user, _) = user(s, &a, "user@example.com", "user-password").await;
        let token = a.mutation0("auth.generateToken").await.ok()["token"].as_str().unwrap().to_owned();
        let theirs: Vec<String> = sessions(&a).await.iter().map(id).collect();
        assert_eq!(theirs.len(), 2);
        let before = gateway_store::testing::snapshot(&s.prepared.store);

        let made_up = "0123456789abcdef0123456789abcdef";
        let refused = user.mutation("auth.revokeSession", json!({"sessionId": made_up})).await;
        refused.fails(404, "NOT_FOUND", "Session not found");
        let rest_refused = user.rest_post("auth.revokeSession", json!({"sessionId": made_up})).await;
        assert_eq!(rest_refused.status, 404);
        for other in &theirs {
            let r = user.mutation("auth.revokeSession", json!({"sessionId": other})).await;
            assert_eq!((r.status, &r.body), (refused.status, &refused.body), "told apart from a made-up id");
            let rest = user.rest_post("auth.revokeSession", json!({"sessionId": other})).await;
            assert_eq!((rest.status, &rest.body), (rest_refused.status, &rest_refused.body));
        }
        assert_eq!(gateway_store::testing::snapshot(&s.prepared.store), before, "a refused call changed the store");
        a.query("auth.get", Value::Null).await.ok();
        s.browser().bearer(&token).query("auth.get", Value::Null).await.ok();
        assert!(sessions(&user).await.iter().all(|s| !theirs.contains(&id(s))), "a listing shows only one's own");

        // Admin procedures are the admin's: a user is refused, and nothing changes.
        let admin_id = a.query("auth.get", Value::Null).await.ok()["id"].clone();
        let calls = [
            ("admin.revokeSession", json!({"authId": admin_id, "sessionId": theirs[0]})),
            ("admin.revokeAllSessions", json!({"authId": admin_id})),
        ];
        for (path, input) in calls {
            user.mutation(path, input).await.fails(403, "FORBIDDEN", "");
        }
        user.query("admin.listSessions", json!({"authId": admin_id})).await.fails(403, "FORBIDDEN", "");
        assert_eq!(gateway_store::testing::snapshot(&s.prepared.store), before);
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn an_admin_lists_and_ends_another_accounts_sessions(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let (u1, user_id) = user(s, &a, "user@example.com", "user-password").await;
        let u2 = s.browser().with_header("user-agent", CHROME);
        u2.mutation("auth.login", json!({"email": "user@example.com", "password": "user-password"})).await.ok();
        let token = u1.mutation0("auth.generateToken").await.ok()["token"].as_str().unwrap().to_owned();
        let api = s.browser().bearer(&token);
        api.query("auth.get", Value::Null).await.ok();

        let listed = a.query("admin.listSessions", json!({"authId": user_id})).await;
        let list = listed.ok()["sessions"].as_array().unwrap().clone();
        assert_eq!(list.len(), 3);
        assert!(list.iter().all(|s| s["current"] == false));
        let mut own: Vec<String> = sessions(&u1).await.iter().map(id).collect();
        let mut seen: Vec<String> = list.iter().map(id).collect();
        own.sort();
        seen.sort();
        assert_eq!(seen, own, "the ids the owner sees");

        let u2_id = id(one(&list, |s| s["userAgent"] == CHROME));
        let admin_id = a.query("auth.get", Value::Null).await.ok()["id"].clone();
        let wrong_account = a.mutation("admin.revokeSession", json!({"authId": admin_id, "sessionId": u2_id})).await;
        wrong_account.fails(404, "NOT_FOUND", "Session not found");
        u2.query("auth.get", Value::Null).await.ok();
        let ended = a.mutation("admin.revokeSession", json!({"authId": user_id, "sessionId": u2_id})).await;
        assert_eq!(ended.ok(), &json!(true));
        assert!(ended.set_cookie("auth_session").is_none(), "the admin's own cookie stays");
        u2.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        u1.query("auth.get", Value::Null).await.ok();

        let all = a.mutation("admin.revokeAllSessions", json!({"authId": user_id})).await;
        assert_eq!(all.ok(), &json!({"revoked": 2}));
        u1.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        api.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        assert_eq!(a.query("auth.one", json!({"id": user_id})).await.ok()["token"], Value::Null);
        let empty = a.query("admin.listSessions", json!({"authId": user_id})).await;
        assert_eq!(empty.ok(), &json!({"sessions": []}));
        a.query("auth.get", Value::Null).await.ok();

        let own = a.mutation("admin.revokeAllSessions", json!({"authId": admin_id})).await;
        own.fails(400, "BAD_REQUEST", "Use auth.revokeOtherSessions for your own sessions");
        a.query("admin.listSessions", json!({"authId": "no-such-id"})).await.fails(404, "NOT_FOUND", "Auth not found");
        let nobody = a.mutation("admin.revokeAllSessions", json!({"authId": "no-such-id"})).await;
        nobody.fails(404, "NOT_FOUND", "Auth not found");
        let bad = a.mutation("admin.revokeSession", json!({"authId": user_id, "sessionId": ""})).await;
        assert_eq!((bad.status, bad.code()), (400, "BAD_REQUEST"));
        assert_eq!(bad.error()["data"]["issues"][0]["path"], json!(["sessionId"]));
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn the_last_use_is_recorded_coarsely(#[case] backend: Backend) {
    // At the default resolution (an hour), calls record nothing: no store write per call.
    async fn hourly(s: &TestServer) {
        let a = admin(s).await;
        let token = a.mutation0("auth.generateToken").await.ok()["token"].as_str().unwrap().to_owned();
        let api = s.browser().bearer(&token);
        for _ in 0..20 {
            a.query("auth.get", Value::Null).await.ok();
            api.query("auth.get", Value::Null).await.ok();
        }
        assert!(sessions(&a).await.iter().all(|s| s["lastUsedAt"] == s["createdAt"]));
        assert_eq!(activity_rows(s), [], "no use recorded within the hour");
    }
    on_backend!(backend, hourly);

    // At one second, a use is recorded once the one recorded is a second old.
    if let Some(db) = fresh_database(backend) {
        let mut settings = settings(&db.url);
        settings.last_used_resolution_secs = 1;
        let s = TestServer::start_with(settings).await;
        let a = admin(&s).await;
        let token = a.mutation0("auth.generateToken").await.ok()["token"].as_str().unwrap().to_owned();
        let api = s.browser().bearer(&token);
        // (No check that nothing is recorded yet: a second may have turned since the login.
        // The hourly case above shows that uses within the resolution record nothing.)
        let first = sessions(&a).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let later = loop {
            api.query("auth.get", Value::Null).await.ok();
            let now = sessions(&a).await;
            if now.iter().all(|s| s["lastUsedAt"] != s["createdAt"]) {
                break now;
            }
            assert!(Instant::now() < deadline, "no use recorded: {now:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        for (before, after) in first.iter().zip(&later) {
            assert_eq!((id(before), &before["createdAt"]), (id(after), &after["createdAt"]));
            assert!(after["lastUsedAt"].as_str() > after["createdAt"].as_str(), "{after}");
        }
        assert_eq!(activity_rows(&s).len(), 2, "one row per session");
        s.stop().await;
    }
}

/// Sends one raw HTTP/1.1 request (headers as bytes, any bytes) and returns the answer's
/// status line and headers.
async fn raw_request(addr: std::net::SocketAddr, head: &[u8], body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = head.to_vec();
    let length =
        format!("Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    request.extend_from_slice(length.as_bytes());
    request.extend_from_slice(body.as_bytes());
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_hostile_user_agent_is_cleaned_and_bounded(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let login =
            serde_json::to_string(&json!({"json": {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}})).unwrap();
        // Tabs, a right-to-left override, a zero-width space, bytes that are not UTF-8, and
        // 20,000 characters.
        let mut agent = b"Evil\t\tBrowser \xe2\x80\xae/1.0\xe2\x80\x8b \xff\xfe ".to_vec();
        agent.extend(std::iter::repeat_n(b'A', 20_000));
        let mut head = b"POST /api/trpc/auth.login HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ".to_vec();
        head.extend_from_slice(&agent);
        head.extend_from_slice(b"\r\n");
        let answer = raw_request(s.addr, &head, &login).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{}", &answer[..answer.len().min(300)]);

        // Control characters do not get past the HTTP parser; the request is refused whole.
        let mut head =
            b"POST /api/trpc/auth.login HTTP/1.1\r\nHost: localhost\r\nUser-Agent: a\x01\x1b[2Jb\r\n".to_vec();
        head.extend_from_slice(b"X-Other: 1\r\n");
        let refused = raw_request(s.addr, &head, &login).await;
        assert!(refused.starts_with("HTTP/1.1 400"), "{}", &refused[..refused.len().min(300)]);

        let list = sessions(&a).await;
        assert_eq!(list.len(), 2, "the refused request made no session: {list:?}");
        let agent = one(&list, |s| s["current"] == false)["userAgent"].as_str().unwrap().to_owned();
        assert_eq!(agent.chars().count(), 256, "{agent}");
        assert!(agent.starts_with("Evil Browser /1.0 \u{FFFD}\u{FFFD} AAAA"), "{agent:?}");
        assert!(agent.ends_with("A…"), "{agent:?}");
        assert!(!agent.chars().any(|c| c.is_control() || c == '\u{202E}' || c == '\u{200B}'), "{agent:?}");
        // Without a User-Agent, there is none to show.
        assert_eq!(one(&list, |s| s["current"] == true)["userAgent"], Value::Null);
    }
    on_backend!(backend, scenario);
}

/// Revocation reaches a second gateway process sharing the PostgreSQL database as fast as
/// a logout does: through the auth epoch's notification.
#[tokio::test]
async fn a_session_revoked_on_one_replica_is_refused_by_the_other() {
    use crate::process::{refused_within, replicas};
    let Some(db) = fresh_database(Backend::Postgres) else { return };
    let [(a, _a_dir), (b, _b_dir)] = replicas(&db.url, "sessions");
    let (on_a, on_b) = (Browser::new(&a.base), Browser::new(&b.base));
    let created = on_a.mutation("auth.createAdmin", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
    created.ok();
    let victim = Browser::new(&a.base);
    login(&victim).await;
    let victim_cookie = victim.query("auth.listSessions", Value::Null).await;
    let victim_id = id(one(victim_cookie.ok()["sessions"].as_array().unwrap(), |s| s["current"] == true));
    victim.query("auth.get", Value::Null).await.ok();
    victim.query("auth.get", Value::Null).await.ok(); // A answers it from memory now

    // The owner, signed in on B, ends the victim's session there.
    login(&on_b).await;
    let ended = on_b.mutation("auth.revokeSession", json!({"sessionId": victim_id})).await;
    assert_eq!(ended.ok(), &json!(true));
    let took = refused_within(Duration::from_secs(1), || {
        let victim = victim.clone();
        async move { victim.query("auth.get", Value::Null).await.status }
    })
    .await;
    eprintln!("a revocation on B was refused by A after {took:?}");
    on_a.query("auth.get", Value::Null).await.ok();
    on_b.query("auth.get", Value::Null).await.ok();
}
