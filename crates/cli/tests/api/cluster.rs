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
pub(crate) const GIVE_UP: Duration = Duration::from_secs(30);

pub(crate) fn store_arg(members: &[Etcd]) -> String {
    let list: Vec<String> = members
        .iter()
        .map(|m| format!("127.0.0.1:{}", m.client_port))
        .collect();
    format!("etcd://{}", list.join(","))
}

pub(crate) fn node(members: &[Etcd]) -> Server {
    Server::start_with(&["--store", &store_arg(members)])
}

/// Polls `check` every `every` until it holds, failing the test after `give_up`; prints and
/// returns how long it took. The one polling loop of the cluster tests: they assert no timing,
/// only limits far above what a loaded machine takes.
pub(crate) async fn poll_until<F, Fut>(
    what: &str,
    give_up: Duration,
    every: Duration,
    mut check: F,
) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            let took = start.elapsed();
            eprintln!("cluster: {what}: {} ms", took.as_millis());
            return took;
        }
        assert!(start.elapsed() < give_up, "{what}: not within {give_up:?}");
        tokio::time::sleep(every).await;
    }
}

/// Polls `check` until it holds, within [`GIVE_UP`], finely enough to measure propagation;
/// returns how long that took.
pub(crate) async fn within_bound<F, Fut>(what: &str, check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    poll_until(what, GIVE_UP, Duration::from_millis(5), check).await
}

pub(crate) async fn random_status(s: &Server, user: &str, pass: &str) -> u16 {
    s.post("/random")
        .basic_auth(user, Some(pass))
        .json(&json!({"length": 16}))
        .answer()
        .await
        .status()
        .as_u16()
}

