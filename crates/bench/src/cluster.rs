//! The cluster section (`--cluster`, which runs alone): the same authenticated reads
//! (`POST /random`, an Ed25519 sign, an appliance session's `GET /session`) and writes (a user created, a passphrase changed) on a
//! single node on its embedded store (redb) and on a cluster of three nodes on three etcd
//! members, all on loopback, in one run; each cluster phase's ratio to the same phase on the
//! single node. The cluster phases spread their requests over the three nodes in turn, as a
//! load balancer would.
//!
//! The server binary must be built with the etcd backend
//! (`cargo build --release -p strongroom --features etcd`); etcd is Debian's `/usr/bin/etcd`
//! (`etcd-server`), or the binary `STRONGROOM_BENCH_ETCD` names. The phases of one kind run
//! back to back (redb, then the cluster), so both meet the same moods of the machine.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::phase::{Load, Phase, Report};
use crate::server::Server;
use crate::soak::APPLIANCE;
use crate::{ADMIN_PASSPHRASE, Api, OPERATOR_PASSPHRASE, progress, run_phase};

const OPERATOR: &str = "benchop";
const KEY: &str = "benchkey";
/// The users whose passphrases the write phase changes, in turn, so that two requests in
/// flight rarely change the same user (which the store would refuse as a conflict).
const WRITERS: usize = 16;
const WRITER_PASSPHRASE: &str = "strongroom bench writer passphrase";
/// Writes hash a passphrase each (Argon2id, 19 MiB): more at once than the server's hash gate
/// admits would be refused as busy, so the write phases run at most this many tasks.
const WRITE_CONCURRENCY: usize = 4;
const ETCD_START: Duration = Duration::from_secs(30);

