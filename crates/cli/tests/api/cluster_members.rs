//! NetHSM's `/cluster/members` on real etcd membership: three etcd members on loopback
//! (`strongroom_store::etcd::test_member`), nodes on them, and a fourth etcd member added as a
//! learner through the API, started, promoted, moved and removed; every answer checked
//! against `etcdctl member list` (Debian's `etcd-client`). The joiner kit is opened by pyca
//! (Argon2id and AES-GCM), not by our code. Built only with the feature `etcd-test`
//! (`cargo test -p strongroom --features etcd-test --test api cluster_members`).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use strongroom_store::etcd::test_member::{Etcd, free_port};

use crate::common::python::{run, test_python};
use crate::common::*;

/// Far above the time a learner needs to catch up on an idle cluster: a loaded machine does
/// not fail the test.
const GIVE_UP: Duration = Duration::from_secs(60);

const BACKUP: &str = "backup passphrase for the cluster";
const PASS: &str = "a passphrase for the other users";

fn store_arg(members: &[Etcd]) -> String {
    let list: Vec<String> = members
        .iter()
        .map(|m| format!("127.0.0.1:{}", m.client_port))
        .collect();
    format!("etcd://{}", list.join(","))
}

/// `healthy` of each member of a `GET /cluster/members` answer, by id.
fn health_of(list: &Value) -> Vec<(String, bool)> {
    sorted(
        list.as_array()
            .expect("a list")
            .iter()
            .map(|m| {
                let healthy = m["healthy"].as_bool().unwrap_or_else(|| panic!("{m}"));
                (m["id"].as_str().unwrap().to_owned(), healthy)
            })
            .collect(),
    )
}

