//! A node's own etcd member (NetHSM 4's design): with the configuration file's
//! `[etcd.member]` table, `serve --store etcd://...` starts Debian's `etcd` as a child
//! process with its data under `<data-dir>/etcd/`, waits until the cluster answers, restarts
//! the member with back-off whenever it dies, and stops it when the server stops. See
//! `docs/cluster.md` ("Three nodes, each supervising its own etcd member").
//!
//! The child cannot outlive the server: it is asked for SIGTERM when its parent thread dies
//! (`PR_SET_PDEATHSIG`, set in the child before `exec`), and that thread is the supervisor's
//! own, which lives until the server stops it. It runs in a process group of its own, so a
//! terminal's Ctrl-C reaches the server, which then stops the member in order.
//!
//! With an `https://` peer URL, peer traffic is TLS with the cluster CA
//! (`/config/tls/cluster-ca.pem`) and the node's own certificate, peers authenticated by it
//! ([`crate::cluster_peer_tls`]); with `http://` it is plain, for private networks only.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;

/// Debian's etcd (`apt-get install etcd-server`).
pub const DEFAULT_ETCD_BINARY: &str = "/usr/bin/etcd";
/// The member's data directory, under the server's data directory.
pub const MEMBER_DIR: &str = "etcd";
/// How long the server waits at start for the cluster to answer (a new cluster answers once
/// a quorum of its members has started) [default].
pub const DEFAULT_START_TIMEOUT_SECS: u64 = 300;
/// The first wait before a restart, doubled after each quick death up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A member that ran this long before dying is restarted after [`MIN_BACKOFF`] again.
const STABLE_RUN: Duration = Duration::from_secs(60);
/// How long a stopping member has between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often the supervisor looks at its child.
const POLL: Duration = Duration::from_millis(100);

/// `initial_cluster_state`: etcd's `--initial-cluster-state`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitialClusterState {
    /// Every member listed in `initial_cluster` starts together, a new cluster.
    #[default]
    New,
    /// This member joins a running cluster that already lists it (`etcdctl member add`, or
    /// `POST /cluster/members` on a member).
    Existing,
}

/// The `[etcd.member]` table: this node runs its own etcd member.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberFile {
    /// The member's name in the cluster (etcd's `--name`), unique among the members.
    pub name: String,
    /// Where the other members reach this one, `https://HOST:PORT` (peer TLS with the
    /// cluster CA) or `http://HOST:PORT` (plain, private networks only) (etcd's
    /// `--listen-peer-urls` and `--initial-advertise-peer-urls`).
    pub peer_url: String,
    /// Where the nodes reach this member, `http://HOST:PORT`; one of `--store`'s members.
    pub client_url: String,
    /// Every member of the cluster at its start, `name=peer-url` separated by commas
    /// (etcd's `--initial-cluster`); this member among them.
    pub initial_cluster: String,
    /// `new` (the members listed start together) or `existing` [default: new].
    pub initial_cluster_state: Option<InitialClusterState>,
    /// etcd's `--initial-cluster-token` [default: `strongroom`]: the same on every member.
    pub initial_cluster_token: Option<String>,
    /// The etcd binary [default: `/usr/bin/etcd`].
    pub etcd_binary: Option<PathBuf>,
    /// How long the server waits at start for the cluster to answer [default: 300].
    pub start_timeout_secs: Option<u64>,
}

