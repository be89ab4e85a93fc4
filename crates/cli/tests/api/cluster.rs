//! Cluster mode: several real servers (`serve --store etcd://...`) on real etcd members on
//! loopback (`strongroom_store::etcd::test_member`). Built only with the feature `etcd-test`
//! (`cargo test -p strongroom --features etcd-test --test api cluster`).
//!
//! Propagation between nodes is asynchronous (etcd's watch): where a test waits for a node to
//! see another's change, it polls, prints how long that took (the figures docs/cluster.md
//! reports), and fails only past a generous limit, never on a timing.

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use serde_json::json;
use strongroom_store::Store;
use strongroom_store::etcd::test_member::Etcd;
use strongroom_store::etcd::{EtcdSettings, EtcdStore};

use crate::common::*;

/// How long a node may take to follow another's change before the test fails: far above the
/// bound measured (docs/cluster.md), so a loaded machine does not fail it.
const GIVE_UP: Duration = Duration::from_secs(30);

fn store_arg(members: &[Etcd]) -> String {
    let list: Vec<String> = members
        .iter()
        .map(|m| format!("127.0.0.1:{}", m.client_port))
        .collect();
    format!("etcd://{}", list.join(","))
}

fn node(members: &[Etcd]) -> Server {
    Server::start_with(&["--store", &store_arg(members)])
}

/// Polls `check` until it holds; returns how long that took.
async fn within_bound<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            let took = start.elapsed();
            eprintln!("cluster propagation: {what}: {} ms", took.as_millis());
            return took;
        }
        assert!(start.elapsed() < GIVE_UP, "{what}: not within {GIVE_UP:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn random_status(s: &Server, user: &str, pass: &str) -> u16 {
    s.post("/random")
        .basic_auth(user, Some(pass))
        .json(&json!({"length": 16}))
        .answer()
        .await
        .status()
        .as_u16()
}

async fn set_passphrase(s: &Server, user: &str, new: &str) {
    let r = s
        .as_admin(Method::POST, &format!("/users/{user}/passphrase"))
        .json(&json!({"passphrase": new}))
        .answer()
        .await;
    assert_eq!(
        r.status(),
        204,
        "passphrase change: {}",
        r.text().await.unwrap()
    );
}

/// A provisioned cluster of `n` nodes on `members`, every node Operational.
async fn cluster(members: &[Etcd], n: usize) -> Vec<Server> {
    let first = node(members);
    assert_eq!(first.state().await, "Unprovisioned");
    first.provision().await;
    let mut nodes = vec![first];
    for _ in 1..n {
        let s = node(members);
        // A node new to a provisioned cluster comes up Locked: it has no domain key.
        assert_eq!(s.state().await, "Locked");
        assert_eq!(s.unlock("not the unlock passphrase").await.status(), 403);
        after_rate_limit_window(&s).await;
        assert_eq!(s.unlock(UNLOCK).await.status(), 204);
        assert_eq!(s.state().await, "Operational");
        nodes.push(s);
    }
    nodes
}

/// Every key and value the cluster wrote in etcd.
fn dump(members: &[Etcd]) -> Vec<(String, Vec<u8>)> {
    let settings = EtcdSettings::new(
        members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.client_port)),
    )
    .with_key_prefix("strongroom/");
    let store = EtcdStore::open(&settings).expect("the test reads etcd");
    store
        .scan_prefix("")
        .unwrap()
        .into_iter()
        .map(|(k, e)| (k, e.value.clone()))
        .collect()
}

/// No secret in `dump`, in clear, base64 (both alphabets, padded or not) or hex.
fn assert_no_secret(dump: &[(String, Vec<u8>)], secrets: &[&str]) {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    for secret in secrets {
        let forms = [
            secret.as_bytes().to_vec(),
            STANDARD.encode(secret).into_bytes(),
            STANDARD_NO_PAD.encode(secret).into_bytes(),
            URL_SAFE_NO_PAD.encode(secret).into_bytes(),
            hex::encode(secret).into_bytes(),
            hex::encode_upper(secret).into_bytes(),
        ];
        for (key, value) in dump {
            for form in &forms {
                assert!(
                    !contains(value, form) && !contains(key.as_bytes(), form),
                    "a secret is readable in etcd at {key}"
                );
            }
        }
    }
}