/// One etcd member on loopback, killed (and its data deleted) when dropped. The bench keeps
/// its own rather than `strongroom_store::etcd::test_member`: it depends on none of the
/// server's crates, and that module's etcd-client build needs `protoc`, which the default
/// build must not.
struct EtcdMember {
    child: Child,
    client_port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for EtcdMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn etcd_binary() -> PathBuf {
    std::env::var_os("STRONGROOM_BENCH_ETCD")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/etcd"))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `n` members of one new etcd cluster and waits until each reports itself healthy.
async fn start_etcd(n: usize) -> anyhow::Result<Vec<EtcdMember>> {
    let binary = etcd_binary();
    if !binary.is_file() {
        bail!(
            "no etcd at {} (Debian: apt-get install etcd-server; or set STRONGROOM_BENCH_ETCD)",
            binary.display()
        );
    }
    let ports: Vec<(u16, u16)> = (0..n)
        .map(|_| Ok((free_port()?, free_port()?)))
        .collect::<anyhow::Result<_>>()?;
    let initial = ports
        .iter()
        .enumerate()
        .map(|(i, (_, peer))| format!("b{i}=http://127.0.0.1:{peer}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut members = Vec::new();
    for (i, (client, peer)) in ports.iter().enumerate() {
        let dir = tempfile::Builder::new()
            .prefix("strongroom-bench-etcd-")
            .tempdir()?;
        let log = std::fs::File::create(dir.path().join("etcd.log"))?;
        let child = Command::new(&binary)
            .arg(format!("--name=b{i}"))
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster={initial}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        members.push(EtcdMember {
            child,
            client_port: *client,
            _dir: dir,
        });
    }
    // etcd's own health check on its client port: true once the member has a leader.
    let http = Client::builder().timeout(Duration::from_secs(2)).build()?;
    let deadline = Instant::now() + ETCD_START;
    for m in &members {
        let url = format!("http://127.0.0.1:{}/health", m.client_port);
        loop {
            let healthy = match http.get(&url).send().await {
                Ok(r) => r.text().await.unwrap_or_default().contains("true"),
                Err(_) => false,
            };
            if healthy {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "etcd on port {} not healthy within {ETCD_START:?}",
                    m.client_port
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(members)
}

/// Some nodes sharing one state: one on redb, or three on etcd.
struct Nodes {
    servers: Vec<Server>,
    clients: Vec<Client>,
    /// An appliance session made on the first node (in etcd on a cluster: any node serves it).
    session: String,
}

impl Nodes {
    /// Starts `n` servers with `args`, provisions the first, makes the Operator, its key and
    /// the writers there, and unlocks the others.
    async fn start(
        binary: &std::path::Path,
        args: &[String],
        n: usize,
        pool: usize,
    ) -> anyhow::Result<Self> {
        let mut nodes = Nodes {
            servers: Vec::new(),
            clients: Vec::new(),
            session: String::new(),
        };
        for i in 0..n {
            let server = Server::start_with(binary, args).await?;
            let client = crate::tls::pinned_client(&server.fingerprint, pool)?;
            let api = Api {
                client: &client,
                server: &server,
            };
            if i == 0 {
                api.provision().await?;
                set_up(&api).await?;
                nodes.session = api.appliance_session().await?;
            } else {
                api.unlock(&format!("POST /unlock (node {})", i + 1))
                    .await?;
            }
            nodes.servers.push(server);
            nodes.clients.push(client);
        }
        Ok(nodes)
    }

    /// The `(client, URL of path)` of each node, for a phase to take in turn.
    fn targets(&self, path: &str) -> Arc<Vec<(Client, String)>> {
        Arc::new(
            self.clients
                .iter()
                .zip(&self.servers)
                .map(|(c, s)| (c.clone(), s.url(path)))
                .collect(),
        )
    }

    /// As [`Nodes::targets`], on the appliance face.
    fn appliance_targets(&self, path: &str) -> Arc<Vec<(Client, String)>> {
        Arc::new(
            self.clients
                .iter()
                .zip(&self.servers)
                .map(|(c, s)| (c.clone(), format!("{}{APPLIANCE}{path}", s.base)))
                .collect(),
        )
    }
}

async fn set_up(api: &Api<'_>) -> anyhow::Result<()> {
    let admin = |r: reqwest::RequestBuilder| r.basic_auth("admin", Some(ADMIN_PASSPHRASE));
    let user = |passphrase: &str| json!({"realName": "Bench user", "role": "Operator", "passphrase": passphrase});
    api.expect(
        admin(api.put(&format!("/users/{OPERATOR}"))).json(&user(OPERATOR_PASSPHRASE)),
        StatusCode::CREATED,
        "PUT /users/benchop",
    )
    .await?;
    for w in 0..WRITERS {
        api.expect(
            admin(api.put(&format!("/users/benchw{w}"))).json(&user(WRITER_PASSPHRASE)),
            StatusCode::CREATED,
            "PUT /users/benchw{n}",
        )
        .await?;
    }
    let mut key = crate::keys::generate_body(crate::keys::Signer::Ed25519);
    key["id"] = json!(KEY);
    api.expect(
        admin(api.post("/keys/generate")).json(&key),
        StatusCode::CREATED,
        "POST /keys/generate (the sign key)",
    )
    .await?;
    Ok(())
}

/// A phase sending, in turn to each node, the request `build` makes from its client and URL;
/// with how many requests it has sent (warm-up included), to weigh etcd's counts against.
fn phase(
    name: String,
    endpoint: String,
    expected: StatusCode,
    targets: Arc<Vec<(Client, String)>>,
    build: impl Fn(&Client, &str, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> (Phase, Arc<AtomicUsize>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let next = sent.clone();
    let phase = Phase::new(name, endpoint, expected, move |_: &Client| {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let (client, url) = &targets[i % targets.len()];
        build(client, url, i)
    });
    (phase, sent)
}

/// The KV requests (`Range`, `Txn`, `Put`, `DeleteRange`: the calls that read or write keys) the members have
/// received, by etcd's own count (`grpc_server_started_total` on each member's `/metrics`):
/// what the nodes asked of etcd, counted outside Strongroom.
async fn etcd_kv_requests(members: &[EtcdMember]) -> anyhow::Result<u64> {
    let http = Client::builder().timeout(Duration::from_secs(5)).build()?;
    let mut total = 0;
    for m in members {
        let url = format!("http://127.0.0.1:{}/metrics", m.client_port);
        let text = http.get(&url).send().await?.text().await?;
        total += kv_requests_in(&text);
    }
    Ok(total)
}

/// The sum of `grpc_server_started_total` over the KV service's methods that read or write
/// keys, in one member's Prometheus text.
fn kv_requests_in(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("grpc_server_started_total{"))
        .filter(|l| l.contains("grpc_service=\"etcdserverpb.KV\""))
        .filter(|l| {
            ["Range", "Txn", "Put", "DeleteRange"]
                .iter()
                .any(|m| l.contains(&format!("grpc_method=\"{m}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// The request kinds on `nodes`, tagged `tag` (`1` for the single node, `3` for the
/// cluster): random, sign, an appliance session read, user create, passphrase change.
fn phases(nodes: &Nodes, tag: &str, what: &str) -> Vec<((Phase, Arc<AtomicUsize>), bool)> {
    let op = |r: reqwest::RequestBuilder| r.basic_auth(OPERATOR, Some(OPERATOR_PASSPHRASE));
    let admin = |r: reqwest::RequestBuilder| r.basic_auth("admin", Some(ADMIN_PASSPHRASE));
    let message = STANDARD.encode(b"strongroom bench: the message to sign");
    let sign_body = json!({"mode": "EdDSA", "message": message});
    let writers = WRITERS;
    let session = nodes.session.clone();
    vec![
        (
            phase(
                format!("L{tag} ({what}: random)"),
                "POST /api/v1/random {\"length\": 32}, Basic auth as an Operator".into(),
                StatusCode::OK,
                nodes.targets("/random"),
                move |c, url, _| op(c.post(url)).json(&json!({"length": 32})),
            ),
            false,
        ),
        (
            phase(
                format!("S{tag} ({what}: sign)"),
                format!("POST /api/v1/keys/{KEY}/sign EdDSA, Basic auth as an Operator"),
                StatusCode::OK,
                nodes.targets(&format!("/keys/{KEY}/sign")),
                move |c, url, _| op(c.post(url)).json(&sign_body),
            ),
            false,
        ),
        (
            phase(
                format!("A{tag} ({what}: appliance session)"),
                "GET /api/rest/configure/v1/session, an appliance session made on the first node"
                    .into(),
                StatusCode::OK,
                nodes.appliance_targets("/session"),
                move |c, url, _| c.get(url).header("x-dr-session", session.as_str()),
            ),
            false,
        ),
        (
            phase(
                format!("U{tag} ({what}: user create)"),
                "POST /api/v1/users (an Operator), Basic auth as the root Administrator".into(),
                StatusCode::CREATED,
                nodes.targets("/users"),
                move |c, url, _| {
                    admin(c.post(url)).json(&json!({
                        "realName": "Bench user",
                        "role": "Operator",
                        "passphrase": WRITER_PASSPHRASE,
                    }))
                },
            ),
            true,
        ),
        (
            phase(
                format!("P{tag} ({what}: passphrase change)"),
                format!(
                    "POST /api/v1/users/benchwN/passphrase over {WRITERS} users in turn, Basic auth as the root Administrator"
                ),
                StatusCode::NO_CONTENT,
                nodes.targets("/users"),
                move |c, url, i| {
                    admin(c.post(format!("{url}/benchw{}/passphrase", i % writers)))
                        .json(&json!({"passphrase": WRITER_PASSPHRASE}))
                },
            ),
            true,
        ),
    ]
}

/// Runs the section and prints its reports and its table.
pub async fn run(binary: &std::path::Path, load: Load) -> anyhow::Result<()> {
    let pool = load.concurrency;
    progress("cluster section: a single node on redb");
    let single = Nodes::start(binary, &[], 1, pool).await?;
    progress("cluster section: three etcd members");
    let etcd = start_etcd(3).await?;
    let store = format!(
        "etcd://{}",
        etcd.iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect::<Vec<_>>()
            .join(",")
    );
    progress(format!("cluster section: three nodes on {store}"));
    let cluster = Nodes::start(binary, &["--store".into(), store], 3, pool).await?;

    let write_load = Load {
        concurrency: load.concurrency.min(WRITE_CONCURRENCY),
        ..load
    };
    let mut reports: Vec<Report> = Vec::new();
    let mut baselines = Vec::new();
    let one = phases(&single, "1", "redb, 1 node");
    let three = phases(&cluster, "3", "etcd, 3 nodes");
    // etcd KV requests per HTTP request, for each cluster phase (name, per request).
    let mut etcd_per_request = Vec::new();
    for (((p1, _), write), ((p3, sent3), _)) in one.into_iter().zip(three) {
        let load = if write { write_load } else { load };
        reports.push(run_phase(&single.clients[0], &p1, load).await?);
        let before = etcd_kv_requests(&etcd).await?;
        reports.push(run_phase(&cluster.clients[0], &p3, load).await?);
        let kv = etcd_kv_requests(&etcd).await?.saturating_sub(before);
        let sent = sent3.load(Ordering::Relaxed).max(1);
        etcd_per_request.push((p3.name.clone(), kv, sent));
        baselines.push(crate::table::Baseline::new(
            p3.name.clone(),
            p1.name.clone(),
        ));
    }

    println!("strongroom-bench: cluster section");
    println!(
        "load         reads {} concurrent tasks, writes {}, {} s per phase after a {} s warm-up",
        load.concurrency,
        write_load.concurrency,
        load.duration.as_secs(),
        load.warmup.as_secs()
    );
    println!(
        "cluster      three nodes, three etcd members ({}), all on loopback",
        etcd_binary().display()
    );
    for report in &reports {
        println!();
        println!("{report}");
    }
    crate::table::print(&reports, &baselines);
    println!();
    println!(
        "etcd KV requests (Range, Txn, Put, DeleteRange, summed over the members' grpc_server_started_total) per \
         HTTP request sent, warm-up included; the nodes' own probes add a few a second"
    );
    println!();
    println!("| phase | etcd KV requests | HTTP requests | per request |");
    println!("|---|---|---|---|");
    for (name, kv, sent) in &etcd_per_request {
        println!(
            "| {name} | {kv} | {sent} | {:.3} |",
            *kv as f64 / *sent as f64
        );
    }
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| r.ok == 0)
        .map(|r| r.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("no successful request in phase {}", failed.join(", "));
    }
    drop(cluster);
    drop(etcd);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::kv_requests_in;

    #[test]
    fn counts_kv_reads_and_writes_only() {
        let text = "\
# TYPE grpc_server_started_total counter
grpc_server_started_total{grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 12
grpc_server_started_total{grpc_method=\"Txn\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 30
grpc_server_started_total{grpc_method=\"Put\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 7
grpc_server_started_total{grpc_method=\"Watch\",grpc_service=\"etcdserverpb.Watch\",grpc_type=\"bidi_stream\"} 3
grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Txn\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 30
";
        assert_eq!(kv_requests_in(text), 49);
    }
}
