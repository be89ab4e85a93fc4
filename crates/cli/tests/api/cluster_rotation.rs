//! Two changes made on one node of a cluster that every other node must follow (issue 15):
//! a rotation of the domain key, and the deletion of a namespace with its users and keys.
//! Real etcd members, real server nodes (`crate::cluster`); propagation is polled within the
//! bound, never timed. Signatures are checked with openssl.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};
use strongroom_store::etcd::test_member::Etcd;
use strongroom_store::sealed::sealed_header;

use crate::cluster::{
    WRONG_PASSKEY, appliance_session_status, cluster, dump, passkey_code, qsdk_login, qsdk_status,
    random_status, within_bound,
};
use crate::common::*;

const OPERATOR: &str = "operator passphrase";
const MESSAGE: &[u8] = b"cluster rotation: the message";
/// The DER prefix of a SHA-256 DigestInfo; the digest itself is any 32 bytes to an HSM.
const SHA256_DIGEST_INFO: &str = "3031300d060960864801650304020105000420";

fn digest_info() -> Vec<u8> {
    let mut info = hex::decode(SHA256_DIGEST_INFO).unwrap();
    info.extend_from_slice(&[0x5a; 32]);
    info
}

/// `POST /keys/{id}/sign` on `s` as `user`: the status, and the signature when 200. EdDSA
/// signs [`MESSAGE`], PKCS1 [`digest_info`].
async fn sign_as(s: &Server, user: &str, pass: &str, id: &str, mode: &str) -> (u16, Vec<u8>) {
    let message = if mode == "PKCS1" {
        digest_info()
    } else {
        MESSAGE.to_vec()
    };
    let r = s
        .post(&format!("/keys/{id}/sign"))
        .basic_auth(user, Some(pass))
        .json(&json!({"mode": mode, "message": STANDARD.encode(message)}))
        .answer()
        .await;
    let status = r.status().as_u16();
    if status != 200 {
        return (status, Vec::new());
    }
    let body: Value = r.json().await.unwrap();
    let signature = STANDARD
        .decode(body["signature"].as_str().expect("a signature"))
        .unwrap();
    (status, signature)
}

/// A signature that must be made.
async fn signed(s: &Server, user: &str, pass: &str, id: &str, mode: &str) -> Vec<u8> {
    let (status, signature) = sign_as(s, user, pass, id, mode).await;
    assert_eq!(status, 200, "{user} signs with {id} ({mode})");
    signature
}

/// Generates key `id` on `s` as `user` (an Administrator).
async fn generate(s: &Server, user: &str, pass: &str, body: Value) {
    let r = s
        .post("/keys/generate")
        .basic_auth(user, Some(pass))
        .json(&body)
        .answer()
        .await;
    assert_eq!(r.status(), 201, "generate: {}", r.text().await.unwrap());
}

fn ed25519(id: &str) -> Value {
    json!({"mechanisms": ["EdDSA_Signature"], "type": "Curve25519", "id": id})
}

/// The status of a GET of `path` by `user`.
async fn get_status(s: &Server, user: &str, pass: &str, path: &str) -> u16 {
    s.get(path)
        .basic_auth(user, Some(pass))
        .answer()
        .await
        .status()
        .as_u16()
}

async fn public_pem(s: &Server, user: &str, pass: &str, id: &str) -> String {
    let r = s
        .get(&format!("/keys/{id}/public.pem"))
        .basic_auth(user, Some(pass))
        .answer()
        .await;
    assert_eq!(r.status(), 200, "public key of {id}");
    r.text().await.unwrap()
}

