//! Slow or stalled clients do not hold the server: a body that never completes answers 408
//! after the body timeout, headers that never complete close the connection after the
//! header timeout (5 s), and other clients are served all the while. Each runs on SQLite
//! and on PostgreSQL.

use std::time::{Duration, Instant};

use crate::helpers::*;
use gateway_store::Backend;
use gateway_store::testing::TestDb;
use rstest::rstest;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BODY_TIMEOUT: Duration = Duration::from_secs(2);

async fn server(db: &TestDb) -> TestServer {
    let mut s = settings(&db.url);
    s.body_timeout_secs = BODY_TIMEOUT.as_secs();
    TestServer::start_with(s).await
}

const HEAD: &str = "POST /api/auth.login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                    Content-Length: 100\r\n\r\n";

/// Reads until the server has sent a whole response head, or closes; gives up after `limit`.
async fn read_reply(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let start = Instant::now();
    let mut text = Vec::new();
    let mut buf = [0u8; 1024];
    while start.elapsed() < limit {
        match tokio::time::timeout(limit - start.elapsed(), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => break,
            Ok(Ok(n)) => text.extend_from_slice(&buf[..n]),
        }
        let s = String::from_utf8_lossy(&text);
        if s.contains("\r\n\r\n") && s.contains("TIMEOUT") {
            break;
        }
    }
    (String::from_utf8_lossy(&text).into_owned(), start.elapsed())
}

/// A body that stops after one byte of a declared 100.
async fn stalled_body(addr: std::net::SocketAddr) -> (String, Duration) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(HEAD.as_bytes()).await.unwrap();
    stream.write_all(b"{").await.unwrap();
    read_reply(&mut stream, Duration::from_secs(10)).await
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_stalled_body_gets_408_within_the_body_timeout(#[case] backend: Backend) {
    let Some(db) = fresh_database(backend) else { return };
    let s = server(&db).await;
    let (reply, took) = stalled_body(s.addr).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply:?}");
    assert!(reply.contains("\"code\":\"TIMEOUT\""), "{reply:?}");
    assert!(took >= BODY_TIMEOUT - Duration::from_millis(100) && took < BODY_TIMEOUT * 2, "{took:?}");
    s.stop().await;
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_body_sent_byte_by_byte_gets_408_within_the_body_timeout(#[case] backend: Backend) {
    let Some(db) = fresh_database(backend) else { return };
    let s = server(&db).await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    stream.write_all(HEAD.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // One byte every 300 ms would take 30 s for the whole body.
    let trickle = async move {
        for _ in 0..100 {
            if writer.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let start = Instant::now();
    let read = async move {
        let mut text = Vec::new();
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&text).contains("\r\n\r\n") {
            match tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => text.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        (String::from_utf8_lossy(&text).into_owned(), start.elapsed())
    };
    let (reply, took) = tokio::select! {
        r = read => r,
        _ = trickle => panic!("the server read a trickling body for 30 s"),
    };
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply:?}");
    assert!(took < BODY_TIMEOUT * 2, "{took:?}");
    s.stop().await;
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn headers_that_never_finish_are_cut_off_and_others_are_served_meanwhile(#[case] backend: Backend) {
    let Some(db) = fresh_database(backend) else { return };
    let s = server(&db).await;
    admin(&s).await;
    // More stalled clients than workers (2), half of them stuck in their headers, half in
    // their bodies.
    let stalled = (0..6).map(|i| async move {
        let mut stream = TcpStream::connect(s.addr).await.unwrap();
        if i % 2 == 0 {
            stream.write_all(b"POST /api/auth.login HTTP/1.1\r\nHost: test\r\n").await.unwrap();
            let start = Instant::now();
            let mut rest = Vec::new();
            // EOF (or a reset) is the server closing the connection.
            let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await.is_ok();
            assert!(closed, "the connection was still open after 10 s");
            let took = start.elapsed();
            assert!(took > Duration::from_secs(4) && took < Duration::from_secs(7), "closed after {took:?}");
            took
        } else {
            let (reply, took) = stalled_body(s.addr).await;
            assert!(reply.starts_with("HTTP/1.1 408"), "{reply:?}");
            took
        }
    });
    let others = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let b = s.browser();
        for _ in 0..5 {
            let start = Instant::now();
            let r = b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
            r.ok();
            let health = b.raw(|c, base| c.get(format!("{base}/health"))).await;
            assert_eq!(health.status, 200);
            assert!(start.elapsed() < Duration::from_secs(1), "a request waited {:?}", start.elapsed());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let (times, ()) = tokio::join!(futures_util::future::join_all(stalled), others);
    eprintln!("stalled clients cut off after {times:?}");
    s.stop().await;
}
