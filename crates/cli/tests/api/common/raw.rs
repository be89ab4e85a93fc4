//! Raw connections to the server, below any HTTP client: plain TCP, or TLS pinned to the
//! server's certificate, written byte by byte as a test needs (slowly, partly, not at all).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::Server;

/// The server's socket address, from its `https://127.0.0.1:PORT` base URL.
pub fn addr(server: &Server) -> SocketAddr {
    server
        .base
        .strip_prefix("https://")
        .expect("https base")
        .parse()
        .expect("socket address")
}

/// A TLS connector that trusts exactly the server's certificate and offers HTTP/1.1.
pub fn connector(server: &Server) -> TlsConnector {
    let mut config =
        strongroom_client::pin::pinned_tls(&server.fingerprint).expect("server fingerprint");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// Connects and completes the TLS handshake.
pub async fn tls(server: &Server) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr(server)).await.expect("tcp connect");
    connector(server)
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .expect("tls handshake")
}

/// Reads (and keeps) everything until the peer closes the connection (end of stream or an
/// error such as a reset). Returns what was read, or `None` if the connection was still open
/// when `bound` ran out. `bound` only ends a wait that would otherwise never end.
pub async fn read_until_closed<S: AsyncRead + Unpin>(
    stream: &mut S,
    bound: Duration,
) -> Option<Vec<u8>> {
    let deadline = Instant::now() + bound;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one HTTP/1.1 response head (through the blank line), then as many body bytes as its
/// `content-length` says. Panics if the connection closes first or `bound` runs out.
pub async fn read_response<S: AsyncRead + Unpin>(stream: &mut S, bound: Duration) -> String {
    let deadline = Instant::now() + bound;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = find(&seen, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if seen.len() >= end + 4 + length {
                return String::from_utf8_lossy(&seen).into_owned();
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "no whole response within {bound:?}; got {:?}",
                String::from_utf8_lossy(&seen)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => panic!(
                "connection closed before a whole response; got {:?}",
                String::from_utf8_lossy(&seen)
            ),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A `multipart/form-data` restore request body (the `arguments` part, then `backup_file`),
/// split around the backup file's bytes: (before them, after them, content type).
pub fn restore_multipart(passphrase: &str) -> (Vec<u8>, Vec<u8>, String) {
    let boundary = "strongroom-test-boundary-5f1c";
    let arguments = serde_json::json!({"backupPassphrase": passphrase, "systemTime": super::TIME});
    let head = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"arguments\"\r\n\
         content-type: application/json\r\n\r\n{arguments}\r\n\
         --{boundary}\r\ncontent-disposition: form-data; name=\"backup_file\"; filename=\"backup\"\r\n\
         content-type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    (
        head.into_bytes(),
        tail.into_bytes(),
        format!("multipart/form-data; boundary={boundary}"),
    )
}
