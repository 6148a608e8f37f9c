//! Cross-site requests cannot act (auth-api.md §1). A page on a same-site subdomain (where
//! Dokploy serves its users' apps) gets the `SameSite=Lax` session cookie sent along, so
//! the gateway judges state-changing requests by `Origin`, else `Sec-Fetch-Site`. Bearer and
//! `x-api-key` calls, and clients that are not browsers, are unaffected.

use crate::helpers::*;
use gateway_store::Backend;
use serde_json::{Value, json};

const EVIL: &str = "https://evil.example.com";
const TRUSTED: &str = "https://app.example.com";

/// A POST to `url` (under the base) with the given headers and no body: REST without a
/// content type, as generated clients send input-less mutations; tRPC with JSON's.
async fn post(s: &TestServer, url: &str, headers: &[(&str, &str)]) -> Reply {
    s.browser()
        .raw(|c, base| {
            let mut req = c.post(format!("{base}{url}"));
            if url.starts_with("/api/trpc/") {
                req = req.header("content-type", "application/json");
            }
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            req
        })
        .await
}

fn forbidden(r: &Reply) -> bool {
    r.status == 403 && (r.body["code"] == "FORBIDDEN" || r.code() == "FORBIDDEN")
}

#[actix_web::test]
async fn state_changing_requests_from_other_sites_are_refused() {
    let db = fresh_database(Backend::Sqlite).unwrap();
    let mut settings = settings(&db.url);
    settings.cors_origins = vec![TRUSTED.to_owned()];
    let s = TestServer::start_with(settings).await;
    let admin = admin(&s).await;
    let token = admin.mutation("auth.generateToken", Value::Null).await.ok()["token"].as_str().unwrap().to_owned();
    let login = admin.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
    let cookie = login.set_cookie("auth_session").unwrap().split(';').next().unwrap().to_owned();
    let own = s.base.clone();

    // The review's attack: rotate the API token from another site, on both surfaces.
    for url in ["/api/auth.generateToken", "/api/trpc/auth.generateToken"] {
        for headers in [
            vec![("cookie", cookie.as_str()), ("origin", EVIL)],
            vec![("cookie", cookie.as_str()), ("origin", "null")],
            vec![("cookie", cookie.as_str()), ("sec-fetch-site", "same-site")],
            vec![("cookie", cookie.as_str()), ("sec-fetch-site", "cross-site")],
            // Cached Basic credentials go along with cross-site requests: no exemption.
            vec![("cookie", cookie.as_str()), ("origin", EVIL), ("authorization", "Basic dXNlcjpwYXNz")],
        ] {
            let r = post(&s, url, &headers).await;
            assert!(forbidden(&r), "{url} {headers:?}: {r:?}");
        }
    }
    let me = s.browser().bearer(&token).query("auth.get", Value::Null).await;
    assert_eq!(me.ok()["token"], token.as_str(), "the refused calls changed nothing");

    // Logging out, turning 2FA off and logging in (login CSRF) from another site: refused too.
    for url in ["/api/auth.logout", "/api/auth.disable2FA", "/api/trpc/auth.logout", "/api/trpc/auth.disable2FA"] {
        assert!(forbidden(&post(&s, url, &[("cookie", &cookie), ("origin", EVIL)]).await), "{url}");
    }
    let creds = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
    for (url, body) in [("/api/auth.login", creds.clone()), ("/api/trpc/auth.login", json!({ "json": creds }))] {
        let r = s
            .browser()
            .raw(|c, base| {
                c.post(format!("{base}{url}"))
                    .header("origin", EVIL)
                    .header("content-type", "application/json")
                    .body(body.to_string())
            })
            .await;
        assert!(forbidden(&r), "{url}: {r:?}");
    }

    // The gateway's own origin, a trusted origin, Sec-Fetch-Site same-origin or none, and
    // clients that send neither header (curl, scripts, generated clients) may act.
    for headers in [
        vec![("cookie", cookie.as_str()), ("origin", own.as_str())],
        vec![("cookie", cookie.as_str()), ("origin", TRUSTED)],
        vec![("cookie", cookie.as_str()), ("sec-fetch-site", "same-origin")],
        vec![("cookie", cookie.as_str()), ("sec-fetch-site", "none")],
        vec![("cookie", cookie.as_str())],
    ] {
        for url in ["/api/auth.verifyToken", "/api/trpc/auth.verifyToken"] {
            let r = post(&s, url, &headers).await;
            assert_eq!(r.status, 200, "{url} {headers:?}: {r:?}");
        }
    }
    // Bearer and x-api-key calls do not depend on the origin.
    let bearer = format!("Bearer {token}");
    let r = post(&s, "/api/auth.generateToken", &[("authorization", &bearer), ("origin", EVIL)]).await;
    assert_eq!(r.status, 200, "{r:?}");
    let token = r.body["token"].as_str().unwrap().to_owned();
    let r = post(&s, "/api/trpc/auth.verifyToken", &[("x-api-key", &token), ("origin", EVIL)]).await;
    assert_eq!(r.status, 200, "{r:?}");
    // Queries do not act: a read from another site is answered (CORS keeps the page from
    // reading it unless its origin is trusted).
    let r = s
        .browser()
        .raw(|c, base| c.get(format!("{base}/api/auth.get")).header("cookie", &cookie).header("origin", EVIL))
        .await;
    assert_eq!(r.status, 200);
    s.stop().await;
}

#[actix_web::test]
async fn a_configured_public_origin_replaces_the_host_header() {
    let db = fresh_database(Backend::Sqlite).unwrap();
    let mut settings = settings(&db.url);
    settings.public_origin = Some("https://dokploy.example.com".to_owned());
    let s = TestServer::start_with(settings).await;
    let admin = admin(&s).await;
    let login = admin.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
    let cookie = login.set_cookie("auth_session").unwrap().split(';').next().unwrap().to_owned();
    let r = post(&s, "/api/auth.verifyToken", &[("cookie", &cookie), ("origin", "https://dokploy.example.com")]).await;
    assert_eq!(r.status, 200, "{r:?}");
    // Behind a proxy the Host header is the proxy's business: an Origin equal to it is not enough.
    let own_host = s.base.clone();
    let r = post(&s, "/api/auth.verifyToken", &[("cookie", &cookie), ("origin", &own_host)]).await;
    assert!(forbidden(&r), "{r:?}");
    s.stop().await;
}