/// `etcdctl member list -w json`: (id in hex, name, peer URLs, learner), in etcd's order.
fn etcdctl_members(members: &[Etcd]) -> Vec<(String, String, Vec<String>, bool)> {
    let endpoints: Vec<String> = members.iter().map(Etcd::endpoint).collect();
    let out = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .args(["member", "list", "-w", "json"])
        .output()
        .expect("etcdctl (Debian: apt-get install etcd-client)");
    assert!(
        out.status.success(),
        "etcdctl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                format!("{:016x}", m["ID"].as_u64().expect("a u64 id")),
                m["name"].as_str().unwrap_or("").to_owned(),
                m["peerURLs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u.as_str().unwrap().to_owned())
                    .collect(),
                m["isLearner"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

/// The API's list in the same shape, sorted as etcdctl's.
fn api_members(list: &Value) -> Vec<(String, String, Vec<String>, bool)> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|m| {
            let mut fields: Vec<&str> = m.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            fields.sort();
            fields.retain(|f| *f != "healthy");
            assert_eq!(
                fields,
                ["id", "learner", "name", "urls"],
                "the spec's fields, and our `healthy`: {m}"
            );
            (
                m["id"].as_str().unwrap().to_owned(),
                m["name"].as_str().unwrap().to_owned(),
                m["urls"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u.as_str().unwrap().to_owned())
                    .collect(),
                m["learner"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Sends `request()` until etcd's answer is not a passing refusal (412: under load, etcd may
/// judge a member not recently active and refuse a change as "unhealthy cluster" before it
/// looks at the URLs), for up to [`GIVE_UP`]; then the answer, for [`error_message`].
async fn past_passing_refusals(
    mut request: impl FnMut() -> reqwest::RequestBuilder,
) -> reqwest::Response {
    let start = Instant::now();
    loop {
        let r = request().answer().await;
        if r.status() != 412 || start.elapsed() > GIVE_UP {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every member's `healthy`, polled until all are true, for up to [`GIVE_UP`] (a loaded
/// machine may keep a member from answering within the server's one-second bound).
async fn all_healthy(s: &Server) {
    let start = Instant::now();
    loop {
        let health = health_of(&s.admin_json("/cluster/members").await);
        if health.iter().all(|(_, h)| *h) {
            return;
        }
        assert!(start.elapsed() < GIVE_UP, "not all healthy: {health:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// An error answer in the spec's `ErrorResponse` shape; returns its message.
async fn error_message(r: reqwest::Response, status: u16, what: &str) -> String {
    assert_eq!(r.status(), status, "{what}");
    assert!(
        r.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{what}: JSON"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "{what}: {body}");
    body["message"].as_str().expect("a message").to_owned()
}

/// Opens a joiner kit with pyca (Argon2id over the passphrase with the kit's parameters,
/// AES-256-GCM with the documented associated data): `Some(content)`, or `None` when the
/// passphrase does not open it.
async fn open_kit_with_pyca(kit: &str, passphrase: &str) -> Option<Value> {
    const SCRIPT: &str = r#"
import base64, json, sys
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
envelope = json.loads(base64.b64decode(sys.argv[1], validate=True))
assert envelope["version"] == 1
kdf = envelope["kdf"]
assert kdf["algorithm"] == "argon2id"
key = Argon2id(salt=bytes.fromhex(kdf["salt"]), length=32, iterations=kdf["iterations"],
               lanes=kdf["parallelism"], memory_cost=kdf["memory_kib"]).derive(sys.argv[2].encode())
aad = b"strongroom joiner kit v1" + json.dumps(kdf, separators=(",", ":")).encode()
try:
    plain = AESGCM(key).decrypt(bytes.fromhex(envelope["nonce"]),
                                base64.b64decode(envelope["ciphertext"]), aad)
except InvalidTag:
    print("wrong passphrase")
    sys.exit(3)
print(plain.decode())
"#;
    let python = test_python("cryptography");
    let ran = run(
        &python,
        &["-c", SCRIPT, kit, passphrase],
        None,
        Duration::from_secs(120),
    )
    .await;
    match ran.status.and_then(|s| s.code()) {
        Some(0) => Some(serde_json::from_str(ran.stdout.trim()).expect("the kit's JSON")),
        Some(3) => None,
        _ => panic!("pyca on the kit {}: {}", ran.outcome(), ran.stderr),
    }
}

/// A fourth etcd member for the cluster of `members`, not started: its name and peer URL
/// as the joiner kit says, `--initial-cluster-state existing`.
fn joining_member(members: &[Etcd], name: &str, peer_port: u16) -> Etcd {
    let mut initial: Vec<String> = members
        .iter()
        .map(|m| format!("{}={}", m.name, m.peer_url()))
        .collect();
    initial.push(format!("{name}=http://127.0.0.1:{peer_port}"));
    Etcd {
        child: None,
        dir: tempfile::tempdir().unwrap(),
        name: name.to_owned(),
        client_port: free_port(),
        peer_port,
        initial_cluster: initial.join(","),
        extra: vec!["--initial-cluster-state=existing".into()],
        tls: None,
    }
}

/// Three etcd members, two nodes: the list is etcd's; a learner is added (after the backup
/// passphrase is set), refused promotion until it has started and caught up, promoted, given
/// other peer URLs, removed; each step seen by etcdctl; every documented refusal.
#[tokio::test]
async fn members_follow_etcd_membership() {
    let etcd = Etcd::cluster(3);
    let n1 = Server::start_with(&["--store", &store_arg(&etcd)]);
    n1.provision().await;
    let n2 = Server::start_with(&["--store", &store_arg(&etcd)]);
    assert_eq!(n2.unlock(UNLOCK).await.status(), 204);

    // The list is etcd's, on every node.
    let listed = api_members(&n1.admin_json("/cluster/members").await);
    let truth = etcdctl_members(&etcd);
    assert_eq!(sorted(listed.clone()), sorted(truth.clone()));
    assert_eq!(listed.len(), 3);
    for (i, m) in etcd.iter().enumerate() {
        let found = listed.iter().find(|l| l.1 == format!("m{i}")).unwrap();
        assert_eq!(found.2, vec![m.peer_url()]);
        assert!(!found.3, "a founding member is a voter");
        assert_eq!(found.0.len(), 16);
    }
    assert_eq!(
        sorted(api_members(&n2.admin_json("/cluster/members").await)),
        sorted(truth.clone())
    );
    // Each member answers when asked directly.
    all_healthy(&n1).await;

    // Who may: root Administrators only.
    n1.create_user(Some("op"), "Operator", PASS).await;
    n1.create_user(Some("ns1~boss"), "Administrator", PASS)
        .await;
    let r = n1.as_admin(Method::PUT, "/namespaces/ns1").answer().await;
    assert_eq!(r.status(), 204);
    let some_id = &listed[0].0;
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/cluster/members".into(), None),
        (
            Method::POST,
            "/cluster/members".into(),
            Some(json!({"urls": ["http://127.0.0.1:1"]})),
        ),
        (
            Method::POST,
            format!("/cluster/members/{some_id}/promote"),
            None,
        ),
        (
            Method::PUT,
            format!("/cluster/members/{some_id}"),
            Some(json!({"urls": ["http://127.0.0.1:1"]})),
        ),
        (Method::DELETE, format!("/cluster/members/{some_id}"), None),
    ];
    for (method, path, body) in &calls {
        let with_body = |r: reqwest::RequestBuilder| match body {
            Some(b) => r.json(b),
            None => r,
        };
        let what = format!("{method} {path}");
        let r = with_body(n1.request(method.clone(), path)).answer().await;
        assert!(r.headers().contains_key("www-authenticate"));
        error_message(r, 401, &format!("{what} without credentials")).await;
        let r = with_body(n1.request(method.clone(), path))
            .basic_auth("admin", Some("not the admin passphrase"))
            .answer()
            .await;
        error_message(r, 401, &format!("{what} with a wrong passphrase")).await;
        after_rate_limit_window(&n1).await;
        for user in ["op", "ns1~boss"] {
            let r = with_body(n1.request(method.clone(), path))
                .basic_auth(user, Some(PASS))
                .answer()
                .await;
            error_message(r, 403, &format!("{what} as {user}")).await;
        }
    }
    // Nothing changed in etcd through any refused call.
    assert_eq!(sorted(etcdctl_members(&etcd)), sorted(truth.clone()));

    // No backup passphrase: no joiner kit, no new member.
    let peer_port = free_port();
    let new_url = format!("http://127.0.0.1:{peer_port}");
    let r = n1
        .as_admin(Method::POST, "/cluster/members")
        .json(&json!({"urls": [new_url]}))
        .answer()
        .await;
    let m = error_message(r, 412, "add without a backup passphrase").await;
    assert!(m.contains("backup passphrase"), "{m}");
    assert_eq!(etcdctl_members(&etcd).len(), 3);
    n1.set_backup_passphrase(BACKUP, "").await;

    // Bad bodies and URLs: 400, nothing added.
    let m0_peer = etcd[0].peer_url();
    for (body, what) in [
        (json!({}), "no urls"),
        (json!({"urls": []}), "empty urls"),
        (json!({"urls": "http://127.0.0.1:1"}), "urls not a list"),
        (json!({"urls": [new_url], "extra": 1}), "an unknown field"),
        (json!({"urls": ["127.0.0.1:2380"]}), "no scheme"),
        (json!({"urls": ["ftp://127.0.0.1:2380"]}), "another scheme"),
        (json!({"urls": ["http://127.0.0.1"]}), "no port"),
        (json!({"urls": ["http://127.0.0.1:2380/x"]}), "a path"),
        (json!({"urls": [new_url, new_url]}), "a repeated URL"),
        // The cluster's members speak http to each other: an https member could not join.
        (
            json!({"urls": [format!("https://127.0.0.1:{peer_port}")]}),
            "the other scheme than the cluster's",
        ),
        // etcd's own refusal: the URL of an existing member.
        (json!({"urls": [m0_peer]}), "a member's URL"),
    ] {
        let r = past_passing_refusals(|| n1.as_admin(Method::POST, "/cluster/members").json(&body))
            .await;
        error_message(r, 400, what).await;
    }
    assert_eq!(etcdctl_members(&etcd).len(), 3);

    // Added as a learner: the answer lists the members etcd has, and the kit.
    let r = past_passing_refusals(|| {
        n1.as_admin(Method::POST, "/cluster/members")
            .json(&json!({"urls": [new_url]}))
    })
    .await;
    assert_eq!(r.status(), 201, "add: {}", r.text().await.unwrap());
    let added: Value = r.json().await.unwrap();
    assert_eq!(added.as_object().unwrap().len(), 2, "{added}");
    let after = api_members(&added["members"]);
    assert_eq!(after.len(), 4);
    let new = after
        .iter()
        .find(|m| m.2 == vec![new_url.clone()])
        .expect("the new member")
        .clone();
    assert!(new.3, "a new member is a learner");
    let new_id = new.0.clone();
    let new_name = format!("strongroom-{new_id}");
    assert_eq!(new.1, new_name);
    let truth = etcdctl_members(&etcd);
    assert_eq!(truth.len(), 4);
    let in_etcd = truth.iter().find(|m| m.0 == new_id).expect("etcd has it");
    assert!(in_etcd.3, "etcd has it as a learner");
    assert_eq!(in_etcd.2, vec![new_url.clone()]);
    // etcd names a member once it has started: the API says so too; and a member that has
    // not started does not answer.
    let list = n2.admin_json("/cluster/members").await;
    assert_eq!(sorted(api_members(&list)), sorted(truth.clone()));
    for (id, healthy) in health_of(&list) {
        assert_eq!(healthy, id != new_id, "{id} before the learner starts");
    }

    // The kit opens with the backup passphrase (pyca), and not with another.
    let kit = added["joinerKit"].as_str().unwrap();
    let content = open_kit_with_pyca(kit, BACKUP)
        .await
        .expect("the backup passphrase opens the kit");
    assert_eq!(content["memberId"], new_id.as_str());
    assert_eq!(content["memberName"], new_name.as_str());
    assert_eq!(content["keyPrefix"], "strongroom/");
    let endpoints: Vec<String> = etcd.iter().map(Etcd::endpoint).collect();
    assert_eq!(content["endpoints"], json!(endpoints));
    assert_eq!(
        sorted(api_members(&content["members"])),
        sorted(after.clone())
    );
    assert!(
        open_kit_with_pyca(kit, "not the backup passphrase")
            .await
            .is_none()
    );
    assert!(open_kit_with_pyca(kit, UNLOCK).await.is_none());

    // One learner at a time (etcd's rule): a second is refused, and not added.
    let r = n1
        .as_admin(Method::POST, "/cluster/members")
        .json(&json!({"urls": [format!("http://127.0.0.1:{}", free_port())]}))
        .answer()
        .await;
    error_message(r, 412, "a second learner").await;
    assert_eq!(etcdctl_members(&etcd).len(), 4);

    // Not started: not caught up, so not promoted (etcd's answer).
    let promote = format!("/cluster/members/{new_id}/promote");
    let r = n2.as_admin(Method::POST, &promote).answer().await;
    let m = error_message(r, 412, "promote a learner that never started").await;
    assert!(m.contains("in sync"), "{m}");

    // Started with the kit's name and --initial-cluster-state existing: promoted once it has
    // caught up.
    let mut fourth = joining_member(&etcd, &new_name, peer_port);
    fourth.spawn();
    let start = Instant::now();
    loop {
        let r = n1.as_admin(Method::POST, &promote).answer().await;
        match r.status().as_u16() {
            204 => break,
            412 => {}
            other => panic!("promote: {other} {}", r.text().await.unwrap()),
        }
        assert!(
            start.elapsed() < GIVE_UP,
            "the learner did not catch up within {GIVE_UP:?}; its log:\n{}",
            fourth.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let truth = etcdctl_members(&etcd);
    let in_etcd = truth.iter().find(|m| m.0 == new_id).unwrap();
    assert!(!in_etcd.3, "promoted in etcd");
    assert_eq!(in_etcd.1, new_name, "etcd learned its name");
    assert_eq!(
        sorted(api_members(&n2.admin_json("/cluster/members").await)),
        sorted(truth)
    );
    // Promoted and running, it answers.
    all_healthy(&n1).await;
    // A voter is not promoted again.
    let r = n1.as_admin(Method::POST, &promote).answer().await;
    error_message(r, 412, "promote a voter").await;

    // New peer URLs, as etcd then lists them.
    let moved = format!("http://127.0.0.1:{}", free_port());
    let member = format!("/cluster/members/{new_id}");
    for (body, what) in [
        (json!({"urls": ["not a url"]}), "a bad URL"),
        (json!({"urls": []}), "no URL"),
        (json!({"urls": [m0_peer]}), "another member's URL"),
    ] {
        let r = past_passing_refusals(|| n1.as_admin(Method::PUT, &member).json(&body)).await;
        error_message(r, 400, &format!("PUT {what}")).await;
    }
    let r = past_passing_refusals(|| {
        n1.as_admin(Method::PUT, &member)
            .json(&json!({"urls": [moved]}))
    })
    .await;
    assert_eq!(r.status(), 204, "PUT: {}", r.text().await.unwrap());
    let truth = etcdctl_members(&etcd);
    assert_eq!(
        truth.iter().find(|m| m.0 == new_id).unwrap().2,
        vec![moved.clone()]
    );

    // Unknown and malformed ids.
    let unknown = (0u64..)
        .map(|i| format!("{:016x}", 0x1234_5678_9abc_def0u64.wrapping_add(i)))
        .find(|id| !truth.iter().any(|m| &m.0 == id))
        .unwrap();
    for (method, suffix, body) in [
        (Method::POST, "/promote", None),
        (
            Method::PUT,
            "",
            Some(json!({"urls": ["http://127.0.0.1:9"]})),
        ),
        (Method::DELETE, "", None),
    ] {
        for (id, status) in [
            (unknown.as_str(), 404),
            ("abc", 404),
            (&new_id.to_uppercase(), 404),
            ("a~b", 400),
            ("-x", 400),
        ] {
            let path = format!("/cluster/members/{id}{suffix}");
            let mut req = n1.as_admin(method.clone(), &path);
            if let Some(b) = &body {
                req = req.json(b);
            }
            error_message(req.answer().await, status, &format!("{method} {path}")).await;
        }
    }

    // Stopped, it does not answer; the others still do. A node gives the members' health
    // answers again for a second (docs/cluster.md, "Polling the members' health"): waited
    // out, so the list below asks them afresh.
    fourth.stop();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for (id, healthy) in health_of(&n1.admin_json("/cluster/members").await) {
        assert_eq!(healthy, id != new_id, "{id} with the fourth member stopped");
    }

    // Removed: etcd no longer has it.
    let r = past_passing_refusals(|| n2.as_admin(Method::DELETE, &member)).await;
    assert_eq!(r.status(), 204, "DELETE: {}", r.text().await.unwrap());
    let truth = etcdctl_members(&etcd);
    assert_eq!(truth.len(), 3);
    assert!(!truth.iter().any(|m| m.0 == new_id));
    assert_eq!(
        sorted(api_members(&n1.admin_json("/cluster/members").await)),
        sorted(truth)
    );
    let r = n1.as_admin(Method::DELETE, &member).answer().await;
    error_message(r, 404, "DELETE a removed member").await;
    fourth.stop();

    // Locked: 412, the state gate's.
    n1.lock().await;
    for (method, path, body) in &calls {
        let mut req = n1.as_admin(method.clone(), path);
        if let Some(b) = body {
            req = req.json(b);
        }
        error_message(req.answer().await, 412, &format!("{method} {path} Locked")).await;
    }
}

/// On the embedded store the appliance is not in a cluster: every call answers 412 saying
/// so, and how to run cluster mode; never a cluster of one.
#[tokio::test]
async fn a_single_node_is_not_a_cluster() {
    let s = Server::start();
    s.provision().await;
    s.set_backup_passphrase(BACKUP, "").await;
    let id = "8e9e05c52164694d";
    for (method, path, body) in [
        (Method::GET, "/cluster/members".to_owned(), None),
        (
            Method::POST,
            "/cluster/members".into(),
            Some(json!({"urls": ["https://192.168.1.2:2380"]})),
        ),
        (Method::POST, format!("/cluster/members/{id}/promote"), None),
        (
            Method::PUT,
            format!("/cluster/members/{id}"),
            Some(json!({"urls": ["https://192.168.1.2:2380"]})),
        ),
        (Method::DELETE, format!("/cluster/members/{id}"), None),
    ] {
        let mut req = s.as_admin(method.clone(), &path);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let m = error_message(req.answer().await, 412, &format!("{method} {path}")).await;
        assert!(
            m.contains("embedded store") && m.contains("not in a cluster"),
            "{m}"
        );
        assert!(
            m.contains("docs/cluster.md") && m.contains("--store etcd://"),
            "{m}"
        );
        // Still 401 and 403 first.
        let r = s.request(method.clone(), &path).answer().await;
        assert_eq!(r.status(), 401);
    }
}
