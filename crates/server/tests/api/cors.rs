//! CORS is off unless origins are configured; then only those origins get CORS headers,
//! with credentials. Security headers are on every response either way.

use crate::helpers::*;
use gateway_store::Backend;
use reqwest::Method;

const APP: &str = "https://app.example.com";

async fn preflight(s: &TestServer, origin: &str) -> Reply {
    s.browser()
        .raw(|c, base| {
            c.request(Method::OPTIONS, format!("{base}/api/trpc/auth.login"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type")
        })
        .await
}

async fn get_from(s: &TestServer, origin: &str) -> Reply {
    s.browser().raw(|c, base| c.get(format!("{base}/api/auth.get")).header("origin", origin)).await
}

fn header<'r>(r: &'r Reply, name: &str) -> Option<&'r str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

#[actix_web::test]
async fn no_cors_headers_unless_configured() {
    let db = fresh_database(Backend::Sqlite).unwrap();
    let s = TestServer::start(&db.url).await;
    for r in [preflight(&s, APP).await, get_from(&s, APP).await] {
        assert!(
            !r.headers.keys().any(|k| k.as_str().starts_with("access-control-")),
            "CORS headers without configuration: {:?}",
            r.headers
        );
        assert_eq!(header(&r, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&r, "referrer-policy"), Some("no-referrer"));
    }
    let r = get_from(&s, APP).await;
    assert_eq!((r.status, header(&r, "cache-control")), (401, Some("no-store")));
    s.stop().await;
}

#[actix_web::test]
async fn only_listed_origins_get_cors_with_credentials() {
    let db = fresh_database(Backend::Sqlite).unwrap();
    let mut settings = settings(&db.url);
    settings.cors_origins = vec![APP.to_owned(), "http://localhost:5173".to_owned()];
    let s = TestServer::start_with(settings).await;

    let r = preflight(&s, APP).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(header(&r, "access-control-allow-origin"), Some(APP));
    assert_eq!(header(&r, "access-control-allow-credentials"), Some("true"));
    let methods = header(&r, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST") && methods.contains("GET") && !methods.contains("DELETE"), "{methods}");
    assert!(header(&r, "access-control-allow-headers").unwrap_or_default().contains("content-type"));
    assert_eq!(header(&r, "x-content-type-options"), Some("nosniff"));

    let r = get_from(&s, "http://localhost:5173").await;
    assert_eq!(header(&r, "access-control-allow-origin"), Some("http://localhost:5173"));
    assert_eq!(header(&r, "access-control-allow-credentials"), Some("true"));

    // Another origin gets no allowed origin: its pages cannot read the answers, and its
    // preflight (needed for JSON mutations) allows nothing.
    let r = preflight(&s, "https://evil.example").await;
    assert!(!r.headers.keys().any(|k| k.as_str().starts_with("access-control-allow-")), "{r:?}");
    // (actix-cors still adds allow-credentials to simple requests; without a matching
    // allow-origin, browsers give the page nothing.)
    let r = get_from(&s, "https://evil.example").await;
    assert_eq!(header(&r, "access-control-allow-origin"), None, "{r:?}");
    // A request without Origin (curl, server to server) works as before.
    let r = s.browser().raw(|c, base| c.get(format!("{base}/health"))).await;
    assert_eq!(r.status, 200);
    s.stop().await;
}
