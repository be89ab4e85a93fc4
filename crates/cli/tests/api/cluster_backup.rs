//! Backup and restore across store kinds: a backup taken on a node of a cluster (etcd)
//! restores into a fresh single node (redb), and a single node's backup restores into a
//! cluster through the NetHSM restore endpoint; users, passphrases and keys survive both ways
//! (an Ed25519 key, deterministic, signs the same bytes after as before). Built only with
//! the feature `etcd-test` (`cargo test -p strongroom --features etcd-test --test api
//! cluster_backup`).

use reqwest::Method;
use serde_json::json;
use strongroom_store::etcd::test_member::Etcd;

use super::cluster::{cluster, node, random_status, set_passphrase, within_bound};
use crate::common::keys::{OPERATOR, OPERATOR_PASS, public_pem, signature};
use crate::common::*;

const BACKUP_PASS: &str = "the backup passphrase";
const BACKUP_USER: &str = "bk";
const BACKUP_USER_PASS: &str = "backup user passphrase";
/// base64 of the bytes signed before and after.
const MESSAGE: &str = "Y2x1c3RlciBiYWNrdXAgdGVzdA==";

/// What one side wrote, to be found on the other: users and their passphrases, and the
/// signature and public key of the Ed25519 key `k1`.
struct Written {
    users: Vec<(String, String)>,
    signature: String,
    pem: String,
}

/// On `writer` (and, for the passphrase change, `changer`): an Operator (the key tests'),
/// a Backup user, a user whose passphrase changed, an Ed25519 key and the backup
/// passphrase; the key signs `MESSAGE`.
async fn write_state(writer: &Server, changer: &Server) -> Written {
    writer
        .create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    writer
        .create_user(Some(BACKUP_USER), "Backup", BACKUP_USER_PASS)
        .await;
    writer
        .create_user(Some("changer"), "Operator", "changer first passphrase")
        .await;
    set_passphrase(changer, "changer", "changer second passphrase").await;
    let r = writer
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"mechanisms": ["EdDSA_Signature"], "type": "Curve25519", "id": "k1"}))
        .answer()
        .await;
    assert_eq!(r.status(), 201, "generate: {}", r.text().await.unwrap());
    writer.set_backup_passphrase(BACKUP_PASS, "").await;
    Written {
        users: vec![
            ("admin".into(), ADMIN.into()),
            (OPERATOR.into(), OPERATOR_PASS.into()),
            ("changer".into(), "changer second passphrase".into()),
        ],
        signature: signature(changer, "k1", "EdDSA", MESSAGE).await,
        pem: public_pem(changer, "k1").await,
    }
}

/// The status of `GET /users/{user}` as that user with `pass`: 401 if the passphrase is
/// refused; an authenticated role without read rights on users gets 403.
async fn login_status(s: &Server, user: &str, pass: &str) -> u16 {
    s.get(&format!("/users/{user}"))
        .basic_auth(user, Some(pass))
        .answer()
        .await
        .status()
        .as_u16()
}

/// `s` holds what `written` says: every user logs in with its passphrase (the changed
/// user's first one is refused), and `k1` is the same key, signing the same bytes.
async fn assert_holds(s: &Server, written: &Written) {
    for (user, pass) in &written.users {
        let status = login_status(s, user, pass).await;
        assert!(status == 200 || status == 403, "{user}: {status}");
    }
    assert_eq!(
        login_status(s, "changer", "changer first passphrase").await,
        401,
        "the passphrase changed before the backup stays refused"
    );
    after_rate_limit_window(s).await;
    assert_eq!(public_pem(s, "k1").await, written.pem);
    assert_eq!(
        signature(s, "k1", "EdDSA", MESSAGE).await,
        written.signature
    );
    let report = audit_verify(s).await;
    assert_eq!(report["verified"], true, "the audit chain: {report}");
}

/// A backup taken on node 2 of a cluster, of what nodes 1 and 2 wrote, restores into a
/// fresh single node.
#[tokio::test]
async fn a_cluster_backup_restores_into_a_single_node() {
    let etcd = vec![Etcd::start()];
    let nodes = cluster(&etcd, 2).await;
    let written = write_state(&nodes[0], &nodes[1]).await;
    let file = nodes[1].backup(BACKUP_USER, BACKUP_USER_PASS).await;

    let single = Server::start();
    let r = single.restore(file, BACKUP_PASS, None).await;
    assert_eq!(r.status(), 204, "restore: {}", r.text().await.unwrap());
    assert_eq!(single.state().await, "Locked");
    assert_eq!(single.unlock(UNLOCK).await.status(), 204);
    assert_holds(&single, &written).await;
}

/// A single node's backup restores into a cluster: onto an empty cluster through its first
/// node (which comes up Locked, as does every other node of the cluster), and onto a running
/// cluster, replacing its users and keys on every node (re-sealed under the cluster's own
/// domain key, so no node locks).
#[tokio::test]
async fn a_single_node_backup_restores_into_a_cluster() {
    let single = Server::start();
    single.provision().await;
    let written = write_state(&single, &single).await;
    let file = single.backup(BACKUP_USER, BACKUP_USER_PASS).await;

    // An empty cluster: the restore goes through its first node, the second joins Locked.
    let etcd = vec![Etcd::start()];
    let n1 = node(&etcd);
    let n2 = node(&etcd);
    assert_eq!(n1.state().await, "Unprovisioned");
    let r = n1.restore(file.clone(), BACKUP_PASS, None).await;
    assert_eq!(r.status(), 204, "restore: {}", r.text().await.unwrap());
    assert_eq!(n1.state().await, "Locked");
    within_bound("a restore on node 1 makes node 2 Locked", || async {
        n2.state().await == "Locked"
    })
    .await;
    for s in [&n1, &n2] {
        assert_eq!(s.unlock(UNLOCK).await.status(), 204);
        assert_holds(s, &written).await;
    }

    // A running cluster of its own: a root Administrator's restore replaces its user data.
    let etcd = vec![Etcd::start()];
    let nodes = cluster(&etcd, 2).await;
    nodes[0]
        .create_user(Some("cluster-only"), "Operator", "cluster only passphrase")
        .await;
    let r = nodes[0]
        .restore(file, BACKUP_PASS, Some(("admin", ADMIN)))
        .await;
    assert_eq!(r.status(), 204, "restore: {}", r.text().await.unwrap());
    // Node 2 follows: the restored users log in there, the cluster's own are gone.
    within_bound("a restore on node 1 reaches node 2", || async {
        random_status(&nodes[1], OPERATOR, OPERATOR_PASS).await == 200
    })
    .await;
    for s in &nodes {
        assert_eq!(s.state().await, "Operational");
        assert_holds(s, &written).await;
        assert_eq!(
            random_status(s, "cluster-only", "cluster only passphrase").await,
            401,
            "the restore replaced the cluster's users"
        );
        after_rate_limit_window(s).await;
    }
}
