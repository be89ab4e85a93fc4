//! Nodes that supervise their own etcd member (`[etcd.member]`, `crates/server/src/
//! cluster_member.rs`): three servers each starting Debian's etcd as a child on loopback
//! ports, a static bootstrap. Built only with the feature `etcd-test`
//! (`cargo test -p strongroom --features etcd-test --test api cluster_member`).
//!
//! Also `/cluster/join` and `/cluster/force-new`, which this build answers with the spec's
//! 412 and what to do instead (docs/cluster.md).

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use strongroom_store::etcd::test_member::{etcd_binary, free_port};

use super::cluster::{poll_until, random_status};
use crate::common::*;

/// How long the test waits for something a process does (a restart, an exit) before failing:
/// far above what it takes, so a loaded machine does not fail it.
const GIVE_UP: Duration = Duration::from_secs(90);

/// One node's ports and configuration file.
struct NodePlan {
    name: String,
    client_port: u16,
    peer_port: u16,
}

impl NodePlan {
    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }
    fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }
}

/// Writes each node's configuration file into `dir`; returns the plans and each node's
/// `--store` and file. Each node's store is its own member only (docs/cluster.md says why).
fn plan(dir: &Path, n: usize) -> (Vec<NodePlan>, Vec<(String, String)>) {
    let plans: Vec<NodePlan> = (0..n)
        .map(|i| NodePlan {
            name: format!("node{}", i + 1),
            client_port: free_port(),
            peer_port: free_port(),
        })
        .collect();
    let initial = plans
        .iter()
        .map(|p| format!("{}={}", p.name, p.peer_url()))
        .collect::<Vec<_>>()
        .join(",");
    let starts = plans
        .iter()
        .map(|p| {
            let path = dir.join(format!("{}.toml", p.name));
            std::fs::write(
                &path,
                format!(
                    "[etcd.member]\nname = \"{}\"\npeer_url = \"{}\"\nclient_url = \"{}\"\n\
                     initial_cluster = \"{initial}\"\ninitial_cluster_state = \"new\"\n\
                     etcd_binary = \"{}\"\n",
                    p.name,
                    p.peer_url(),
                    p.client_url(),
                    etcd_binary().display()
                ),
            )
            .unwrap();
            (
                format!("etcd://127.0.0.1:{}", p.client_port),
                path.display().to_string(),
            )
        })
        .collect();
    (plans, starts)
}

/// Starts every node at once: each waits at start for its member's cluster, which answers
/// only once most members run.
fn start_nodes(starts: &[(String, String)]) -> Vec<Server> {
    let starting: Vec<_> = starts
        .iter()
        .cloned()
        .map(|(store, file)| {
            std::thread::spawn(move || Server::start_with(&["--store", &store, "--config", &file]))
        })
        .collect();
    starting.into_iter().map(|t| t.join().unwrap()).collect()
}

/// The live children of `pid` running etcd, from /proc (no zombie).
fn etcd_children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after its last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("");
        let mut fields = rest.split_whitespace();
        let (state, ppid) = (fields.next(), fields.next());
        if comm == "etcd" && state != Some("Z") && ppid == Some(pid.to_string().as_str()) {
            found.push(child);
        }
    }
    found
}

/// Whether process `pid` still runs (a zombie does not).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

/// Polls `check` until it holds, within [`GIVE_UP`].
async fn wait_for<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    poll_until(what, GIVE_UP, Duration::from_millis(100), check).await;
}

