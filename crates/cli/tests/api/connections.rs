//! Connections cannot be held open for nothing: the TLS handshake, the request headers, a
//! request body and the wait between requests are each bounded, and so is the number of
//! connections open at once. The server runs with 1-second timeouts; each test only asserts
//! that a wait which would otherwise never end did end, within a generous bound.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::raw::{self, read_response, read_until_closed};
use crate::common::*;

/// Far longer than any of the 1-second timeouts below: only a connection nobody closes
/// outlasts it.
const CLOSE_BOUND: Duration = Duration::from_secs(15);

/// The server with every connection timeout at 1 second, except those given.
fn server(header: u64, keep_alive: u64, extra: &[&str]) -> Server {
    let (header, keep_alive) = (header.to_string(), keep_alive.to_string());
    let mut args = vec![
        "--tls-handshake-timeout-secs",
        "1",
        "--header-read-timeout-secs",
        &header,
        "--body-idle-timeout-secs",
        "1",
        "--keep-alive-idle-secs",
        &keep_alive,
    ];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

const GET_STATE: &[u8] = b"GET /api/v1/health/state HTTP/1.1\r\nhost: localhost\r\n\r\n";

#[tokio::test]
async fn an_idle_connection_after_the_handshake_is_closed() {
    let s = server(1, 30, &[]);
    let mut conn = raw::tls(&s).await;
    let seen = read_until_closed(&mut conn, CLOSE_BOUND).await;
    assert!(
        seen.is_some(),
        "a TLS connection that sent no request was still open after {CLOSE_BOUND:?}"
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_a_client_hello_is_closed() {
    let s = server(30, 30, &[]);
    let mut tcp = TcpStream::connect(raw::addr(&s)).await.unwrap();
    // Below the TLS library's own 10-second default: the configured 1 second is what acts.
    let bound = Duration::from_secs(8);
    assert!(
        read_until_closed(&mut tcp, bound).await.is_some(),
        "a TCP connection with no TLS handshake was still open after {bound:?}"
    );
}

/// Sends `head` then one header line every half second, for longer than the bound, while
/// reading: returns whether the server closed the connection within the bound.
async fn trickle<S>(conn: S, head: &[u8]) -> bool
where
    S: AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(conn);
    let head = head.to_vec();
    let writing = tokio::spawn(async move {
        if writer.write_all(&head).await.is_err() {
            return;
        }
        for i in 0..40 {
            let line = format!("x-trickle-{i}: a\r\n");
            if writer.write_all(line.as_bytes()).await.is_err() || writer.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let closed = read_until_closed(&mut reader, CLOSE_BOUND).await.is_some();
    writing.abort();
    closed
}

#[tokio::test]
async fn a_trickled_request_is_closed() {
    // The keep-alive wait is long: only the header timeout can end this.
    let s = server(1, 60, &[]);
    let conn = raw::tls(&s).await;
    assert!(
        trickle(
            conn,
            b"GET /api/v1/health/state HTTP/1.1\r\nhost: localhost\r\n"
        )
        .await,
        "a request whose headers never end was still open after {CLOSE_BOUND:?}"
    );
}

#[tokio::test]
async fn a_trickled_second_request_is_closed() {
    // After a first request the connection waits up to a minute for the next one, but once
    // that one starts, its headers have the 1-second header timeout.
    let s = server(1, 60, &[]);
    let mut conn = raw::tls(&s).await;
    conn.write_all(GET_STATE).await.unwrap();
    let response = read_response(&mut conn, CLOSE_BOUND).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        trickle(
            conn,
            b"GET /api/v1/health/state HTTP/1.1\r\nhost: localhost\r\n"
        )
        .await,
        "a second request whose headers never end was still open after {CLOSE_BOUND:?}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    // The header timeout is long: only the keep-alive timeout can end this.
    let s = server(60, 1, &[]);
    let mut conn = raw::tls(&s).await;
    conn.write_all(GET_STATE).await.unwrap();
    let response = read_response(&mut conn, CLOSE_BOUND).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        !response.to_ascii_lowercase().contains("connection: close"),
        "the server should have kept the connection: {response}"
    );
    assert!(
        read_until_closed(&mut conn, CLOSE_BOUND).await.is_some(),
        "an idle keep-alive connection was still open after {CLOSE_BOUND:?}"
    );
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    let s = server(1, 30, &[]);
    let mut config = strongroom_client::pin::pinned_tls(&s.fingerprint).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(raw::addr(&s)).await.unwrap();
    let mut conn = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(conn.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // The connection preface and an empty SETTINGS frame, then nothing.
    conn.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let seen = read_until_closed(&mut conn, CLOSE_BOUND).await;
    let seen = seen.unwrap_or_else(|| {
        panic!("an HTTP/2 connection with no request was still open after {CLOSE_BOUND:?}")
    });
    // The server did speak HTTP/2: its first frame is SETTINGS (type 4).
    assert!(seen.len() >= 9 && seen[3] == 4, "{seen:?}");
}

#[tokio::test]
async fn a_stalled_body_is_cut_off() {
    let s = server(30, 30, &[]);
    let mut conn = raw::tls(&s).await;
    let (head, _, content_type) = raw::restore_multipart("whatever");
    let request = format!(
        "POST /api/v1/system/restore HTTP/1.1\r\nhost: localhost\r\n\
         content-type: {content_type}\r\ncontent-length: 100000\r\n\r\n"
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    conn.write_all(&head).await.unwrap();
    conn.flush().await.unwrap();
    // The body stops there, 99 kB short.
    let seen = read_until_closed(&mut conn, CLOSE_BOUND).await;
    assert!(
        seen.is_some(),
        "a request whose body stopped was still open after {CLOSE_BOUND:?}"
    );
}

#[tokio::test]
async fn a_slow_but_steady_upload_succeeds() {
    let s = server(1, 1, &[]);
    s.provision().await;
    s.set_backup_passphrase("backup passphrase for tests", "")
        .await;
    s.create_user(Some("backup1"), "Backup", "backup user passphrase")
        .await;
    let backup = s.backup("backup1", "backup user passphrase").await;

    let (head, tail, content_type) = raw::restore_multipart("backup passphrase for tests");
    let body: Vec<u8> = [head, backup, tail].concat();
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("admin:{ADMIN}"),
    );
    let request = format!(
        "POST /api/v1/system/restore HTTP/1.1\r\nhost: localhost\r\nauthorization: Basic {auth}\r\n\
         content-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut conn = raw::tls(&s).await;
    conn.write_all(request.as_bytes()).await.unwrap();
    conn.flush().await.unwrap();
    // Twelve pieces, a quarter of a second apart: three seconds in all, three times the body
    // timeout, but never a second without progress.
    for piece in body.chunks(body.len().div_ceil(12)) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        conn.write_all(piece).await.unwrap();
        conn.flush().await.unwrap();
    }
    let response = read_response(&mut conn, Duration::from_secs(60)).await;
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");
    assert_eq!(s.state().await, "Operational");
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_until_some_close() {
    let s = server(60, 60, &["--max-connections", "3"]);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(raw::tls(&s).await);
    }

    // One more: the server closes it rather than finishing the handshake.
    let tcp = TcpStream::connect(raw::addr(&s)).await.unwrap();
    let extra = tokio::time::timeout(
        CLOSE_BOUND,
        raw::connector(&s).connect("localhost".try_into().unwrap(), tcp),
    )
    .await
    .expect("the connection over the limit was neither served nor closed");
    assert!(
        extra.is_err(),
        "a fourth connection was accepted with a limit of three"
    );

    // Those already open are still served.
    for conn in &mut held {
        conn.write_all(GET_STATE).await.unwrap();
        let response = read_response(conn, CLOSE_BOUND).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }

    // Once they close, new connections are accepted again.
    drop(held);
    let deadline = Instant::now() + CLOSE_BOUND;
    loop {
        match s.get("/health/state").send().await {
            Ok(r) if r.status() == 200 => break,
            other => assert!(
                Instant::now() < deadline,
                "no new connection accepted after the held ones closed: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(s.log().contains("open file limit"), "{}", s.log());
}