/// A `http://HOST:PORT` URL (or `https://` for a peer URL), as etcd takes it; `Err` says
/// what is wrong with it.
fn host_port(what: &str, url: &str) -> anyhow::Result<String> {
    let peer = what != "client_url";
    let https = if peer {
        url.strip_prefix("https://")
    } else {
        None
    };
    let rest = https
        .or_else(|| url.strip_prefix("http://"))
        .with_context(|| {
            if url.starts_with("https://") {
                format!(
                    "[etcd.member] {what} {url:?}: TLS between a node and its member is not \
                 supported; use http:// on the node itself (peer URLs may be https://)"
                )
            } else if peer {
                format!("[etcd.member] {what} {url:?} is not https://HOST:PORT or http://HOST:PORT")
            } else {
                format!("[etcd.member] {what} {url:?} is not http://HOST:PORT")
            }
        })?;
    let (host, port) = rest
        .rsplit_once(':')
        .filter(|(h, _)| !h.is_empty() && !h.contains(['/', ',', '=']))
        .with_context(|| format!("[etcd.member] {what} {url:?} is not http://HOST:PORT"))?;
    port.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .with_context(|| format!("[etcd.member] {what} {url:?}: {port:?} is not a port"))?;
    Ok(format!("{host}:{port}"))
}

impl MemberFile {
    /// Refuses a table etcd would refuse, or one that would leave the node talking to
    /// members other than its own; `store_members` are `--store`'s `HOST:PORT`s.
    pub fn validate(&self, store_members: &[String]) -> anyhow::Result<()> {
        if self.name.is_empty() || self.name.contains([',', '=']) || self.name.trim() != self.name {
            anyhow::bail!(
                "[etcd.member] name {:?}: give a non-empty name without ',', '=' or spaces at its ends",
                self.name
            );
        }
        host_port("peer_url", &self.peer_url)?;
        let client = host_port("client_url", &self.client_url)?;
        if !store_members.contains(&client) {
            anyhow::bail!(
                "[etcd.member] client_url {:?} is not among the store's members ({}): the node \
                 would not use the member it runs",
                self.client_url,
                store_members.join(",")
            );
        }
        let mut listed = false;
        for entry in self.initial_cluster.split(',') {
            let (name, url) = entry.split_once('=').with_context(|| {
                format!("[etcd.member] initial_cluster: {entry:?} is not name=http://HOST:PORT")
            })?;
            host_port("initial_cluster", url)?;
            if name.is_empty() {
                anyhow::bail!("[etcd.member] initial_cluster: {entry:?} has no name");
            }
            if name == self.name {
                if url != self.peer_url {
                    anyhow::bail!(
                        "[etcd.member] initial_cluster lists {name} at {url}, but its peer_url is {}",
                        self.peer_url
                    );
                }
                listed = true;
            }
        }
        if !listed {
            anyhow::bail!(
                "[etcd.member] initial_cluster does not list this member ({}={})",
                self.name,
                self.peer_url
            );
        }
        if self.start_timeout_secs == Some(0) {
            anyhow::bail!("[etcd.member] start_timeout_secs must be at least 1");
        }
        if let Some(token) = &self.initial_cluster_token
            && token.is_empty()
        {
            anyhow::bail!("[etcd.member] initial_cluster_token must not be empty");
        }
        Ok(())
    }