/// Whether openssl finds `signature` a valid signature under `pem`: Ed25519 of [`MESSAGE`],
/// or RSA PKCS#1 v1.5 over [`digest_info`] (checked by recovering what was signed).
fn openssl_verifies(dir: &Path, pem: &str, mode: &str, signature: &[u8]) -> bool {
    std::fs::write(dir.join("pub.pem"), pem).unwrap();
    std::fs::write(dir.join("msg"), MESSAGE).unwrap();
    std::fs::write(dir.join("sig"), signature).unwrap();
    let mut cmd = std::process::Command::new("openssl");
    cmd.current_dir(dir)
        .args(["pkeyutl", "-pubin", "-inkey", "pub.pem"]);
    if mode == "PKCS1" {
        cmd.args(["-verifyrecover", "-in", "sig"]);
        let out = cmd.output().expect("openssl runs");
        out.status.success() && out.stdout == digest_info()
    } else {
        cmd.args(["-verify", "-rawin", "-in", "msg", "-sigfile", "sig"]);
        cmd.output().expect("openssl runs").status.success()
    }
}

async fn rotate(s: &Server, unlock: &str) -> reqwest::Response {
    s.own_as_admin(Method::POST, "/system/rotate-data-key")
        .json(&json!({ "unlockPassphrase": unlock }))
        .answer()
        .await
}

async fn key_version(s: &Server) -> u64 {
    s.own_as_admin(Method::GET, "/system/data-key")
        .answer()
        .await
        .json::<Value>()
        .await
        .unwrap()["keyVersion"]
        .as_u64()
        .unwrap()
}

/// Every value in etcd sealed under the domain key (shared or a node's own): outside `meta/`,
/// and the sessions, their index and the wrong-passkey counts in it. Its key and header.
fn sealed_values(members: &[Etcd]) -> Vec<(String, Option<(u8, u8)>)> {
    dump(members)
        .into_iter()
        .filter(|(k, _)| {
            let path = match k.strip_prefix("shared/") {
                Some(p) => p,
                None => k
                    .strip_prefix("nodes/")
                    .and_then(|rest| rest.split_once('/'))
                    .map_or(k.as_str(), |(_, p)| p),
            };
            !path.starts_with("meta/")
                || [
                    "meta/sessions/",
                    "meta/session-users/",
                    "meta/passkey-failures/",
                ]
                .iter()
                .any(|p| path.starts_with(p))
        })
        .map(|(k, v)| (k, sealed_header(&v)))
        .collect()
}

/// Waits out the one-second window in which a user's failed attempt holds back the next one
/// from the same address (docs/security-model.md, "Rate limiting"); for real, so the nodes'
/// clocks agree.
async fn after_a_refusal() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

/// What a node must serve after the rotation: the keys sign as before, users log in, a write
/// made on it is read on the other node and back.
async fn serves_everything(
    dir: &Path,
    s: &Server,
    other: &Server,
    ed_before: &[u8],
    rsa_before: &[u8],
    new_user: &str,
) {
    assert_eq!(signed(s, "op", OPERATOR, "ed", "EdDSA").await, ed_before);
    assert_eq!(signed(s, "op", OPERATOR, "rsa", "PKCS1").await, rsa_before);
    assert_eq!(random_status(s, "op", OPERATOR).await, 200);
    assert_eq!(s.admin_json("/users/op").await["role"], "Operator");
    // A write here (a user, a key) is read on the other node, and the other's here.
    s.create_user(Some(new_user), "Operator", OPERATOR).await;
    assert_eq!(random_status(other, new_user, OPERATOR).await, 200);
    generate(s, "admin", ADMIN, ed25519(new_user)).await;
    let pem = public_pem(s, "admin", ADMIN, new_user).await;
    assert_eq!(public_pem(other, "admin", ADMIN, new_user).await, pem);
    let signature = signed(other, new_user, OPERATOR, new_user, "EdDSA").await;
    assert!(openssl_verifies(dir, &pem, "EdDSA", &signature));
}

