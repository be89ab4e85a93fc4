//! Peer TLS between supervised etcd members (`crates/server/src/cluster_peer_tls.rs`): a CA
//! and node certificates made with openssl, installed through the NetHSM face, three nodes
//! switched one by one from http:// to https:// peer URLs (docs/cluster.md, "Peer TLS").
//! Built only with the feature `etcd-test`
//! (`cargo test -p strongroom --features etcd-test --test api cluster_peer_tls`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use strongroom_store::etcd::test_member::{etcd_binary, free_port};

use super::cluster::{poll_until, random_status};
use crate::common::*;

const GIVE_UP: Duration = Duration::from_secs(90);
const PEM: &str = "application/x-pem-file";

fn openssl(args: &[&str], dir: &Path) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A CA (EC P-256) named `cn`: `<name>.key` and `<name>.pem` in `dir`.
fn make_ca(dir: &Path, name: &str, cn: &str) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            &format!("/CN={cn}"),
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        dir,
    );
}

/// Signs `<name>.csr` with CA `ca` into `<name>.pem` (pyca: openssl 3.0's `x509 -req` cannot
/// backdate, and the appliance runs at the provisioned time, a week behind): a certificate for both ends
/// of a peer connection, for 127.0.0.1.
fn sign(dir: &Path, ca: &str, name: &str) -> String {
    const SIGN: &str = r#"
import datetime, ipaddress, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
ca, name = sys.argv[1], sys.argv[2]
ca_cert = x509.load_pem_x509_certificate(open(ca + ".pem", "rb").read())
ca_key = serialization.load_pem_private_key(open(ca + ".key", "rb").read(), None)
csr = x509.load_pem_x509_csr(open(name + ".csr", "rb").read())
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca_cert.subject)
    .public_key(csr.public_key()).serial_number(x509.random_serial_number())
    .not_valid_before(datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)).not_valid_after(now + datetime.timedelta(days=30))
    .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), False)
    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
    .sign(ca_key, hashes.SHA256()))
open(name + ".pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
"#;
    let out = Command::new(crate::common::python::test_python("cryptography"))
        .args(["-c", SIGN, ca, name])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.join(format!("{name}.pem"))).unwrap()
}

/// The SHA-256 fingerprint of a PEM certificate, as the server prints it (openssl's own).
fn fingerprint(dir: &Path, file: &str) -> String {
    openssl(
        &["x509", "-in", file, "-noout", "-fingerprint", "-sha256"],
        dir,
    )
    .trim()
    .rsplit_once('=')
    .unwrap()
    .1
    .to_owned()
}

/// Installs a certificate signed by `ca` for the node's served key (through a CSR from the
/// node) and sets `ca` as its cluster CA; the test client follows the new certificate.
async fn install(node: &mut Server, dir: &Path, ca: &str, name: &str) {
    let r = node
        .as_admin(Method::POST, "/config/tls/csr.pem")
        .header("accept", PEM)
        .json(&json!({"commonName": name}))
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    std::fs::write(dir.join(format!("{name}.csr")), r.text().await.unwrap()).unwrap();
    let cert = sign(dir, ca, name);
    let r = node
        .as_admin(Method::PUT, "/config/tls/cert.pem")
        .header("content-type", PEM)
        .body(cert)
        .answer()
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    node.fingerprint = fingerprint(dir, &format!("{name}.pem"));
    node.client = pinned_client(&node.fingerprint);
    let r = node
        .as_admin(Method::PUT, "/config/tls/cluster-ca.pem")
        .header("content-type", PEM)
        .body(std::fs::read_to_string(dir.join(format!("{ca}.pem"))).unwrap())
        .answer()
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

struct Plan {
    name: String,
    client_port: u16,
    peer_port: u16,
    file: String,
}

impl Plan {
    fn store(&self) -> String {
        format!("etcd://127.0.0.1:{}", self.client_port)
    }
    fn peer(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.peer_port)
    }
    fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }
}

/// Writes every node's configuration file, each with its own scheme (`schemes[i]`) for its
/// peer URL, as `initial_cluster` lists them.
fn write_configs(plans: &[Plan], schemes: &[&str], extra: &str) {
    let initial = plans
        .iter()
        .zip(schemes)
        .map(|(p, s)| format!("{}={}", p.name, p.peer(s)))
        .collect::<Vec<_>>()
        .join(",");
    for (p, s) in plans.iter().zip(schemes) {
        std::fs::write(
            &p.file,
            format!(
                "[etcd.member]\nname = \"{}\"\npeer_url = \"{}\"\nclient_url = \"{}\"\n\
                 initial_cluster = \"{initial}\"\ninitial_cluster_state = \"new\"\n\
                 etcd_binary = \"{}\"\n{extra}",
                p.name,
                p.peer(s),
                p.client_url(),
                etcd_binary().display()
            ),
        )
        .unwrap();
    }
}