async fn diagnose(s: &Server) -> Value {
    let r = s.as_admin(Method::GET, "/health/diagnose").answer().await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_nodes_each_supervising_its_own_member() {
    let dir = tempfile::tempdir().unwrap();
    let (plans, starts) = plan(dir.path(), 3);
    let mut nodes = start_nodes(&starts);

    // Each node runs exactly one etcd, its own, with its data under its data directory.
    let mut members = Vec::new();
    for (node, plan) in nodes.iter().zip(&plans) {
        let children = etcd_children(node.pid());
        assert_eq!(children.len(), 1, "{}: {children:?}", plan.name);
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", children[0])).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            cmdline.contains(&format!(
                "--data-dir={}",
                node.data_dir.join("etcd").display()
            )) && cmdline.contains(&format!("--name={}", plan.name)),
            "{cmdline}"
        );
        assert!(node.data_dir.join("etcd/member").is_dir());
        members.push(children[0]);
    }

    // Provisioned on node 1; nodes 2 and 3 come up Locked and are unlocked.
    nodes[0].provision().await;
    for node in &nodes[1..] {
        wait_for("a node sees the provisioning", || async {
            node.state().await == "Locked"
        })
        .await;
        assert_eq!(node.unlock(UNLOCK).await.status(), 204);
        assert_eq!(node.state().await, "Operational");
    }
    for node in &nodes {
        let d = diagnose(node).await;
        assert_eq!(d["clusterState"], json!({"running": true}), "{d}");
    }

    // A user created on node 1 works on node 3.
    let user = nodes[0]
        .create_user(Some("op1"), "Operator", "operator passphrase 1")
        .await;
    wait_for("node 3 knows the user", || async {
        random_status(&nodes[2], &user, "operator passphrase 1").await == 200
    })
    .await;

    // kill -9 node 2's member: the supervisor starts a new one, and node 2 serves again.
    // SAFETY: a signal to a process this test found as node 2's etcd child.
    unsafe {
        libc::kill(members[1] as i32, libc::SIGKILL);
    }
    let node2 = nodes[1].pid();
    let killed = members[1];
    wait_for("node 2's member is restarted", || async move {
        matches!(etcd_children(node2)[..], [one] if one != killed)
    })
    .await;
    let restarted = etcd_children(node2)[0];
    assert!(
        nodes[1].log().contains("etcd member exited; restarting it"),
        "the restart is logged"
    );
    // Requests that need etcd fail on node 2 until its member is back (and, when the killed
    // member led, until a new leader is elected); then node 2 answers, and keeps answering.
    wait_for("node 2 answers after its member died", || async {
        random_status(&nodes[1], &user, "operator passphrase 1").await == 200
    })
    .await;
    for _ in 0..10 {
        assert_eq!(
            random_status(&nodes[1], &user, "operator passphrase 1").await,
            200
        );
    }
    // A write on node 2 after the restart, read on node 1.
    let second = nodes[1]
        .create_user(Some("op2"), "Operator", "operator passphrase 2")
        .await;
    wait_for("node 1 knows the user made on node 2", || async {
        random_status(&nodes[0], &second, "operator passphrase 2").await == 200
    })
    .await;
    // Node 2's restarted member is a full member again: with node 3 stopped below, writes
    // need it for a quorum.
    wait_for("node 2 reports its member running", || async {
        diagnose(&nodes[1]).await["clusterState"] == json!({"running": true})
    })
    .await;

    // A fourth node joins the running cluster: added to etcd on a member first (etcdctl,
    // an implementation that is not ours), then started with `initial_cluster_state =
    // "existing"` and the member list etcd printed; it comes up Locked and is unlocked with
    // the cluster's unlock passphrase.
    let fourth = NodePlan {
        name: "node4".into(),
        client_port: free_port(),
        peer_port: free_port(),
    };
    // etcd refuses to add a member until every member has been up a few seconds ("unhealthy
    // cluster"): node 2's was just restarted.
    let start = Instant::now();
    let printed = loop {
        let added = std::process::Command::new("etcdctl")
            .arg(format!("--endpoints={}", plans[0].client_url()))
            .args(["member", "add", "node4"])
            .arg(format!("--peer-urls={}", fourth.peer_url()))
            .output()
            .expect("etcdctl (Debian: apt-get install etcd-client)");
        let printed = String::from_utf8_lossy(&added.stdout).into_owned();
        if added.status.success() {
            break printed;
        }
        let err = String::from_utf8_lossy(&added.stderr);
        assert!(
            err.contains("unhealthy cluster") && start.elapsed() < GIVE_UP,
            "{printed}{err}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let initial = printed
        .lines()
        .find_map(|l| l.strip_prefix("ETCD_INITIAL_CLUSTER=\""))
        .unwrap_or_else(|| panic!("no ETCD_INITIAL_CLUSTER in {printed}"))
        .trim_end_matches('"')
        .to_owned();
    let file = dir.path().join("node4.toml");
    std::fs::write(
        &file,
        format!(
            "[etcd.member]\nname = \"node4\"\npeer_url = \"{}\"\nclient_url = \"{}\"\n\
             initial_cluster = \"{initial}\"\ninitial_cluster_state = \"existing\"\n\
             etcd_binary = \"{}\"\n",
            fourth.peer_url(),
            fourth.client_url(),
            etcd_binary().display()
        ),
    )
    .unwrap();
    let mut node4 = Server::start_with(&[
        "--store",
        &format!("etcd://127.0.0.1:{}", fourth.client_port),
        "--config",
        &file.display().to_string(),
    ]);
    assert_eq!(node4.state().await, "Locked");
    assert_eq!(node4.unlock(UNLOCK).await.status(), 204);
    assert_eq!(
        random_status(&node4, &second, "operator passphrase 2").await,
        200
    );
    let listed = std::process::Command::new("etcdctl")
        .arg(format!("--endpoints={}", fourth.client_url()))
        .args(["member", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    for name in ["node1", "node2", "node3", "node4"] {
        assert!(
            listed
                .lines()
                .any(|l| l.contains(", started, ") && l.contains(&format!(", {name}, "))),
            "{name} started in {listed}"
        );
    }
    let node4_member = etcd_children(node4.pid());
    assert_eq!(node4_member.len(), 1);
    assert!(node4.terminate().success());
    assert!(!alive(node4_member[0]), "node 4's etcd outlived its server");
    // Out of etcd again, so that the three members left keep their quorum of two below.
    let id = printed
        .split_whitespace()
        .nth(1)
        .filter(|_| printed.starts_with("Member "))
        .unwrap_or_else(|| panic!("no member id in {printed}"));
    let removed = std::process::Command::new("etcdctl")
        .arg(format!("--endpoints={}", plans[0].client_url()))
        .args(["member", "remove", id])
        .output()
        .unwrap();
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );

    // A stopped server stops its member: no orphan.
    assert!(nodes[2].terminate().success());
    assert!(!alive(members[2]), "node 3's etcd outlived its server");
    assert!(nodes[2].log().contains("etcd member stopped"));
    // A server killed outright (no chance to stop its member) still leaves no orphan: the
    // member is told its parent died.
    nodes[1].kill();
    wait_for("node 2's etcd ends after its server was killed", || async {
        !alive(restarted)
    })
    .await;
    let node1_member = members[0];
    assert!(alive(node1_member));
    assert!(nodes[0].terminate().success());
    assert!(!alive(node1_member), "node 1's etcd outlived its server");
}

#[tokio::test]
async fn a_member_table_that_cannot_work_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (_, starts) = plan(dir.path(), 1);
    let files = [starts[0].1.clone()];
    // The node's store does not name its member's client URL.
    let other = format!("etcd://127.0.0.1:{}", free_port());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--store", &other, "--config", &files[0]])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not among the store's members"), "{err}");
    // An https peer URL on a node that never had a cluster CA set (cluster_peer_tls.rs).
    let text = std::fs::read_to_string(&files[0])
        .unwrap()
        .replace("peer_url = \"http://", "peer_url = \"https://")
        .replace("=http://", "=https://");
    std::fs::write(&files[0], text).unwrap();
    let store = &starts[0].0;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--store", store, "--config", &files[0]])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no cluster CA"), "{err}");
    assert!(
        !dir.path().join("data/etcd").exists(),
        "nothing was started"
    );
}