/// One etcd member, three nodes: a new node joins Locked and unlocks with the cluster's
/// passphrase; users, passphrases, deletions and a lock made on one node hold on the others;
/// each node keeps its own TLS identity; etcd holds no secret.
#[tokio::test]
async fn three_nodes_share_one_state() {
    let etcd = vec![Etcd::start()];
    let nodes = cluster(&etcd, 3).await;
    let (n1, n2, n3) = (&nodes[0], &nodes[1], &nodes[2]);
    // Each node's TLS identity is its own (sealed under its own device key).
    assert_ne!(n1.fingerprint, n2.fingerprint);
    assert_ne!(n2.fingerprint, n3.fingerprint);

    // A user created on node 1 logs in on node 3.
    n1.create_user(Some("op"), "Operator", "operator passphrase one")
        .await;
    assert_eq!(
        random_status(n3, "op", "operator passphrase one").await,
        200
    );
    // Node 1 has the verification cached; node 2 changes the passphrase.
    assert_eq!(
        random_status(n1, "op", "operator passphrase one").await,
        200
    );
    set_passphrase(n2, "op", "operator passphrase two").await;
    assert_eq!(
        random_status(n2, "op", "operator passphrase one").await,
        401
    );
    within_bound(
        "a passphrase changed on node 2 is refused on node 1",
        || async { random_status(n1, "op", "operator passphrase one").await == 401 },
    )
    .await;
    // A failed attempt makes the same client wait a second (429) on that node.
    after_rate_limit_window(n1).await;
    assert_eq!(
        random_status(n1, "op", "operator passphrase two").await,
        200
    );
    assert_eq!(
        random_status(n3, "op", "operator passphrase two").await,
        200
    );

    // A user deleted on node 3 is refused on node 1, its cache warm.
    let r = n3.as_admin(Method::DELETE, "/users/op").answer().await;
    assert_eq!(r.status(), 204);
    within_bound("a user deleted on node 3 is refused on node 1", || async {
        random_status(n1, "op", "operator passphrase two").await == 401
    })
    .await;

    // A key generated on node 2 signs on node 1 (NetHSM keys are shared state).
    let r = n2
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"mechanisms": ["EdDSA_Signature"], "type": "Curve25519", "id": "k1"}))
        .answer()
        .await;
    assert_eq!(r.status(), 201, "generate: {}", r.text().await.unwrap());
    let pem_on = |s: &Server| {
        let r = s.as_admin(Method::GET, "/keys/k1/public.pem");
        async move { r.answer().await.text().await.unwrap() }
    };
    assert_eq!(pem_on(n1).await, pem_on(n2).await);

    let secrets = [
        UNLOCK,
        ADMIN,
        "operator passphrase one",
        "operator passphrase two",
    ];
    let keys = dump(&etcd);
    assert_no_secret(&keys, &secrets);
    // Each node's own records are under its own prefix; the rest is shared.
    let tls: Vec<&String> = keys
        .iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("nodes/") && k.ends_with("/meta/tls"))
        .collect();
    assert_eq!(tls.len(), 3, "one TLS identity per node: {tls:?}");
    assert!(keys.iter().any(|(k, _)| k == "shared/meta/unlock"));
    assert!(keys.iter().any(|(k, _)| k == "shared/users/admin"));
    assert!(
        keys.iter()
            .all(|(k, _)| k.starts_with("shared/") || k.starts_with("nodes/")),
        "every key is shared or a node's own"
    );

    // A lock on node 2 locks the cluster; each node is unlocked again with the passphrase.
    n2.lock().await;
    for (i, s) in [n1, n3].into_iter().enumerate() {
        within_bound(
            &format!("a lock on node 2 locks node {}", [1, 3][i]),
            || async { s.state().await == "Locked" },
        )
        .await;
    }
    assert_eq!(n1.unlock(UNLOCK).await.status(), 204);
    assert_eq!(n1.state().await, "Operational");
    // Node 1's unlock does not unlock the others: each holds its own copy of the key.
    assert_eq!(n3.state().await, "Locked");
}