pub(crate) async fn set_passphrase(s: &Server, user: &str, new: &str) {
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
pub(crate) async fn cluster(members: &[Etcd], n: usize) -> Vec<Server> {
    let first = node(members);
    assert_eq!(first.state().await, "Unprovisioned");
    first.provision().await;
    let mut nodes = vec![first];
    for _ in 1..n {
        let s = node(members);
        // A node new to a provisioned cluster comes up Locked: it has no domain key.
        assert_eq!(s.state().await, "Locked");
        assert_eq!(s.unlock("not the unlock passphrase").await.status(), 403);
        // The same client waits a second after a failure; waited out for real, not by moving
        // this node's clock, so that the nodes' clocks agree (the cluster's passkey back-off
        // compares their times).
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(s.unlock(UNLOCK).await.status(), 204);
        assert_eq!(s.state().await, "Operational");
        nodes.push(s);
    }
    nodes
}

/// Every key and value the cluster wrote in etcd.
pub(crate) fn dump(members: &[Etcd]) -> Vec<(String, Vec<u8>)> {
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

/// Three etcd members, three nodes: a new node joins Locked and unlocks with the cluster's
/// passphrase; users, passphrases, deletions and a lock made on one node hold on the others;
/// each node keeps its own TLS identity; etcd holds no secret.
#[tokio::test]
async fn three_nodes_share_one_state() {
    let etcd = Etcd::cluster(3);
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

pub(crate) async fn appliance_session_status(s: &Server, sid: &str) -> u16 {
    s.dr(sid, Method::GET, "/session")
        .answer()
        .await
        .status()
        .as_u16()
}

pub(crate) async fn qsdk_login(s: &Server, user: &str, pass: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(pass);
    let r = s
        .backup_client(Method::POST, "Login")
        .json(&json!({"username": user, "password": b64, "mode": 4, "deviceId": "test", "clientType": 30}))
        .answer()
        .await;
    assert_eq!(r.status(), 200, "QSDK login");
    let body: serde_json::Value = r.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

pub(crate) async fn qsdk_status(s: &Server, token: &str) -> u16 {
    s.backup_client(Method::GET, "Client")
        .header("Authtoken", token)
        .answer()
        .await
        .status()
        .as_u16()
}

/// Sessions live in the store: an appliance session and a backup-client (QSDK) token made on
/// node 1 work on nodes 2 and 3; a logout, a renewal, a passphrase change or a lock on one
/// node ends them at once on that node, and on the others within the bound (each answers
/// from the sessions it follows while its change feed is confirmed).
#[tokio::test]
async fn sessions_and_tokens_hold_on_every_node() {
    let etcd = vec![Etcd::start()];
    let nodes = cluster(&etcd, 3).await;
    let (n1, n2, n3) = (&nodes[0], &nodes[1], &nodes[2]);

    // Appliance face.
    let sid = n1.admin_session().await;
    for s in [n1, n2, n3] {
        assert_eq!(appliance_session_status(s, &sid).await, 200);
    }
    let r = n2.dr(&sid, Method::DELETE, "/session").answer().await;
    assert!(r.status().is_success(), "logout: {}", r.status());
    // At once on the node that ended it; on the others as soon as their feed brings it
    // (they answer from the session they follow: `strongroom_core::followed`).
    assert_eq!(appliance_session_status(n2, &sid).await, 401);
    for s in [n1, n3] {
        within_bound("a logout on node 2 ends the session everywhere", || async {
            appliance_session_status(s, &sid).await == 401
        })
        .await;
    }

    // Backup-client face: made on node 1, renewed on node 2, logged out on node 3.
    let token = qsdk_login(n1, "admin", ADMIN).await;
    assert_eq!(qsdk_status(n2, &token).await, 200);
    let r = n2
        .backup_client(Method::POST, "RenewLoginToken")
        .header("Authtoken", &token)
        .json(&json!({"sessionId": token, "deviceId": "test"}))
        .answer()
        .await;
    assert_eq!(r.status(), 200, "renew");
    let body: serde_json::Value = r.json().await.unwrap();
    let renewed = body["token"].as_str().unwrap().to_owned();
    assert_ne!(renewed, token);
    within_bound("the renewed token ended", || async {
        qsdk_status(n1, &token).await == 401
    })
    .await;
    assert_eq!(qsdk_status(n3, &renewed).await, 200);
    let r = n3
        .backup_client(Method::POST, "Logout")
        .header("Authtoken", &renewed)
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(qsdk_status(n3, &renewed).await, 401);
    for s in [n1, n2] {
        within_bound(
            "a QSDK logout on node 3 ends the token everywhere",
            || async { qsdk_status(s, &renewed).await == 401 },
        )
        .await;
    }

    // A user's passphrase changed on node 3 ends its sessions made on node 1.
    n1.create_user(Some("bk"), "Backup", "backup passphrase one")
        .await;
    let bk = qsdk_login(n1, "bk", "backup passphrase one").await;
    assert_eq!(qsdk_status(n2, &bk).await, 200);
    set_passphrase(n3, "bk", "backup passphrase two").await;
    assert_eq!(qsdk_status(n3, &bk).await, 401);
    for s in [n1, n2] {
        within_bound(
            "a passphrase change on node 3 ends the token everywhere",
            || async { qsdk_status(s, &bk).await == 401 },
        )
        .await;
    }

    // Live sessions are in etcd, as hashes under sealed records: no token in any form.
    let sid = n1.admin_session().await;
    let token = qsdk_login(n3, "admin", ADMIN).await;
    let dump = dump(&etcd);
    let stored = dump
        .iter()
        .filter(|(k, _)| k.starts_with("shared/meta/sessions/"))
        .count();
    assert_eq!(stored, 2, "the two live sessions");
    let sid_bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&sid)
        .unwrap();
    let token_hex = &token["QSDK ".len()..];
    let token_bytes = hex::decode(token_hex).unwrap();
    for (key, value) in &dump {
        for raw in [&sid_bytes, &token_bytes] {
            assert!(
                !contains(value, raw) && !contains(key.as_bytes(), &hex::encode(raw).into_bytes())
            );
        }
    }
    assert_no_secret(
        &dump,
        &[
            UNLOCK,
            ADMIN,
            "backup passphrase one",
            "backup passphrase two",
            &sid,
            token_hex,
        ],
    );

    // A lock on node 2 ends every session: unlocked again, node 1 does not take them back.
    n2.lock().await;
    within_bound("a lock on node 2 locks node 1", || async {
        n1.state().await == "Locked"
    })
    .await;
    assert_eq!(n1.unlock(UNLOCK).await.status(), 204);
    assert_eq!(appliance_session_status(n1, &sid).await, 401);
    assert_eq!(qsdk_status(n1, &token).await, 401);
}

/// Three etcd members, three nodes, 20 rounds of the same change sent to all three nodes at
/// once: a user created with one id, a key generated with one id (exactly one node wins,
/// the others answer 409), and a passphrase set to three different values (each node
/// acknowledges, and afterwards exactly one of the three works, the same on every node).
#[tokio::test]
async fn concurrent_conflicting_updates_never_leave_two_winners() {
    let etcd = Etcd::cluster(3);
    let nodes = cluster(&etcd, 3).await;
    for round in 0..20 {
        let user = format!("u{round}");
        let creates = nodes.iter().enumerate().map(|(i, s)| {
            s.as_admin(Method::PUT, &format!("/users/{user}"))
                .json(&json!({"realName": format!("from node {i}"), "role": "Operator", "passphrase": format!("round {round} first passphrase")}))
                .answer()
        });
        let statuses: Vec<u16> = futures_util::future::join_all(creates)
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "one creation wins: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 409),
            "{statuses:?}"
        );

        let key = format!("k{round}");
        let generates = nodes.iter().map(|s| {
            s.as_admin(Method::POST, "/keys/generate")
                .json(&json!({"mechanisms": ["EdDSA_Signature"], "type": "Curve25519", "id": key}))
                .answer()
        });
        let statuses: Vec<u16> = futures_util::future::join_all(generates)
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "one key wins: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 409),
            "{statuses:?}"
        );
        // Every node reads the one key that won.
        let mut pems = Vec::new();
        for s in &nodes {
            let r = s
                .as_admin(Method::GET, &format!("/keys/{key}/public.pem"))
                .answer()
                .await;
            assert_eq!(r.status(), 200);
            pems.push(r.text().await.unwrap());
        }
        assert!(
            pems.windows(2).all(|w| w[0] == w[1]),
            "one key on every node"
        );

        let passphrases: Vec<String> = (0..3)
            .map(|i| format!("round {round} passphrase from node {i}"))
            .collect();
        let changes = nodes.iter().zip(&passphrases).map(|(s, p)| {
            s.as_admin(Method::POST, &format!("/users/{user}/passphrase"))
                .json(&json!({"passphrase": p}))
                .answer()
        });
        let statuses: Vec<u16> = futures_util::future::join_all(changes)
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
        assert!(
            statuses.iter().all(|s| *s == 204 || *s == 409),
            "{statuses:?}"
        );
        // Checked on one node, each passphrase once (a wrong one costs a 1 s wait there).
        let checker = &nodes[round % 3];
        let mut working = Vec::new();
        for p in &passphrases {
            let status = random_status(checker, &user, p).await;
            if status == 200 {
                working.push(p.clone());
            } else {
                assert_eq!(status, 401);
                after_rate_limit_window(checker).await;
            }
        }
        assert_eq!(
            working.len(),
            1,
            "exactly one passphrase stands: {working:?}"
        );
        // The one that stands is one whose change was acknowledged: none was lost.
        let winner = passphrases.iter().position(|p| *p == working[0]).unwrap();
        assert_eq!(statuses[winner], 204, "{statuses:?}");
    }
}

/// The errorCode of a backup-client passkey request (200 with the code in the body).
pub(crate) async fn passkey_code(
    s: &Server,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> i64 {
    let r = s
        .backup_client(Method::POST, path)
        .header("Authtoken", token)
        .json(&body)
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    v["error"]["errorCode"].as_i64().unwrap()
}

pub(crate) const WRONG_PASSKEY: i64 = 587204607;
const PASSKEY_RATE_LIMITED: i64 = 587204612;

/// Wrong passkeys count on the cluster, not per node: guesses spread over three nodes meet
/// the one back-off (three free, then a delay that doubles); a restore authorization opened
/// on one node is seen on the others and closed on one for all.
#[tokio::test]
async fn passkey_back_off_and_windows_are_the_clusters() {
    let etcd = vec![Etcd::start()];
    let nodes = cluster(&etcd, 3).await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let tokens = [
        qsdk_login(&nodes[0], "admin", ADMIN).await,
        qsdk_login(&nodes[1], "admin", ADMIN).await,
        qsdk_login(&nodes[2], "admin", ADMIN).await,
    ];
    let path = "Company/0/Passkey";
    let create = json!({"newPasskey": b64("company passkey"), "confirmPasskey": b64("company passkey"), "passkeyOpType": "CREATE"});
    assert_eq!(passkey_code(&nodes[0], &tokens[0], path, create).await, 0);
    let edit = json!({"currentPasskey": b64("wrong passkey"), "newPasskey": b64("next passkey x1"), "confirmPasskey": b64("next passkey x1"), "passkeyOpType": "EDIT"});
    let advance_all = |by: Duration| {
        for s in &nodes {
            s.advance_clock(by);
        }
    };
    // Six wrong passkeys, one node after the other, each after the delay the cluster's
    // count sets (0, 0, 0, 1, 2, 4 s): one node alone would have seen two.
    for (i, wait) in [0u64, 0, 0, 1, 2, 4].into_iter().enumerate() {
        advance_all(Duration::from_millis(wait * 1000 + 100));
        let n = i % 3;
        assert_eq!(
            passkey_code(&nodes[n], &tokens[n], path, edit.clone()).await,
            WRONG_PASSKEY,
            "wrong passkey {i} on node {n}"
        );
    }
    // The seventh, on any node, waits out the cluster's 8 s delay, even the right passkey.
    let right = json!({"currentPasskey": b64("company passkey"), "newPasskey": b64("next passkey x1"), "confirmPasskey": b64("next passkey x1"), "passkeyOpType": "EDIT"});
    for n in 0..3 {
        assert_eq!(
            passkey_code(&nodes[n], &tokens[n], path, right.clone()).await,
            PASSKEY_RATE_LIMITED,
            "node {n} is held to the cluster's back-off"
        );
    }
    advance_all(Duration::from_secs(9));
    assert_eq!(passkey_code(&nodes[1], &tokens[1], path, right).await, 0);

    // A restore authorization opened on node 1 is open on node 3; closed on node 2, closed
    // on all.
    let auth = |pk: &str, enable: bool| json!({"App_AuthorizeForRestoreRequest": {"passkey": b64(pk), "passkeySettings": {"enableAuthorizeForRestore": enable, "passkeyExpirationInterval": {"toTime": 1800}}}});
    let r = nodes[0]
        .own_as_admin(Method::POST, "/clients")
        .json(&json!({"name": "c1", "hostName": "c1.example", "owners": []}))
        .answer()
        .await;
    assert_eq!(r.status(), 201, "client: {}", r.text().await.unwrap());
    let client = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap();
    let reason = |s: &Server| {
        let r = s.own_as_admin(
            Method::GET,
            &format!("/clients/{client}/restore-authorization?operation=restore"),
        );
        async move {
            let v: serde_json::Value = r.answer().await.json().await.unwrap();
            v["reason"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(reason(&nodes[2]).await, "company-passkey-required");
    assert_eq!(
        passkey_code(
            &nodes[0],
            &tokens[0],
            "Company/0/AuthRestore",
            auth("next passkey x1", true)
        )
        .await,
        0
    );
    for s in &nodes {
        assert_eq!(reason(s).await, "authorized", "the window node 1 opened");
    }
    assert_eq!(
        passkey_code(
            &nodes[1],
            &tokens[1],
            "Company/0/AuthRestore",
            auth("", false)
        )
        .await,
        0
    );
    for s in &nodes {
        assert_eq!(
            reason(s).await,
            "company-passkey-required",
            "closed on node 2"
        );
    }
}

/// Lifecycle across nodes: a node started on an empty cluster turns Locked when another
/// provisions it; a factory reset on one returns the others to Unprovisioned.
#[tokio::test]
async fn provisioning_and_reset_reach_every_node() {
    let etcd = vec![Etcd::start()];
    let n1 = node(&etcd);
    let n2 = node(&etcd);
    assert_eq!(n2.state().await, "Unprovisioned");
    n1.provision().await;
    within_bound("a provisioning on node 1 makes node 2 Locked", || async {
        n2.state().await == "Locked"
    })
    .await;
    assert_eq!(n2.unlock(UNLOCK).await.status(), 204);
    let r = n1
        .as_admin(Method::POST, "/system/factory-reset")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    within_bound("a reset on node 1 makes node 2 Unprovisioned", || async {
        n2.state().await == "Unprovisioned"
    })
    .await;
    // Nothing of the old state answers on node 2.
    assert_eq!(random_status(&n2, "admin", ADMIN).await, 412);
}
