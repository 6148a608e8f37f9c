//! Requests refused before any procedure: what answers in the error shape and what cannot.
//! The gateway's own limits (URI 16 KiB, headers 32 KiB) answer `413 PAYLOAD_TOO_LARGE` in
//! the shape of the surface. Requests that break HTTP itself (a malformed request line, bytes
//! outside HTTP's grammar, more than 96 header fields, a URI over 65,534 bytes) are
//! answered by actix-http before the application sees them: a bare 400 or 431, no body, and
//! the connection closed. The README says so; this test holds it to that.

use std::io::{Read, Write};
use std::time::Duration;

use crate::helpers::*;
use gateway_store::Backend;
use gateway_wire::{MAX_HEADER_BYTES, MAX_URI_BYTES};
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
        // The limits are exact: a URI or headers of the limit's size pass, one byte more is refused.
        assert_eq!((MAX_URI_BYTES, MAX_HEADER_BYTES), (16 * 1024, 32 * 1024));
        let prefix = "/health?x=";
        let fill = MAX_URI_BYTES - prefix.len();
        for (extra, expected) in [(0, 200), (1, 413)] {
            let request = format!("GET {prefix}{} HTTP/1.1\r\n{host}\r\n", "a".repeat(fill + extra));
            assert_eq!(exchange(addr, request.as_bytes()).0, expected, "a URI of {} bytes", MAX_URI_BYTES + extra);
        }
        // Header bytes count names and values: Host's and Connection's, then X-Filler's.
        let used = "host".len() + addr.to_string().len() + "connection".len() + "close".len() + "x-filler".len();
        for (extra, expected) in [(0, 200), (1, 413)] {
            let filler = format!("X-Filler: {}\r\n", "b".repeat(MAX_HEADER_BYTES - used + extra));
            let request = format!("GET /health HTTP/1.1\r\n{host}{filler}\r\n");
            assert_eq!(exchange(addr, request.as_bytes()).0, expected, "{} header bytes", MAX_HEADER_BYTES + extra);
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
        // Where actix-http's limits are: a URI of 65,534 bytes (the `http` crate's longest,
        // just under 64 KiB) still reaches the gateway, which refuses it in its shape; one
        // more byte is a bare 400. 96 header fields (Host, Connection and 94 more) are
        // served; 97 are a bare 431.
        let prefix = "/health?x=";
        for (extra, expected, shaped) in [(0, 413, true), (1, 400, false)] {
            let target = format!("{prefix}{}", "a".repeat(65_534 - prefix.len() + extra));
            let (status, _, body) = exchange(addr, format!("GET {target} HTTP/1.1\r\n{host}\r\n").as_bytes());
            assert_eq!((status, !body.is_empty()), (expected, shaped), "a URI of {} bytes", target.len());
        }
        for (fields, expected) in [(96, 200), (97, 431)] {
            let more: String = (0..fields - 2).map(|i| format!("X-{i}: a\r\n")).collect();
            let (status, _, _) = exchange(addr, format!("GET /health HTTP/1.1\r\n{host}{more}\r\n").as_bytes());
            assert_eq!(status, expected, "{fields} header fields");
        }
    });
    checks.await.unwrap();
    // The gateway is unharmed.
    assert_eq!(s.browser().raw(|c, base| c.get(format!("{base}/health"))).await.status, 200);
    s.stop().await;
}
