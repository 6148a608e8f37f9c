//! Requests refused before any procedure: what answers in the error shape and what cannot.
//! The gateway's own limits (URI 16 KiB, headers 32 KiB) answer `413 PAYLOAD_TOO_LARGE` in
//! the shape of the surface. Requests that break HTTP itself (a malformed request line, bytes
//! outside HTTP's grammar, more than 96 header fields, a URI past actix-http's 64 KiB) are
//! answered by actix-http before the application sees them: a bare 400 or 431, no body, and
//! the connection closed. The README says so; this test holds it to that.

use std::io::{Read, Write};
use std::time::Duration;

use crate::helpers::*;
use gateway_store::Backend;
use serde_json::Value;

/// Sends raw bytes on a new connection; returns the status line's code, the headers and body.
fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let status = head.get(9..12).and_then(|s| s.parse().ok()).expect("a status line");
    (status, head, answer[split + 4..].to_vec())
}

#[actix_web::test]
async fn oversized_requests_get_the_error_shape_and_broken_http_a_bare_status() {
    let db = fresh_database(Backend::Sqlite).unwrap();
    let s = TestServer::start(&db.url).await;
    let addr = s.addr;
    let host = format!("Host: {addr}\r\nConnection: close\r\n");
    let checks = actix_web::rt::task::spawn_blocking(move || {
        let long_query = "a".repeat(20_000);
        let big_header = format!("X-Filler: {}\r\n", "b".repeat(40_000));
        // The gateway's limits: the error shape of each surface.
        for (target, extra, trpc) in [
            (format!("/api/trpc/auth.get?input={long_query}"), String::new(), true),
            (format!("/api/auth.get?x={long_query}"), String::new(), false),
            ("/api/trpc/auth.get".to_owned(), big_header.clone(), true),
            ("/api/auth.get".to_owned(), big_header.clone(), false),
        ] {
            let request = format!("GET {target} HTTP/1.1\r\n{host}{extra}\r\n");
            let (status, _, body) = exchange(addr, request.as_bytes());
            let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{target:.40}: not JSON"));
            assert_eq!(status, 413, "{target:.40}");
            let code = if trpc { &body["error"]["json"]["data"]["code"] } else { &body["code"] };
            assert_eq!(code, "PAYLOAD_TOO_LARGE", "{target:.40}: {body}");
        }
        // Broken HTTP: actix-http answers before the application, with no body.
        let many_headers: String = (0..200).map(|i| format!("X-{i}: a\r\n")).collect();
        for (what, request, expected) in [
            ("garbage", b"GARBAGE\r\n\r\n".to_vec(), 400),
            ("unknown version", b"GET / HTTP/9.9\r\n\r\n".to_vec(), 400),
            (
                "raw 0xff in the path",
                [&b"GET /api/auth.get\xff HTTP/1.1\r\n"[..], host.as_bytes(), b"\r\n"].concat(),
                400,
            ),
            (
                "header without a colon",
                format!("GET /api/auth.get HTTP/1.1\r\n{host}Bad Header\r\n\r\n").into_bytes(),
                400,
            ),
            (
                "URI over 64 KiB",
                format!("GET /api/auth.get?x={} HTTP/1.1\r\n{host}\r\n", "a".repeat(70_000)).into_bytes(),
                400,
            ),
            ("200 header fields", format!("GET /api/auth.get HTTP/1.1\r\n{host}{many_headers}\r\n").into_bytes(), 431),
        ] {
            let (status, head, body) = exchange(addr, &request);
            assert_eq!(status, expected, "{what}");
            assert!(body.is_empty() && head.contains("content-length: 0"), "{what}: {head}");
        }
    });
    checks.await.unwrap();
    // The gateway is unharmed.
    assert_eq!(s.browser().raw(|c, base| c.get(format!("{base}/health"))).await.status, 200);
    s.stop().await;
}