/// Three members, two nodes; node 2 warm (its parsed keys, its cached verifications), with
/// unattended boot on. A rotation on node 1 locks node 2 (it cannot open the new key without
/// the passphrase) within the bound; unlocked, node 2 signs with every key exactly as before,
/// its users log in, writes cross both ways; every value in etcd is sealed under the new key;
/// a lock, an unlock and restarts of node 2 (by passphrase and unattended) keep it all.
/// Refused: a wrong passphrase, a rotation on a Locked node, two rotations at once (one wins).
#[tokio::test]
async fn a_rotation_on_one_node_is_followed_by_the_others() {
    let etcd = Etcd::cluster(3);
    let mut nodes = cluster(&etcd, 2).await;
    let dir = tempfile::tempdir().unwrap();
    {
        let (n1, n2) = (&nodes[0], &nodes[1]);
        n1.create_user(Some("op"), "Operator", OPERATOR).await;
        generate(n1, "admin", ADMIN, ed25519("ed")).await;
        generate(
            n1,
            "admin",
            ADMIN,
            json!({"mechanisms": ["RSA_Signature_PKCS1"], "type": "RSA", "length": 2048, "id": "rsa"}),
        )
        .await;
        // Unattended boot on node 2 only: its own copy of the domain key, under its device key.
        let r = n2
            .as_admin(Method::PUT, "/config/unattended-boot")
            .json(&json!({"status": "on"}))
            .answer()
            .await;
        assert_eq!(r.status(), 204);
    }
    let (ed_pem, rsa_pem) = (
        public_pem(&nodes[0], "admin", ADMIN, "ed").await,
        public_pem(&nodes[0], "admin", ADMIN, "rsa").await,
    );
    // An appliance session and a backup-client token, both made on node 1 before the
    // rotation: records in etcd sealed under the old key.
    let sid = nodes[0].admin_session().await;
    let token = qsdk_login(&nodes[0], "admin", ADMIN).await;
    assert_eq!(appliance_session_status(&nodes[1], &sid).await, 200);
    assert_eq!(qsdk_status(&nodes[1], &token).await, 200);
    // The company passkey, and a wrong guess at it on node 2: the cluster's count of wrong
    // passkeys is a record in etcd, sealed under the domain key.
    let b64 = |s: &str| STANDARD.encode(s);
    let passkey = "Company/0/Passkey";
    let create = json!({"newPasskey": b64("company passkey"), "confirmPasskey": b64("company passkey"), "passkeyOpType": "CREATE"});
    assert_eq!(passkey_code(&nodes[0], &token, passkey, create).await, 0);
    let wrong = json!({"currentPasskey": b64("wrong passkey"), "newPasskey": b64("next passkey x1"), "confirmPasskey": b64("next passkey x1"), "passkeyOpType": "EDIT"});
    let token2 = qsdk_login(&nodes[1], "admin", ADMIN).await;
    assert_eq!(
        passkey_code(&nodes[1], &token2, passkey, wrong.clone()).await,
        WRONG_PASSKEY
    );
    // Warm node 2: parsed keys and cached verifications.
    let ed_before = signed(&nodes[1], "op", OPERATOR, "ed", "EdDSA").await;
    let rsa_before = signed(&nodes[1], "op", OPERATOR, "rsa", "PKCS1").await;
    assert!(openssl_verifies(dir.path(), &ed_pem, "EdDSA", &ed_before));
    assert!(openssl_verifies(dir.path(), &rsa_pem, "PKCS1", &rsa_before));
    assert!(!openssl_verifies(dir.path(), &rsa_pem, "EdDSA", &ed_before));
    assert_eq!(
        signed(&nodes[1], "op", OPERATOR, "rsa", "PKCS1").await,
        rsa_before,
        "PKCS#1 v1.5 is deterministic"
    );
    assert!(
        sealed_values(&etcd).iter().all(|(_, h)| *h == Some((2, 1))),
        "before: every value under version 1"
    );

    // Refused on node 2, changing nothing anywhere: a wrong unlock passphrase.
    let r = rotate(&nodes[1], "not the unlock passphrase").await;
    own_error(r, 403, "unlock passphrase is incorrect.").await;
    assert_eq!(nodes[1].state().await, "Operational");
    assert_eq!(key_version(&nodes[0]).await, 1);

    // Node 1 rotates.
    let r = rotate(&nodes[0], UNLOCK).await;
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["keyVersion"], 2, "{report}");
    assert_eq!(report["unreadable"], 0, "{report}");
    assert_eq!(key_version(&nodes[0]).await, 2);
    // Node 2 cannot open the new key: it locks, and refuses everything until unlocked.
    within_bound("a rotation on node 1 locks node 2", || async {
        nodes[1].state().await == "Locked"
    })
    .await;
    assert_eq!(
        sign_as(&nodes[1], "op", OPERATOR, "ed", "EdDSA").await.0,
        412
    );
    let r = rotate(&nodes[1], UNLOCK).await;
    own_error(r, 412, "Service not available").await;
    // Node 1 was not locked by it, and serves.
    assert_eq!(nodes[0].state().await, "Operational");
    assert_eq!(
        signed(&nodes[0], "op", OPERATOR, "ed", "EdDSA").await,
        ed_before
    );
    // Every value is sealed under the new key, the shared ones and each node's own, the
    // records of sessions and of the wrong passkey included.
    let headers = sealed_values(&etcd);
    assert!(headers.len() >= 6, "{headers:?}");
    for prefix in [
        "meta/sessions/",
        "meta/session-users/",
        "meta/passkey-failures/",
    ] {
        assert!(
            headers.iter().any(|(k, _)| k.contains(prefix)),
            "{prefix} is checked too"
        );
    }
    for (k, h) in &headers {
        assert_eq!(*h, Some((2, 2)), "{k}");
    }
    // Sessions, tokens and the wrong-passkey count are records sealed under the domain key
    // too: re-sealed, so the sessions made before go on, both faces log in again (each login
    // reads its user's session index), and the passkey count opens.
    assert_eq!(appliance_session_status(&nodes[0], &sid).await, 200);
    assert_eq!(qsdk_status(&nodes[0], &token).await, 200);
    let sid_after = nodes[0].admin_session().await;
    let token_after = qsdk_login(&nodes[0], "admin", ADMIN).await;
    assert_eq!(
        passkey_code(&nodes[0], &token_after, passkey, wrong).await,
        WRONG_PASSKEY
    );
    let right = json!({"currentPasskey": b64("company passkey"), "newPasskey": b64("next passkey x1"), "confirmPasskey": b64("next passkey x1"), "passkeyOpType": "EDIT"});
    assert_eq!(passkey_code(&nodes[0], &token, passkey, right).await, 0);

    // Restarted now, node 2's unattended-boot copy still holds the old key: it starts, and
    // stays Locked rather than serving with a key that opens nothing written since.
    nodes[1].restart();
    assert_eq!(nodes[1].state().await, "Locked");
    assert!(
        nodes[1]
            .log()
            .contains("unattended boot's copy of the domain key is not the store's"),
        "the node says why it stays Locked"
    );
    // A wrong passphrase does not unlock node 2; the right one does, with the new key (and
    // seals it again for unattended boot); the sessions made on node 1 work there too.
    assert_eq!(
        nodes[1].unlock("not the unlock passphrase").await.status(),
        403
    );
    after_a_refusal().await;
    assert_eq!(nodes[1].unlock(UNLOCK).await.status(), 204);
    assert_eq!(nodes[1].state().await, "Operational");
    assert_eq!(key_version(&nodes[1]).await, 2);
    for (sid, token) in [(&sid, &token), (&sid_after, &token_after)] {
        assert_eq!(appliance_session_status(&nodes[1], sid).await, 200);
        assert_eq!(qsdk_status(&nodes[1], token).await, 200);
    }
    serves_everything(
        dir.path(),
        &nodes[1],
        &nodes[0],
        &ed_before,
        &rsa_before,
        "op2",
    )
    .await;
    serves_everything(
        dir.path(),
        &nodes[0],
        &nodes[1],
        &ed_before,
        &rsa_before,
        "op1",
    )
    .await;

    // A lock on node 2 locks the cluster; both unlock with the passphrase and serve.
    nodes[1].lock().await;
    within_bound("a lock on node 2 locks node 1", || async {
        nodes[0].state().await == "Locked"
    })
    .await;
    for s in &nodes {
        assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    }
    for s in &nodes {
        assert_eq!(signed(s, "op", OPERATOR, "ed", "EdDSA").await, ed_before);
        assert_eq!(random_status(s, "op2", OPERATOR).await, 200);
    }

    // Node 2 restarted: unattended boot is on there, so it comes up Operational by itself,
    // with the key of the cluster, not the one it held before the rotation.
    nodes[1].restart();
    within_bound("node 2, restarted, boots unattended", || async {
        nodes[1].state().await == "Operational"
    })
    .await;
    assert_eq!(key_version(&nodes[1]).await, 2);
    serves_everything(
        dir.path(),
        &nodes[1],
        &nodes[0],
        &ed_before,
        &rsa_before,
        "op3",
    )
    .await;
    // Without unattended boot it comes up Locked, and the passphrase unlocks it.
    let r = nodes[1]
        .as_admin(Method::PUT, "/config/unattended-boot")
        .json(&json!({"status": "off"}))
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    nodes[1].restart();
    assert_eq!(nodes[1].state().await, "Locked");
    assert_eq!(nodes[1].unlock(UNLOCK).await.status(), 204);
    assert_eq!(
        signed(&nodes[1], "op3", OPERATOR, "ed", "EdDSA").await,
        ed_before
    );

    // Two rotations at once, one on each node: one wins; the other node locks and, unlocked,
    // reads everything under the winner's key.
    let (a, b) = tokio::join!(rotate(&nodes[0], UNLOCK), rotate(&nodes[1], UNLOCK));
    let statuses = [a.status().as_u16(), b.status().as_u16()];
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "one rotation wins: {statuses:?}"
    );
    let (winner, loser, refused) = if statuses[0] == 200 {
        (&nodes[0], &nodes[1], b)
    } else {
        (&nodes[1], &nodes[0], a)
    };
    // The other is refused as a rotation already running (or, had its node locked first,
    // as a node not Operational), never an internal error.
    match refused.status().as_u16() {
        409 => {
            own_error(
                refused,
                409,
                "A rotation of the data key is already running.",
            )
            .await
        }
        _ => own_error(refused, 412, "Service not available").await,
    };
    assert_eq!(key_version(winner).await, 3);
    within_bound("the other rotation's node locks", || async {
        loser.state().await == "Locked"
    })
    .await;
    assert_eq!(loser.unlock(UNLOCK).await.status(), 204);
    assert_eq!(key_version(loser).await, 3);
    for s in &nodes {
        assert_eq!(signed(s, "op", OPERATOR, "ed", "EdDSA").await, ed_before);
        assert_eq!(signed(s, "op", OPERATOR, "rsa", "PKCS1").await, rsa_before);
    }
    for (k, h) in sealed_values(&etcd) {
        assert_eq!(h, Some((2, 3)), "{k}");
    }
}