    pub fn binary(&self) -> PathBuf {
        self.etcd_binary
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ETCD_BINARY))
    }

    pub fn start_timeout(&self) -> Duration {
        Duration::from_secs(
            self.start_timeout_secs
                .unwrap_or(DEFAULT_START_TIMEOUT_SECS),
        )
    }

    /// Whether peer traffic is TLS with the cluster CA (an `https://` peer URL).
    pub fn peer_tls(&self) -> bool {
        self.peer_url.starts_with("https://")
    }

    /// etcd's flags for this member with its data in `dir`; `limits` are the `[etcd]`
    /// table's `max_txn_ops` and `max_request_bytes`, passed on so that they match. With
    /// peer TLS, the CA and certificate are the copies in `peer_dir`; the key's flag is
    /// added at each start ([`spawn`]).
    fn args(
        &self,
        dir: &Path,
        peer_dir: &Path,
        limits: (Option<usize>, Option<usize>),
    ) -> Vec<String> {
        let state = match self.initial_cluster_state.unwrap_or_default() {
            InitialClusterState::New => "new",
            InitialClusterState::Existing => "existing",
        };
        let mut args = vec![
            format!("--name={}", self.name),
            format!("--data-dir={}", dir.display()),
            format!("--listen-client-urls={}", self.client_url),
            format!("--advertise-client-urls={}", self.client_url),
            format!("--listen-peer-urls={}", self.peer_url),
            format!("--initial-advertise-peer-urls={}", self.peer_url),
            format!("--initial-cluster={}", self.initial_cluster),
            format!("--initial-cluster-state={state}"),
            format!(
                "--initial-cluster-token={}",
                self.initial_cluster_token
                    .as_deref()
                    .unwrap_or("strongroom")
            ),
            // One JSON object a line on stderr, which the supervisor reads and logs.
            "--logger=zap".into(),
            "--log-outputs=stderr".into(),
        ];
        if self.peer_tls() {
            use crate::cluster_peer_tls::{CA_FILE, CERT_FILE};
            args.push(format!(
                "--peer-cert-file={}",
                peer_dir.join(CERT_FILE).display()
            ));
            args.push(format!(
                "--peer-trusted-ca-file={}",
                peer_dir.join(CA_FILE).display()
            ));
            // Only peers with a certificate from the cluster CA are let in.
            args.push("--peer-client-cert-auth".into());
        }
        if let Some(n) = limits.0 {
            args.push(format!("--max-txn-ops={n}"));
        }
        if let Some(n) = limits.1 {
            args.push(format!("--max-request-bytes={n}"));
        }
        args
    }
}

/// What the member process is doing: `ClusterState` of `/health/diagnose`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberState {
    pub running: bool,
    /// The running child's process id.
    pub pid: Option<u32>,
    /// How the last run ended: its exit code, or the signal that killed it.
    pub exited: Option<i32>,
    pub signaled: Option<i32>,
    /// Restarts after the member died.
    pub restarts: u64,
}

struct Shared {
    state: Mutex<MemberState>,
    stop: Mutex<bool>,
    wake: Condvar,
    /// The node's TLS key, for a member with peer TLS: handed to each start in a memfd.
    peer_key: Mutex<Option<zeroize::Zeroizing<String>>>,
    /// Set when the peer TLS material changed: the running member is stopped and started
    /// again at once with it.
    restart: Mutex<bool>,
}