fn join_body() -> Value {
    json!({
        "members": [{"name": "node1", "urls": ["https://192.0.2.1:2380"]}],
        "joinerKit": "a kit from POST /cluster/members",
        "backupPassphrase": "the backup passphrase",
    })
}

#[tokio::test]
async fn join_and_force_new_answer_what_to_do_instead() {
    let mut s = Server::start();
    // force-new on a node that is not Failed: 412 in every state, with or without
    // credentials (cluster_failure.rs checks the Failed node's answer).
    let force_new = |auth: bool| {
        let r = s.post("/cluster/force-new");
        if auth {
            r.basic_auth("unlock", Some(UNLOCK))
        } else {
            r
        }
    };
    nethsm_error(
        force_new(false).answer().await,
        412,
        starting("This node is not in the Failed state"),
    )
    .await;
    // join: Operational only.
    nethsm_error(
        s.post("/cluster/join").json(&join_body()).answer().await,
        412,
        "Service not available",
    )
    .await;
    s.provision().await;
    nethsm_error(
        force_new(true).answer().await,
        412,
        starting("This node is not in the Failed state"),
    )
    .await;
    let message = nethsm_error(
        s.as_admin(Method::POST, "/cluster/force-new")
            .answer()
            .await,
        412,
        starting("This node is not in the Failed state"),
    )
    .await;
    assert!(message.contains("--force-new-cluster"), "{message}");

    // join: the caller first (401, 403), then the body (400), then the cluster CA (412).
    nethsm_error(
        s.post("/cluster/join").json(&join_body()).answer().await,
        401,
        "Authentication required.",
    )
    .await;
    let op = s
        .create_user(Some("joinop"), "Operator", "operator passphrase")
        .await;
    nethsm_error(
        s.post("/cluster/join")
            .basic_auth(&op, Some("operator passphrase"))
            .json(&join_body())
            .answer()
            .await,
        403,
        "Access denied.",
    )
    .await;
    let join = |s: &Server, body: Value| s.as_admin(Method::POST, "/cluster/join").json(&body);
    let mut cases = Vec::new();
    for (field, value) in [
        ("members", json!([])),
        ("members", json!([{"name": "", "urls": ["https://h:2380"]}])),
        ("members", json!([{"name": "n", "urls": []}])),
        ("members", json!([{"name": "n", "urls": ["http://h:2380"]}])),
        ("members", json!([{"name": "n", "urls": ["https://"]}])),
        ("joinerKit", json!("")),
        ("backupPassphrase", json!("short")),
        ("backupPassphrase", json!(7)),
    ] {
        let mut body = join_body();
        body[field] = value;
        cases.push(body);
    }
    let mut missing = join_body();
    missing.as_object_mut().unwrap().remove("joinerKit");
    cases.push(missing);
    let mut extra = join_body();
    extra["surprise"] = json!(1);
    cases.push(extra);
    for body in cases {
        let r = join(&s, body.clone()).answer().await;
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.unwrap();
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
    nethsm_error(
        join(&s, join_body()).answer().await,
        412,
        "No cluster CA has been set: set one with PUT /config/tls/cluster-ca.pem before joining.",
    )
    .await;
    // With a cluster CA (which signed the served certificate, as the spec requires; pyca plays
    // the CA): the join is still not carried out, and the answer says what to do instead.
    let dn = json!({"countryName": "DE", "commonName": "node.example",
                    "subjectAltNames": ["node.example"]});
    let r = s
        .as_admin(Method::POST, "/config/tls/csr.pem")
        .json(&dn)
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    let csr = r.text().await.unwrap();
    let ca = crate::admin_tls::csr_signed(&csr, "").await;
    let chain = format!(
        "{}{}",
        ca["leaf"].as_str().unwrap(),
        ca["intermediate"].as_str().unwrap()
    );
    let r = s
        .as_admin(Method::PUT, "/config/tls/cert.pem")
        .header("content-type", crate::admin_tls::PEM)
        .body(chain.clone())
        .answer()
        .await;
    assert_eq!(r.status(), 201);
    crate::admin_tls::follow(&mut s, &chain).await;
    let r = s
        .as_admin(Method::PUT, "/config/tls/cluster-ca.pem")
        .header("content-type", crate::admin_tls::PEM)
        .body(ca["root"].as_str().unwrap().to_owned())
        .answer()
        .await;
    assert_eq!(r.status(), 201);
    let message = nethsm_error(
        join(&s, join_body()).answer().await,
        412,
        starting("This node cannot join a cluster through /cluster/join in this build."),
    )
    .await;
    assert!(
        message.contains("initial_cluster_state = \"existing\""),
        "{message}"
    );
    // Nothing changed: the node still works as before.
    assert_eq!(s.state().await, "Operational");
    assert_eq!(random_status(&s, &op, "operator passphrase").await, 200);
}

/// Waits until none of `pids` runs any more.
async fn members_gone(what: &str, pids: &[u32]) {
    wait_for(what, || async { pids.iter().all(|p| !alive(*p)) }).await;
}

/// The way docs/cluster.md gives to force a new cluster while `/cluster/force-new` answers
/// 412: two nodes of three lost, the survivor is stopped, its member's data is made a
/// single-member cluster by hand (`etcd --force-new-cluster`), and the node started again on
/// it keeps every acknowledged record.
#[tokio::test(flavor = "multi_thread")]
async fn a_lone_survivor_forms_a_new_cluster_the_documented_way() {
    let dir = tempfile::tempdir().unwrap();
    let (plans, starts) = plan(dir.path(), 3);
    let mut nodes = start_nodes(&starts);
    nodes[0].provision().await;
    let user = nodes[0]
        .create_user(Some("survivor"), "Operator", "operator passphrase 1")
        .await;
    let members: Vec<u32> = nodes.iter().map(|n| etcd_children(n.pid())[0]).collect();

    // Nodes 2 and 3 are lost, their members with them: node 1's member has no quorum.
    nodes[1].kill();
    nodes[2].kill();
    members_gone("nodes 2 and 3's members end", &members[1..]).await;
    nethsm_error(
        nodes[0]
            .post("/cluster/force-new")
            .basic_auth("unlock", Some(UNLOCK))
            .answer()
            .await,
        412,
        starting("This node is not in the Failed state"),
    )
    .await;

    // Stop node 1; its member's data becomes a cluster of one.
    nodes[0].kill();
    members_gone("node 1's member ends with its server", &members[..1]).await;
    let p = &plans[0];
    let mut forced = std::process::Command::new(etcd_binary())
        .arg("--force-new-cluster")
        .arg(format!("--name={}", p.name))
        .arg(format!(
            "--data-dir={}",
            nodes[0].data_dir.join("etcd").display()
        ))
        .arg(format!("--listen-client-urls={}", p.client_url()))
        .arg(format!("--advertise-client-urls={}", p.client_url()))
        .arg(format!("--listen-peer-urls={}", p.peer_url()))
        .arg(format!("--initial-advertise-peer-urls={}", p.peer_url()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the forced member answers", || async {
        std::process::Command::new("etcdctl")
            .arg(format!("--endpoints={}", p.client_url()))
            .args(["endpoint", "health"])
            .output()
            .unwrap()
            .status
            .success()
    })
    .await;
    // SAFETY: a signal to the etcd this test started.
    unsafe {
        libc::kill(forced.id() as i32, libc::SIGTERM);
    }
    forced.wait().unwrap();

    // The node started again on its data, its table listing itself only.
    let file = &starts[0].1;
    let text = std::fs::read_to_string(file).unwrap();
    let single = text
        .lines()
        .map(|l| {
            if l.starts_with("initial_cluster =") {
                format!("initial_cluster = \"{}={}\"", p.name, p.peer_url())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(file, single + "\n").unwrap();
    nodes[0].start_again();
    assert_eq!(nodes[0].state().await, "Locked");
    assert_eq!(nodes[0].unlock(UNLOCK).await.status(), 204);
    assert_eq!(
        random_status(&nodes[0], &user, "operator passphrase 1").await,
        200
    );
    let after = nodes[0]
        .create_user(Some("after"), "Operator", "operator passphrase 2")
        .await;
    assert_eq!(
        random_status(&nodes[0], &after, "operator passphrase 2").await,
        200
    );
    let listed = std::process::Command::new("etcdctl")
        .arg(format!("--endpoints={}", p.client_url()))
        .args(["member", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains(", node1, "), "{listed}");
}