/// `DELETE /namespaces/{id}` as `user` on `s`: the status.
async fn delete_namespace(s: &Server, user: &str, pass: &str, namespace: &str) -> u16 {
    s.delete(&format!("/namespaces/{namespace}"))
        .basic_auth(user, Some(pass))
        .answer()
        .await
        .status()
        .as_u16()
}

async fn namespaces(s: &Server) -> Vec<String> {
    s.admin_json("/namespaces")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn create_namespace(s: &Server, namespace: &str) {
    let r = s
        .as_admin(Method::PUT, &format!("/namespaces/{namespace}"))
        .answer()
        .await;
    assert_eq!(r.status(), 204, "create {namespace}");
}

/// Three members, two nodes. Namespace ns1 has an Administrator, an Operator and a key `k`;
/// root has a key `k` of its own. Node 2 signs with ns1's key (its parse, the Operator's
/// verification and tags warm). Node 1 deletes ns1 (NetHSM: "all keys from that namespace
/// are deleted", and its users with them): within the bound node 2 refuses the Operator and
/// the Administrator (401), and neither the namespace, its users nor its keys remain in etcd;
/// root's key signs as before. A key `k` made afterwards in a re-created ns1, and in ns2, is
/// never reached by the old Operator's credentials, and signs with its own key. Refused:
/// the deletion by anyone but a root Administrator, of a namespace that is gone, of an
/// invalid id.
#[tokio::test]
async fn a_namespace_deleted_on_one_node_is_gone_on_the_others() {
    let etcd = Etcd::cluster(3);
    let nodes = cluster(&etcd, 2).await;
    let (n1, n2) = (&nodes[0], &nodes[1]);
    let dir = tempfile::tempdir().unwrap();
    const NS_ADMIN: &str = "ns1 admin passphrase";
    n1.create_user(Some("op"), "Operator", OPERATOR).await;
    n1.create_user(Some("ns1~admin"), "Administrator", NS_ADMIN)
        .await;
    n1.create_user(Some("ns1~op"), "Operator", OPERATOR).await;
    create_namespace(n1, "ns1").await;
    generate(n1, "admin", ADMIN, ed25519("k")).await;
    generate(n1, "ns1~admin", NS_ADMIN, ed25519("k")).await;
    let root_pem = public_pem(n1, "admin", ADMIN, "k").await;
    let ns1_pem = public_pem(n1, "ns1~admin", NS_ADMIN, "k").await;
    assert_ne!(root_pem, ns1_pem, "one id, two namespaces, two keys");
    // A tag on ns1's Operator (a record node 2 follows) and on its key, by ns1's
    // Administrator (once ns1 exists, only its own Administrators manage it).
    for path in ["/users/ns1~op/tags/t", "/keys/k/restrictions/tags/t"] {
        let r = n1
            .put(path)
            .basic_auth("ns1~admin", Some(NS_ADMIN))
            .answer()
            .await;
        assert_eq!(r.status(), 204, "{path}: {}", r.text().await.unwrap());
    }
    // Warm node 2.
    within_bound("node 2 signs with ns1's tagged key", || async {
        sign_as(n2, "ns1~op", OPERATOR, "k", "EdDSA").await.0 == 200
    })
    .await;
    let ns1_before = signed(n2, "ns1~op", OPERATOR, "k", "EdDSA").await;
    assert!(openssl_verifies(dir.path(), &ns1_pem, "EdDSA", &ns1_before));
    let root_before = signed(n2, "op", OPERATOR, "k", "EdDSA").await;
    assert!(openssl_verifies(
        dir.path(),
        &root_pem,
        "EdDSA",
        &root_before
    ));
    assert_ne!(ns1_before, root_before);
    assert_eq!(public_pem(n2, "ns1~admin", NS_ADMIN, "k").await, ns1_pem);

    // Refused, changing nothing: ns1's own Administrator, an Operator, no credentials, an
    // invalid id, a namespace that does not exist.
    assert_eq!(
        delete_namespace(n1, "ns1~admin", NS_ADMIN, "ns1").await,
        403
    );
    assert_eq!(delete_namespace(n1, "op", OPERATOR, "ns1").await, 403);
    assert_eq!(n1.delete("/namespaces/ns1").answer().await.status(), 401);
    let r = n1
        .as_admin(Method::DELETE, "/namespaces/~bad")
        .answer()
        .await;
    nethsm_error(r, 400, "Invalid namespace ID.").await;
    let r = n1
        .as_admin(Method::DELETE, "/namespaces/ns9")
        .answer()
        .await;
    nethsm_error(r, 404, "Namespace not found.").await;
    assert_eq!(
        signed(n2, "ns1~op", OPERATOR, "k", "EdDSA").await,
        ns1_before
    );

    // Node 1 deletes ns1.
    assert_eq!(delete_namespace(n1, "admin", ADMIN, "ns1").await, 204);
    within_bound(
        "a namespace deleted on node 1: its Operator refused on node 2",
        || async { sign_as(n2, "ns1~op", OPERATOR, "k", "EdDSA").await.0 == 401 },
    )
    .await;
    assert_eq!(get_status(n2, "ns1~admin", NS_ADMIN, "/keys/k").await, 401);
    // Gone from node 2's view and from etcd: the namespace, its users, its keys.
    assert!(!namespaces(n2).await.contains(&"ns1".to_owned()));
    let r = n2
        .as_admin(Method::DELETE, "/namespaces/ns1")
        .answer()
        .await;
    nethsm_error(r, 404, "Namespace not found.").await;
    let users = n2.admin_json("/users").await;
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .all(|u| !u["user"].as_str().unwrap().starts_with("ns1~")),
        "{users}"
    );
    let left: Vec<String> = dump(&etcd)
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.contains("ns1"))
        .collect();
    assert!(left.is_empty(), "ns1 left in etcd: {left:?}");
    // Root's key with the same id is untouched, on both nodes.
    for s in [n1, n2] {
        assert_eq!(signed(s, "op", OPERATOR, "k", "EdDSA").await, root_before);
        assert_eq!(public_pem(s, "admin", ADMIN, "k").await, root_pem);
    }

    // ns1 made again, with a new Administrator and a new key `k`, on node 2; ns2 with a key
    // `k` of its own, on node 1. The old Operator's credentials reach none of them.
    const NS_ADMIN2: &str = "new ns1 admin passphrase";
    n2.create_user(Some("ns1~admin2"), "Administrator", NS_ADMIN2)
        .await;
    create_namespace(n2, "ns1").await;
    generate(n2, "ns1~admin2", NS_ADMIN2, ed25519("k")).await;
    n1.create_user(Some("ns2~admin"), "Administrator", NS_ADMIN)
        .await;
    n1.create_user(Some("ns2~op"), "Operator", OPERATOR).await;
    create_namespace(n1, "ns2").await;
    generate(n1, "ns2~admin", NS_ADMIN, ed25519("k")).await;
    within_bound("node 1 reads the new ns1's key", || async {
        get_status(n1, "ns1~admin2", NS_ADMIN2, "/keys/k/public.pem").await == 200
    })
    .await;
    let new_pem = public_pem(n1, "ns1~admin2", NS_ADMIN2, "k").await;
    let ns2_pem = public_pem(n2, "ns2~admin", NS_ADMIN, "k").await;
    assert_ne!(new_pem, ns1_pem);
    assert_ne!(ns2_pem, ns1_pem);
    after_a_refusal().await;
    for s in [n1, n2] {
        assert_eq!(sign_as(s, "ns1~op", OPERATOR, "k", "EdDSA").await.0, 401);
        assert_eq!(get_status(s, "ns1~admin", NS_ADMIN, "/keys/k").await, 401);
    }
    // ns2's Operator signs with ns2's key, the old ns1 key nowhere.
    for s in [n1, n2] {
        let signature = signed(s, "ns2~op", OPERATOR, "k", "EdDSA").await;
        assert!(openssl_verifies(dir.path(), &ns2_pem, "EdDSA", &signature));
        assert!(!openssl_verifies(dir.path(), &ns1_pem, "EdDSA", &signature));
    }
    // An Operator of the same id made again in the new ns1, with another passphrase: the old
    // passphrase is refused (node 2 had it cached), the new one signs with the new key only.
    after_a_refusal().await;
    let r = n1
        .put("/users/ns1~op")
        .basic_auth("ns1~admin2", Some(NS_ADMIN2))
        .json(&json!({"realName": "new ns1 operator", "role": "Operator", "passphrase": "new ns1 operator passphrase"}))
        .answer()
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    for s in [n1, n2] {
        assert_eq!(sign_as(s, "ns1~op", OPERATOR, "k", "EdDSA").await.0, 401);
    }
    after_a_refusal().await;
    for s in [n1, n2] {
        let (status, signature) =
            sign_as(s, "ns1~op", "new ns1 operator passphrase", "k", "EdDSA").await;
        assert_eq!(status, 200);
        assert!(openssl_verifies(dir.path(), &new_pem, "EdDSA", &signature));
        assert!(!openssl_verifies(dir.path(), &ns1_pem, "EdDSA", &signature));
    }
    // Root's key, still untouched.
    for s in [n1, n2] {
        assert_eq!(signed(s, "op", OPERATOR, "k", "EdDSA").await, root_before);
    }
}