impl Shared {
    fn stopping(&self) -> bool {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps up to `d`, or until asked to stop; returns whether to stop.
    fn sleep(&self, d: Duration) -> bool {
        let stop = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        let (stop, _) = self
            .wake
            .wait_timeout_while(stop, d, |stop| !*stop)
            .unwrap_or_else(|e| e.into_inner());
        *stop
    }

    fn set(&self, f: impl FnOnce(&mut MemberState)) {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn take_restart(&self) -> bool {
        std::mem::take(&mut *self.restart.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Restarts this process's member with `key_pem` and the peer TLS copies as they are now
/// on disk (see [`crate::cluster_peer_tls::refresh`]); nothing for a member without peer TLS.
pub fn restart_with_peer_key(key_pem: &str) {
    let current = CURRENT.read().unwrap_or_else(|e| e.into_inner());
    let Some(shared) = current.as_ref() else {
        return;
    };
    let mut key = shared.peer_key.lock().unwrap_or_else(|e| e.into_inner());
    if key.is_none() {
        return;
    }
    *key = Some(zeroize::Zeroizing::new(key_pem.to_owned()));
    *shared.restart.lock().unwrap_or_else(|e| e.into_inner()) = true;
    tracing::info!("restarting the etcd member with the new peer TLS material");
}

/// The member of this process, for `/health/diagnose`.
static CURRENT: RwLock<Option<Arc<Shared>>> = RwLock::new(None);

/// The state of the etcd member this node supervises; `None` when it supervises none.
pub fn local_state() -> Option<MemberState> {
    let current = CURRENT.read().unwrap_or_else(|e| e.into_inner());
    current
        .as_ref()
        .map(|s| s.state.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

/// The running supervisor: stops the member when dropped.
pub struct LocalMember {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    name: String,
}

impl std::fmt::Debug for LocalMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalMember")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl LocalMember {
    /// Starts supervising the member described by `member`, with its data under
    /// `<data_dir>/etcd` (made, mode 0700, if missing). Returns once the first start was
    /// attempted; [`LocalMember::wait_until`] waits for the cluster to answer. With an
    /// `https://` peer URL, the node's copy of the cluster CA and its identity must be there
    /// ([`crate::cluster_peer_tls`]), else nothing starts.
    pub fn start(
        data_dir: &Path,
        member: &MemberFile,
        limits: (Option<usize>, Option<usize>),
    ) -> anyhow::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let binary = member.binary();
        if !binary.is_file() {
            anyhow::bail!(
                "[etcd.member]: no etcd binary at {} (Debian: apt-get install etcd-server; or set etcd_binary)",
                binary.display()
            );
        }
        let peer_dir = data_dir.join(crate::cluster_peer_tls::PEER_TLS_DIR);
        let peer_key = if member.peer_tls() {
            let material =
                crate::cluster_peer_tls::PeerMaterial::load(data_dir)?.with_context(|| {
                    format!(
                        "[etcd.member] peer_url {} is https://, but this node has no cluster CA \
                     ({} is missing): run the node with an http:// peer URL on a private \
                     network, set its certificate and the cluster CA (PUT \
                     /config/tls/cert.pem, PUT /config/tls/cluster-ca.pem), then switch \
                     (docs/cluster.md, \"Peer TLS\")",
                        member.peer_url,
                        peer_dir.join(crate::cluster_peer_tls::CA_FILE).display()
                    )
                })?;
            Some(material.key_pem)
        } else {
            None
        };
        crate::cluster_peer_tls::supervise(data_dir);
        let dir = data_dir.join(MEMBER_DIR);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(MemberState::default()),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            peer_key: Mutex::new(peer_key),
            restart: Mutex::new(false),
        });
        let args = member.args(&dir, &peer_dir, limits);
        let name = member.name.clone();
        let thread = {
            let shared = shared.clone();
            let name = name.clone();
            std::thread::Builder::new()
                .name("etcd-member".into())
                .spawn(move || supervise(&shared, &binary, &args, &name))
                .context("starting the etcd member's supervisor")?
        };
        *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = Some(shared.clone());
        tracing::info!(member = %name, data = %dir.display(), "supervising the local etcd member");
        Ok(Self {
            shared,
            thread: Some(thread),
            name,
        })
    }

    pub fn state(&self) -> MemberState {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Calls `ready` until it succeeds (the cluster answers: a new cluster does once a
    /// quorum of members runs) or `timeout` passes; logs what it waits for every 10 s.
    pub fn wait_until<T>(
        &self,
        timeout: Duration,
        mut ready: impl FnMut() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let start = Instant::now();
        let mut said = Instant::now();
        loop {
            match ready() {
                Ok(v) => {
                    tracing::info!(
                        member = %self.name,
                        waited_ms = start.elapsed().as_millis() as u64,
                        "the etcd cluster answers"
                    );
                    return Ok(v);
                }
                Err(e) if start.elapsed() >= timeout => {
                    return Err(e.context(format!(
                        "the etcd cluster did not answer within {} s of starting member {} \
                         (a new cluster answers once most of its members run: start the others)",
                        timeout.as_secs(),
                        self.name
                    )));
                }
                Err(e) => {
                    if said.elapsed() >= Duration::from_secs(10) {
                        tracing::info!(
                            member = %self.name,
                            error = %format!("{e:#}"),
                            "waiting for the etcd cluster to answer (a new cluster needs most of its members started)"
                        );
                        said = Instant::now();
                    }
                    if self.shared.sleep(Duration::from_millis(250)) {
                        anyhow::bail!("stopped while waiting for the etcd cluster");
                    }
                }
            }
        }
    }

    /// Stops the member (SIGTERM, then SIGKILL after [`STOP_GRACE`]) and its supervisor.
    pub fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        *self.shared.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.shared.wake.notify_all();
        let _ = thread.join();
        let mut current = CURRENT.write().unwrap_or_else(|e| e.into_inner());
        if current
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &self.shared))
        {
            *current = None;
        }
    }
}

impl Drop for LocalMember {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The supervisor's thread: runs the member until asked to stop, restarting it with
/// back-off. It must stay alive as long as the child: `PR_SET_PDEATHSIG` fires when the
/// thread that started the child ends.
fn supervise(shared: &Shared, binary: &Path, args: &[String], name: &str) {
    let mut backoff = MIN_BACKOFF;
    let mut first = true;
    while !shared.stopping() {
        // This start takes the material as it is now, whatever asked for a restart before.
        shared.take_restart();
        let key = shared
            .peer_key
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match spawn(binary, args, key.as_deref().map(|k| k.as_str())) {
            Ok(mut child) => {
                let pid = child.id();
                shared.set(|s| {
                    s.running = true;
                    s.pid = Some(pid);
                    s.exited = None;
                    s.signaled = None;
                    if !first {
                        s.restarts += 1;
                    }
                });
                tracing::info!(member = name, pid, "etcd member started");
                let started = Instant::now();
                let mut renewed = false;
                let status = loop {
                    match child.try_wait() {
                        Ok(Some(status)) => break Some(status),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::error!(member = name, error = %e, "cannot wait for the etcd member");
                            break None;
                        }
                    }
                    if shared.sleep(POLL) {
                        let status = terminate(&mut child);
                        tracing::info!(member = name, status = ?status, "etcd member stopped");
                        record_exit(shared, status);
                        return;
                    }
                    if shared.take_restart() {
                        let status = terminate(&mut child);
                        tracing::info!(member = name, status = ?status, "etcd member stopped for new peer TLS material");
                        renewed = true;
                        break status;
                    }
                };
                if renewed {
                    // Stopped for new material: started again at once, not counted as a death.
                    first = true;
                    continue;
                }
                record_exit(shared, status);
                if started.elapsed() >= STABLE_RUN {
                    backoff = MIN_BACKOFF;
                }
                tracing::warn!(
                    member = name,
                    status = %status.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()),
                    restart_in_ms = backoff.as_millis() as u64,
                    "etcd member exited; restarting it"
                );
            }
            Err(e) => {
                tracing::error!(
                    member = name,
                    error = %format!("{e:#}"),
                    restart_in_ms = backoff.as_millis() as u64,
                    "cannot start the etcd member"
                );
            }
        }
        first = false;
        if shared.sleep(backoff) {
            return;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn record_exit(shared: &Shared, status: Option<ExitStatus>) {
    use std::os::unix::process::ExitStatusExt;
    shared.set(|s| {
        s.running = false;
        s.pid = None;
        s.exited = status.and_then(|st| st.code());
        s.signaled = status.and_then(|st| st.signal());
    });
}

/// SIGTERM, a grace period, then SIGKILL; reaps the child.
fn terminate(child: &mut Child) -> Option<ExitStatus> {
    let pid = child.id() as libc::pid_t;
    // SAFETY: a signal to our own child, which is not yet reaped (its pid is still ours).
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => return None,
        }
    }
    tracing::warn!(
        pid,
        "the etcd member did not stop within {STOP_GRACE:?} of SIGTERM; killing it"
    );
    let _ = child.kill();
    child.wait().ok()
}

/// Starts the member; `peer_key` (peer TLS) goes in a memfd the child inherits.
fn spawn(binary: &Path, args: &[String], peer_key: Option<&str>) -> anyhow::Result<Child> {
    use std::os::fd::AsRawFd;
    let parent = std::process::id();
    let key_fd = peer_key
        .map(crate::cluster_peer_tls::key_memfd)
        .transpose()?;
    let key_raw = key_fd.as_ref().map(|fd| fd.as_raw_fd());
    let mut command = Command::new(binary);
    command.args(args);
    if let Some(fd) = key_raw {
        command.arg(format!("--peer-key-file=/dev/fd/{fd}"));
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: runs in the forked child before exec: prctl and getppid are async-signal-safe,
    // and nothing is allocated.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGTERM as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The server died between fork and prctl: nobody would stop this member.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::other("the server is gone"));
            }
            if let Some(fd) = key_raw {
                crate::cluster_peer_tls::clear_cloexec(fd)?;
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    // The child has its own copy of the descriptor now.
    drop(key_fd);
    if let Some(out) = child.stdout.take() {
        forward_log(out);
    }
    if let Some(err) = child.stderr.take() {
        forward_log(err);
    }
    Ok(child)
}

/// Logs what the member writes, a line at a time, until it closes the pipe. etcd's zap
/// lines are JSON with a `level`: its errors and warnings are ours at the same level (so
/// `/health/diagnose` shows them); its chatty info at debug.
fn forward_log(pipe: impl std::io::Read + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name("etcd-member-log".into())
        .spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                log_line(&line);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot read the etcd member's output");
    }
}

fn log_line(line: &str) {
    let parsed: Option<serde_json::Value> = serde_json::from_str(line).ok();
    let level = parsed
        .as_ref()
        .and_then(|v| v.get("level")?.as_str().map(str::to_owned));
    let msg = parsed
        .as_ref()
        .and_then(|v| v.get("msg")?.as_str().map(str::to_owned));
    let text = match &msg {
        // The message first, then the whole line for its fields.
        Some(msg) => format!("{msg} {line}"),
        None => line.to_owned(),
    };
    match level.as_deref() {
        Some("error" | "dpanic" | "panic" | "fatal") => {
            tracing::error!(target: "etcd", "{text}")
        }
        Some("warn") => tracing::warn!(target: "etcd", "{text}"),
        Some("debug") => tracing::trace!(target: "etcd", "{text}"),
        _ => tracing::debug!(target: "etcd", "{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> MemberFile {
        MemberFile {
            name: "n1".into(),
            peer_url: "http://10.0.0.1:2380".into(),
            client_url: "http://10.0.0.1:2379".into(),
            initial_cluster: "n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380".into(),
            initial_cluster_state: None,
            initial_cluster_token: None,
            etcd_binary: None,
            start_timeout_secs: None,
        }
    }

    #[test]
    fn a_member_table_is_checked() {
        let store = vec!["10.0.0.1:2379".to_owned(), "10.0.0.2:2379".to_owned()];
        member().validate(&store).unwrap();
        let mut tls = member();
        tls.peer_url = "https://10.0.0.1:2380".into();
        tls.initial_cluster = "n1=https://10.0.0.1:2380,n2=https://10.0.0.2:2380".into();
        tls.validate(&store).unwrap();
        assert!(tls.peer_tls() && !member().peer_tls());
        type Change = Box<dyn Fn(&mut MemberFile)>;
        let bad: Vec<(&str, Change)> = vec![
            ("empty name", Box::new(|m| m.name.clear())),
            ("name with =", Box::new(|m| m.name = "a=b".into())),
            (
                "https client",
                Box::new(|m| m.client_url = "https://10.0.0.1:2379".into()),
            ),
            (
                "ftp peer",
                Box::new(|m| m.peer_url = "ftp://10.0.0.1:2380".into()),
            ),
            ("no port", Box::new(|m| m.peer_url = "http://h".into())),
            (
                "client not in the store",
                Box::new(|m| m.client_url = "http://10.0.0.9:2379".into()),
            ),
            (
                "not listed",
                Box::new(|m| m.initial_cluster = "n2=http://10.0.0.2:2380".into()),
            ),
            (
                "listed elsewhere",
                Box::new(|m| m.initial_cluster = "n1=http://10.0.0.7:2380".into()),
            ),
            (
                "no name in the list",
                Box::new(|m| m.initial_cluster = "n1=http://10.0.0.1:2380,=http://h:1".into()),
            ),
            ("zero timeout", Box::new(|m| m.start_timeout_secs = Some(0))),
        ];
        for (what, change) in bad {
            let mut m = member();
            change(&mut m);
            assert!(m.validate(&store).is_err(), "{what}");
        }
    }

    #[test]
    fn the_flags_carry_the_table_and_the_limits() {
        let mut m = member();
        m.initial_cluster_state = Some(InitialClusterState::Existing);
        let args = m.args(Path::new("/d/etcd"), Path::new("/d/p"), (Some(256), None));
        for want in [
            "--name=n1",
            "--data-dir=/d/etcd",
            "--initial-cluster-state=existing",
            "--initial-cluster-token=strongroom",
            "--max-txn-ops=256",
            "--listen-client-urls=http://10.0.0.1:2379",
        ] {
            assert!(args.iter().any(|a| a == want), "{want} in {args:?}");
        }
        assert!(!args.iter().any(|a| a.starts_with("--max-request-bytes")));
        assert!(!args.iter().any(|a| a.starts_with("--peer-")), "{args:?}");
        // An https:// peer URL: the copies and client certificate authentication.
        m.peer_url = "https://10.0.0.1:2380".into();
        let args = m.args(Path::new("/d/etcd"), Path::new("/d/p"), (None, None));
        for want in [
            "--peer-cert-file=/d/p/cert.pem",
            "--peer-trusted-ca-file=/d/p/cluster-ca.pem",
            "--peer-client-cert-auth",
            "--listen-peer-urls=https://10.0.0.1:2380",
        ] {
            assert!(args.iter().any(|a| a == want), "{want} in {args:?}");
        }
        // The key is never a file: its flag comes with the memfd at each start.
        assert!(!args.iter().any(|a| a.starts_with("--peer-key-file")));
    }

    /// A member that keeps dying (`/bin/false` takes etcd's flags and exits 1) is restarted,
    /// its exit reported, and the supervisor stops on request, between two restarts.
    #[test]
    fn a_dying_member_is_restarted_and_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let mut m = member();
        m.etcd_binary = Some("/bin/false".into());
        let mut local = LocalMember::start(&dir, &m, (None, None)).unwrap();
        assert!(dir.join(MEMBER_DIR).is_dir());
        loop {
            let state = local.state();
            if state.restarts >= 1 && !state.running && state.exited == Some(1) {
                assert_eq!(state.signaled, None);
                assert_eq!(state.pid, None);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(local_state().map(|s| s.exited), Some(Some(1)));
        local.stop();
        assert_eq!(local_state(), None);
        m.etcd_binary = Some(dir.join("no such etcd"));
        let refused = LocalMember::start(&dir, &m, (None, None)).unwrap_err();
        assert!(refused.to_string().contains("no etcd binary"), "{refused}");
    }

    #[test]
    fn the_table_parses_from_toml() {
        let m: MemberFile = toml::from_str(
            "name = \"n1\"\npeer_url = \"http://h:2380\"\nclient_url = \"http://h:2379\"\n\
             initial_cluster = \"n1=http://h:2380\"\ninitial_cluster_state = \"existing\"\n",
        )
        .unwrap();
        assert_eq!(m.initial_cluster_state, Some(InitialClusterState::Existing));
        assert!(toml::from_str::<MemberFile>("name = \"n1\"\nbogus = 1\n").is_err());
    }
}