fn etcdctl(endpoint: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("etcdctl")
        .arg(format!("--endpoints={endpoint}"))
        .args(args)
        .output()
        .expect("etcdctl (Debian: apt-get install etcd-client)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Moves member `name`'s peer URL to `url` in etcd's membership (etcdctl, not our code),
/// waiting out etcd's passing refusals of a cluster that just changed.
async fn member_update(endpoint: &str, name: &str, url: &str) {
    let start = Instant::now();
    loop {
        let listed = etcdctl(endpoint, &["member", "list"]);
        let id = listed.as_ref().ok().and_then(|l| {
            l.lines()
                .find(|line| line.contains(&format!(", {name}, ")))
                .and_then(|line| line.split(',').next())
                .map(str::to_owned)
        });
        if let Some(id) = id
            && etcdctl(
                endpoint,
                &["member", "update", &id, &format!("--peer-urls={url}")],
            )
            .is_ok()
        {
            return;
        }
        assert!(
            start.elapsed() < GIVE_UP,
            "member update {name}: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The etcd child of server `pid`, from /proc.
fn etcd_child(pid: u32) -> Option<u32> {
    std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
        let child = e.file_name().to_string_lossy().parse::<u32>().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
        let (head, rest) = stat.rsplit_once(')')?;
        let mut f = rest.split_whitespace();
        let (state, ppid) = (f.next()?, f.next()?);
        (head.ends_with("(etcd") && state != "Z" && ppid == pid.to_string()).then_some(child)
    })
}

/// Polls `check` until it holds, within [`GIVE_UP`].
async fn wait_for<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    poll_until(what, GIVE_UP, Duration::from_millis(200), check).await;
}

/// `openssl s_client` against a peer port, with a client certificate (`cert`, `key`) or none;
/// TLS 1.2, so that a refused client certificate fails the handshake itself.
fn s_client(dir: &Path, port: u16, ca: &str, client: Option<(&str, &str)>) -> (bool, String) {
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir)
        .args(["s_client", "-tls1_2", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-CAfile", ca, "-verify_return_error", "-showcerts"])
        .stdin(std::process::Stdio::null());
    if let Some((cert, key)) = client {
        cmd.args(["-cert", cert, "-key", key]);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn der_of_pem(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn members_talk_tls_with_the_cluster_ca_and_refuse_other_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let plans: Vec<Plan> = (1..=3)
        .map(|i| Plan {
            name: format!("node{i}"),
            client_port: free_port(),
            peer_port: free_port(),
            file: dir.join(format!("node{i}.toml")).display().to_string(),
        })
        .collect();
    write_configs(&plans, &["http", "http", "http"], "");
    let starting: Vec<_> = plans
        .iter()
        .map(|p| {
            let (store, file) = (p.store(), p.file.clone());
            std::thread::spawn(move || Server::start_with(&["--store", &store, "--config", &file]))
        })
        .collect();
    let mut nodes: Vec<Server> = starting.into_iter().map(|t| t.join().unwrap()).collect();
    nodes[0].provision().await;
    for node in &nodes[1..] {
        wait_for("a node sees the provisioning", || async {
            node.state().await == "Locked"
        })
        .await;
        assert_eq!(node.unlock(UNLOCK).await.status(), 204);
    }

    // An https:// peer URL on a node without a cluster CA: refused at start, nothing runs.
    let fresh = dir.join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    let lone = fresh.join("lone.toml");
    std::fs::write(
        &lone,
        format!(
            "[etcd.member]\nname = \"lone\"\npeer_url = \"https://127.0.0.1:{p}\"\n\
             client_url = \"http://127.0.0.1:{c}\"\ninitial_cluster = \"lone=https://127.0.0.1:{p}\"\n\
             etcd_binary = \"{}\"\n",
            etcd_binary().display(),
            p = free_port(),
            c = 2,
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(fresh.join("data"))
        .args(["--store", "etcd://127.0.0.1:2", "--config"])
        .arg(&lone)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no cluster CA"), "{err}");
    assert!(!fresh.join("data/etcd").exists(), "nothing was started");

    // Certificates from openssl: nodes 1 and 2 from the cluster CA, node 3 from another one
    // (and its own CA set to it); a client certificate of each CA for s_client.
    make_ca(dir, "ca", "Strongroom Cluster CA");
    make_ca(dir, "other", "Some Other CA");
    for (i, ca) in [(0, "ca"), (1, "ca"), (2, "other")] {
        let name = plans[i].name.clone();
        install(&mut nodes[i], dir, ca, &name).await;
    }
    for (ca, name) in [("ca", "client"), ("other", "stranger")] {
        openssl(
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
            dir,
        );
        sign(dir, ca, name);
    }

    // Nodes 1 and 2 switch to https:// one at a time: etcd's membership first (etcdctl),
    // then the node restarts with the new peer URL.
    let mut schemes = ["http", "http", "http"];
    for i in 0..2 {
        let other = plans[(i + 1) % 3].client_url();
        member_update(&other, &plans[i].name, &plans[i].peer("https")).await;
        schemes[i] = "https";
        write_configs(&plans, &schemes, "");
        nodes[i].restart();
        assert_eq!(nodes[i].unlock(UNLOCK).await.status(), 204);
    }

    // The cluster works over TLS: a user made on node 1 logs in on node 2.
    let user = nodes[0]
        .create_user(Some("op1"), "Operator", "operator passphrase 1")
        .await;
    wait_for("node 2 knows the user", || async {
        random_status(&nodes[1], &user, "operator passphrase 1").await == 200
    })
    .await;

    // openssl, not etcd, on node 1's peer port: TLS, node 1's certificate, and a client
    // certificate asked for, from the cluster CA.
    let node1_cert = std::fs::read_to_string(dir.join("node1.pem")).unwrap();
    let (ok, text) = s_client(
        dir,
        plans[0].peer_port,
        "ca.pem",
        Some(("client.pem", "client.key")),
    );
    assert!(ok, "{text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    assert!(
        text.contains(node1_cert.trim()),
        "node 1's own certificate is presented: {text}"
    );
    assert!(
        text.contains("Acceptable client certificate CA names")
            && text.contains("Strongroom Cluster CA"),
        "{text}"
    );
    for refused in [Some(("stranger.pem", "stranger.key")), None] {
        let (ok, text) = s_client(dir, plans[0].peer_port, "ca.pem", refused);
        assert!(!ok, "{refused:?} is let in: {text}");
    }

    // The key is handed to etcd in a memfd, and is nowhere on disk in the data directory.
    let member = etcd_child(nodes[0].pid()).expect("node 1 runs etcd");
    let cmdline = String::from_utf8(std::fs::read(format!("/proc/{member}/cmdline")).unwrap())
        .unwrap()
        .replace('\0', " ");
    let fd = cmdline
        .split_whitespace()
        .find_map(|a| a.strip_prefix("--peer-key-file=/dev/fd/"))
        .unwrap_or_else(|| panic!("{cmdline}"))
        .to_owned();
    assert!(cmdline.contains("--peer-client-cert-auth"), "{cmdline}");
    let link = std::fs::read_link(format!("/proc/{member}/fd/{fd}")).unwrap();
    assert!(
        link.to_string_lossy().starts_with("/memfd:"),
        "{}",
        link.display()
    );
    let key_pem = std::fs::read_to_string(format!("/proc/{member}/fd/{fd}")).unwrap();
    assert!(key_pem.contains("PRIVATE KEY-----"), "a key");
    let key_der = der_of_pem(&key_pem);
    let key_b64: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for (path, bytes) in files_under(&nodes[0].data_dir) {
        for (what, needle) in [
            ("PEM", key_pem.trim().as_bytes()),
            ("base64", key_b64.as_bytes()),
            ("DER", &key_der[..]),
        ] {
            assert!(
                !contains(&bytes, needle),
                "the key's {what} is in {}",
                path.display()
            );
        }
    }

    // Node 3 holds a certificate from another CA: switched to https:// too, its member is
    // refused by the others and never answers, so the node does not start.
    member_update(&plans[0].client_url(), "node3", &plans[2].peer("https")).await;
    schemes[2] = "https";
    write_configs(&plans, &schemes, "start_timeout_secs = 20\n");
    assert!(nodes[2].terminate().success());
    let out = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&nodes[2].data_dir)
        .args(["--store", &plans[2].store(), "--config", &plans[2].file])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not answer within 20 s"), "{err}");
    // The two nodes of the cluster CA still have their quorum, and serve.
    let second = nodes[1]
        .create_user(Some("op2"), "Operator", "operator passphrase 2")
        .await;
    wait_for("node 1 knows the user made on node 2", || async {
        random_status(&nodes[0], &second, "operator passphrase 2").await == 200
    })
    .await;

    // A new cluster CA (the same key, renewed) on node 1: the member restarts with it.
    openssl(
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-out",
            "renewed.pem",
            "-subj",
            "/CN=Strongroom Cluster CA",
            "-days",
            "60",
            "-set_serial",
            "7",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        dir,
    );
    let renewed = std::fs::read_to_string(dir.join("renewed.pem")).unwrap();
    let r = nodes[0]
        .as_admin(Method::PUT, "/config/tls/cluster-ca.pem")
        .header("content-type", PEM)
        .body(renewed.clone())
        .answer()
        .await;
    assert_eq!(r.status(), 201);
    let node1 = nodes[0].pid();
    wait_for("node 1's member restarts with the new CA", || async move {
        etcd_child(node1).is_some_and(|now| now != member)
    })
    .await;
    let copy =
        std::fs::read_to_string(nodes[0].data_dir.join("etcd-peer-tls/cluster-ca.pem")).unwrap();
    assert_eq!(der_of_pem(&copy), der_of_pem(&renewed));
    assert!(
        nodes[0]
            .log()
            .contains("restarting the etcd member with the new peer TLS material")
    );
    wait_for("node 1 serves after its member restarted", || async {
        random_status(&nodes[0], &user, "operator passphrase 1").await == 200
    })
    .await;
    let (ok, text) = s_client(
        dir,
        plans[0].peer_port,
        "renewed.pem",
        Some(("client.pem", "client.key")),
    );
    assert!(ok && text.contains("Verify return code: 0 (ok)"), "{text}");
}
