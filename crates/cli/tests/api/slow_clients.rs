//! Slow clients do not starve normal ones: with hundreds of connections open that send
//! nothing (before or after the TLS handshake) or send their request a byte at a time, and
//! with timeouts long enough that none of them is closed during the test, normal clients are
//! served: unauthenticated and authenticated requests, and a body upload. (That each kind of
//! slow connection is closed once its timeout runs out is `connections.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::raw;
use crate::common::*;

/// Connections that never start the TLS handshake.
const SILENT_TCP: usize = 60;
/// Connections that finish the handshake and send nothing.
const IDLE_TLS: usize = 120;
/// Connections that send a request's head one byte every `TRICKLE_EVERY`.
const TRICKLING: usize = 120;
const TRICKLE_EVERY: Duration = Duration::from_millis(200);
/// Requests of the normal client while all of those are open.
const NORMAL_REQUESTS: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_slow_connections_do_not_starve_normal_clients() {
    // Every wait on a client far longer than the test, so the slow connections stay open and
    // the server must serve around them rather than after closing them.
    let s = Server::start_with(&[
        "--tls-handshake-timeout-secs",
        "600",
        "--header-read-timeout-secs",
        "600",
        "--body-idle-timeout-secs",
        "600",
        "--keep-alive-idle-secs",
        "600",
    ]);
    s.provision().await;
    s.create_user(
        Some("op"),
        "Operator",
        "operator passphrase of the slow test",
    )
    .await;

    let mut silent = Vec::new();
    for _ in 0..SILENT_TCP {
        silent.push(TcpStream::connect(raw::addr(&s)).await.unwrap());
    }
    let mut idle = Vec::new();
    for _ in 0..IDLE_TLS {
        idle.push(raw::tls(&s).await);
    }
    // Each trickler counts the bytes it got through; a write that fails (the server closed
    // the connection) stops it.
    let sent = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut tricklers = Vec::new();
    for i in 0..TRICKLING {
        let mut conn = raw::tls(&s).await;
        let (sent, failed) = (sent.clone(), failed.clone());
        tricklers.push(tokio::spawn(async move {
            let head = format!(
                "POST /api/v1/random HTTP/1.1\r\nhost: localhost\r\nx-trickler: {i}\r\n{}",
                "x-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
                    .repeat(40)
            );
            for byte in head.bytes() {
                if conn.write_all(&[byte]).await.is_err() || conn.flush().await.is_err() {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(TRICKLE_EVERY).await;
            }
        }));
    }

    // The normal client, on connections of its own, while all of those are open.
    let before = sent.load(Ordering::Relaxed);
    for i in 0..NORMAL_REQUESTS {
        assert_eq!(s.state().await, "Operational", "request {i}");
        let r = s
            .post("/random")
            .basic_auth("op", Some("operator passphrase of the slow test"))
            .json(&json!({"length": 16}))
            .answer()
            .await;
        assert_eq!(r.status(), 200, "authenticated request {i}");
        // A new connection each time too, not only the pooled one.
        let fresh = pinned_client(&s.fingerprint);
        let r = fresh
            .request(Method::GET, s.url("/health/state"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("a new connection, request {i}: {e}"));
        assert_eq!(r.status(), 200, "new connection {i}");
    }
    let r = s
        .own_as_admin(Method::POST, "/clients")
        .json(&json!({"name": "db1", "hostName": "db1.example"}))
        .answer()
        .await;
    assert_eq!(r.status(), 201, "a request with a body");

    // The slow connections were really there all along: every trickler is still sending,
    // and they made progress while the normal client was served.
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "the server closed trickling connections"
    );
    assert!(
        sent.load(Ordering::Relaxed) > before,
        "the tricklers were sending while the normal client was served"
    );
    for t in &tricklers {
        assert!(!t.is_finished(), "a trickler stopped early");
    }
    // The idle ones are open: a request on one of them is still answered.
    let conn = idle.last_mut().unwrap();
    conn.write_all(b"GET /api/v1/health/state HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let response = raw::read_response(conn, Duration::from_secs(60)).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    for t in tricklers {
        t.abort();
    }
    drop((silent, idle));
}

/// One host cannot take every slot: at its per-address limit its next connection is closed
/// before the handshake, while a client from another address is served; once one of its
/// connections closes, it may open another.
#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    const PER_ADDRESS: usize = 40;
    let per_address = PER_ADDRESS.to_string();
    let s = Server::start_with(&[
        "--max-connections-per-address",
        &per_address,
        "--header-read-timeout-secs",
        "600",
        "--keep-alive-idle-secs",
        "600",
    ]);
    let mut held = Vec::new();
    for _ in 0..PER_ADDRESS {
        held.push(raw::tls(&s).await);
    }

    // One more from 127.0.0.1: closed rather than served.
    let tcp = TcpStream::connect(raw::addr(&s)).await.unwrap();
    let extra = tokio::time::timeout(
        Duration::from_secs(60),
        raw::connector(&s).connect("localhost".try_into().unwrap(), tcp),
    )
    .await
    .expect("the connection over the per-address limit was neither served nor closed");
    assert!(
        extra.is_err(),
        "connection {} from one address was accepted with a limit of {PER_ADDRESS}",
        PER_ADDRESS + 1
    );

    // Another address is served meanwhile.
    let other = s.client_from("127.0.0.2".parse().unwrap());
    let r = other
        .request(Method::GET, s.url("/health/state"))
        .send()
        .await
        .expect("a client from another address is served");
    assert_eq!(r.status(), 200);

    // One of the host's connections closes: it may open another.
    drop(held.pop());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let tcp = TcpStream::connect(raw::addr(&s)).await.unwrap();
        if raw::connector(&s)
            .connect("localhost".try_into().unwrap(), tcp)
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no new connection from the host after one of its own closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        s.log().contains("max_connections_per_address"),
        "the setting is logged at start"
    );
}
