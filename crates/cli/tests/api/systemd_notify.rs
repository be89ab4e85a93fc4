//! The server speaks systemd's notification protocol (`Type=notify` in the packaged unit):
//! with `NOTIFY_SOCKET` set it sends `READY=1` once its port answers, `WATCHDOG=1` pings when
//! `WATCHDOG_USEC` asks for them, and `STOPPING=1` on SIGTERM. The socket here is a unix
//! datagram socket the test binds, as systemd's is.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::common::*;

/// The longest a datagram may take: a bound against a hang, not a speed check.
const RECV_BOUND: Duration = Duration::from_secs(60);

/// Starts `strongroom serve` on `dir/data` with extra environment; returns it and the
/// address and fingerprint it printed.
fn spawn_with_env(dir: &Path, env: &[(&str, &str)]) -> (Child, String, String) {
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || {
        lines.next().and_then(Result::ok).unwrap_or_else(|| {
            panic!(
                "server exited before printing its start lines:\n{}",
                std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            )
        })
    };
    let base = next().strip_prefix("listening on ").unwrap().to_owned();
    let fingerprint = next()
        .strip_prefix("certificate SHA-256 fingerprint ")
        .unwrap()
        .to_owned();
    (child, base, fingerprint)
}

fn recv(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket
        .recv(&mut buf)
        .expect("a notification from the server");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    // SAFETY: kill only sends a signal to the child this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    child.wait().unwrap()
}

#[tokio::test]
async fn ready_is_sent_once_the_port_answers_then_watchdog_and_stopping() {
    let tmp = tempfile::tempdir().unwrap();
    let socket_path = tmp.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(RECV_BOUND)).unwrap();

    let (mut child, base, fingerprint) = spawn_with_env(
        tmp.path(),
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            // 200 ms: pings come every 100 ms, so the test sees some without waiting long.
            ("WATCHDOG_USEC", "200000"),
        ],
    );

    let first = recv(&socket);
    let lines: Vec<&str> = first.lines().collect();
    assert!(lines.contains(&"READY=1"), "{first:?}");
    assert!(
        lines.contains(&format!("STATUS=listening on {base}").as_str()),
        "{first:?}"
    );
    // Ready means the port answers, over TLS, with the certificate printed at start.
    let client = pinned_client(&fingerprint);
    let alive = client
        .get(format!("{base}{NETHSM}/health/alive"))
        .send()
        .await
        .expect("the port answers once READY=1 is sent");
    assert_eq!(alive.status(), StatusCode::OK);

    // Then watchdog pings, and nothing else is ready a second time.
    for _ in 0..2 {
        let ping = recv(&socket);
        assert_eq!(ping, "WATCHDOG=1\n");
    }

    assert!(terminate(&mut child).success());
    // The pings may still be in the socket's queue before STOPPING=1.
    let stopping = loop {
        let message = recv(&socket);
        if message != "WATCHDOG=1\n" {
            break message;
        }
    };
    assert_eq!(stopping, "STOPPING=1\n");
}

#[tokio::test]
async fn no_watchdog_pings_unless_asked_and_an_unreachable_socket_does_not_stop_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let socket_path = tmp.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(RECV_BOUND)).unwrap();

    // A watchdog meant for another process (WATCHDOG_PID) is not this server's to feed.
    let (mut child, _base, _fp) = spawn_with_env(
        tmp.path(),
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
            ("WATCHDOG_PID", "1"),
        ],
    );
    assert!(recv(&socket).lines().any(|l| l == "READY=1"));
    assert!(terminate(&mut child).success());
    // After READY=1 the next (and last) message is STOPPING=1: no ping came in between.
    assert_eq!(recv(&socket), "STOPPING=1\n");

    // A socket nobody listens on: the server says so in its log and serves all the same.
    let gone = tmp.path().join("nobody-listens.sock");
    let (mut child, base, fingerprint) =
        spawn_with_env(tmp.path(), &[("NOTIFY_SOCKET", gone.to_str().unwrap())]);
    let alive = pinned_client(&fingerprint)
        .get(format!("{base}{NETHSM}/health/alive"))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
    assert!(terminate(&mut child).success());
    let log = std::fs::read_to_string(tmp.path().join("server.log")).unwrap();
    assert!(
        log.contains("cannot tell the service manager the server is ready"),
        "{log}"
    );
}
