//! Real etcd members on loopback for tests (this crate's, and, with the feature `etcd-test`,
//! other crates' such as the cluster tests of the server): each its own process on free
//! ports with its data in a temporary directory, killed when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{EtcdSettings, EtcdStore};

/// The test etcd's `--max-txn-ops`: above the default, so the conformance suite's one commit
/// of more changes than a watcher holds fits.
pub const TEST_MAX_TXN_OPS: usize = 2048;

/// One etcd member on loopback. Killed when dropped.
pub struct Etcd {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    /// `--initial-cluster`: every member's name and peer URL.
    pub initial_cluster: String,
    /// More flags for etcd.
    pub extra: Vec<String>,
    /// TLS to clients: how the tests' stores reach it.
    pub tls: Option<super::EtcdTls>,
}

/// A free loopback port for an etcd member, below the kernel's ephemeral range.
///
/// A port got by binding port 0 lies in that range, and between its release and etcd's own bind
/// the kernel may give it to an outgoing connection of a test running beside as its source port
/// (CI saw `bind: address already in use`). Below the range no outgoing connection takes it.
/// Each process walks its own stretch of the ports (by its pid) and checks each free by binding.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const SPAN: u32 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let low = ephemeral_low.saturating_sub(SPAN).max(1_024);
    let span = (ephemeral_low - low).max(1);
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (low + (start + n) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {low}..{ephemeral_low}");
}

/// The etcd binary: `STRONGROOM_TEST_ETCD`, else Debian's.
pub fn etcd_binary() -> PathBuf {
    std::env::var_os("STRONGROOM_TEST_ETCD")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/etcd"))
}

impl Etcd {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Self {
        let mut members = Self::cluster_with(1, extra);
        members.pop().unwrap()
    }

    /// `n` members of one new cluster, each answering.
    pub fn cluster(n: usize) -> Vec<Self> {
        Self::cluster_with(n, &[])
    }

    pub fn cluster_with(n: usize, extra: &[&str]) -> Vec<Self> {
        let mut members: Vec<Etcd> = (0..n)
            .map(|i| Etcd {
                child: None,
                dir: tempfile::tempdir().unwrap(),
                name: format!("m{i}"),
                client_port: free_port(),
                peer_port: free_port(),
                initial_cluster: String::new(),
                extra: extra.iter().map(|s| s.to_string()).collect(),
                tls: None,
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        // All spawned before any is waited for: a member answers only once it has a quorum.
        for m in &mut members {
            m.initial_cluster = initial_cluster.clone();
            m.spawn();
        }
        for m in &mut members {
            m.wait_until_answering();
        }
        members
    }

    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// Starts the member again, on the same data and ports, and waits until it answers.
    pub fn launch(&mut self) {
        self.spawn();
        self.wait_until_answering();
    }

    pub fn spawn(&mut self) {
        let binary = etcd_binary();
        assert!(
            binary.exists(),
            "the etcd tests need an etcd binary at {} (Debian: apt-get install etcd-server; \
             or set STRONGROOM_TEST_ETCD)",
            binary.display()
        );
        let client = self.endpoint();
        let peer = self.peer_url();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .unwrap();
        let child = Command::new(&binary)
            .arg(format!("--name={}", self.name))
            .arg(format!(
                "--data-dir={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster={}", self.initial_cluster))
            .arg(format!("--max-txn-ops={TEST_MAX_TXN_OPS}"))
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        self.child = Some(child);
    }

    pub fn wait_until_answering(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("etcd exited ({status}); its log:\n{}", self.log_text());
            }
            if EtcdStore::open(&self.settings("health/")).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "etcd did not become healthy within 30 s; its log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The gRPC calls of the named `methods` this member has started, by etcd's own count
    /// (`grpc_server_started_total` on its plain-HTTP `/metrics`): what its clients asked of
    /// it, counted outside Strongroom. KV reads and writes are `Range`, `Txn`, `Put` and
    /// `DeleteRange`; a watch stream is `Watch`.
    pub fn grpc_calls_started(&self, methods: &[&str]) -> u64 {
        use std::io::{Read, Write};
        assert!(self.tls.is_none(), "metrics are read over plain HTTP");
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.client_port)).unwrap();
        conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        text.lines()
            .filter(|l| l.starts_with("grpc_server_started_total{"))
            .filter(|l| {
                methods
                    .iter()
                    .any(|m| l.contains(&format!("grpc_method=\"{m}\"")))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    pub fn settings(&self, prefix: &str) -> EtcdSettings {
        let mut settings = EtcdSettings::new([self.endpoint()]).with_key_prefix(prefix);
        settings.max_txn_ops = TEST_MAX_TXN_OPS;
        settings.request_timeout = Duration::from_secs(2);
        settings.connect_timeout = Duration::from_secs(2);
        settings.tls = self.tls.clone();
        settings
    }

    /// Restarts a stopped member of a cluster: it answers only once a quorum is back, so
    /// this does not wait.
    pub fn launch_member(&mut self) {
        self.spawn();
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}
