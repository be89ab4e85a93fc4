//! A backup larger than one etcd transaction (etcd's default limits: 128 operations, 1.5 MiB)
//! restores into a cluster: a single node's backup of a few thousand keys goes through one
//! node of an empty cluster, and every node serves all of it once unlocked (the store's
//! generations, `crates/store/src/etcd/generation.rs`). Built only with the feature
//! `etcd-test` (`cargo test -p strongroom --features etcd-test --test api
//! cluster_backup_large`).

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use strongroom_store::Store;
use strongroom_store::etcd::test_member::Etcd;
use strongroom_store::etcd::{DEFAULT_MAX_TXN_OPS, EtcdStore};

use super::cluster::{node, within_bound};
use crate::common::keys::{OPERATOR, OPERATOR_PASS, public_pem, signature};
use crate::common::*;

const BACKUP_PASS: &str = "the backup passphrase";
const BACKUP_USER: &str = "bk";
const BACKUP_USER_PASS: &str = "backup user passphrase";
/// Keys generated: each is a key record and an audit event in the backup, so several
/// thousand records, far over etcd's 128 operations a transaction.
const KEYS: usize = 2000;
/// base64 of the bytes signed before and after.
const MESSAGE: &str = "bGFyZ2UgY2x1c3RlciByZXN0b3Jl";

fn key_id(i: usize) -> String {
    format!("k{i:04}")
}

/// The ids `GET /keys` lists on `s`.
async fn key_ids(s: &Server) -> Vec<String> {
    let r = s.as_admin(Method::GET, "/keys").answer().await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body.as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_backup_past_etcds_limits_restores_into_a_cluster() {
    let single = Server::start();
    single.provision().await;
    single
        .create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    single
        .create_user(Some(BACKUP_USER), "Backup", BACKUP_USER_PASS)
        .await;
    futures_util::stream::iter(0..KEYS)
        .for_each_concurrent(8, |i| {
            let single = &single;
            async move {
                let r = single
                    .as_admin(Method::POST, "/keys/generate")
                    .json(&json!({"mechanisms": ["EdDSA_Signature"], "type": "Curve25519", "id": key_id(i)}))
                    .answer()
                    .await;
                assert_eq!(r.status(), 201, "generate: {}", r.text().await.unwrap());
            }
        })
        .await;
    single.set_backup_passphrase(BACKUP_PASS, "").await;
    let last = key_id(KEYS - 1);
    let signed = signature(&single, &last, "EdDSA", MESSAGE).await;
    let pem = public_pem(&single, &last).await;
    let file = single.backup(BACKUP_USER, BACKUP_USER_PASS).await;
    eprintln!("large backup: {} bytes", file.len());

    // An empty cluster of two nodes, each told etcd's default limits: the restore through
    // node 1 cannot be one transaction.
    let etcd = vec![Etcd::start()];
    let n1 = node(&etcd);
    let n2 = node(&etcd);
    assert_eq!(n1.state().await, "Unprovisioned");
    let r = n1.restore(file.clone(), BACKUP_PASS, None).await;
    assert_eq!(r.status(), 204, "restore: {}", r.text().await.unwrap());
    assert_eq!(n1.state().await, "Locked");
    within_bound("a large restore on node 1 makes node 2 Locked", || async {
        n2.state().await == "Locked"
    })
    .await;

    // It went through a new generation: etcd holds its keys, the pointer naming it, and
    // nothing of the layout before (generation 0).
    let raw = EtcdStore::open(&etcd[0].settings("")).unwrap();
    let keys: Vec<String> = raw
        .scan_prefix("")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(
        keys.len() > 2 * DEFAULT_MAX_TXN_OPS,
        "{} keys in etcd",
        keys.len()
    );
    assert!(
        keys.iter().any(|k| k.ends_with("\0generation")),
        "no generation pointer: the restore was one transaction"
    );
    let in_generation = keys.iter().filter(|k| k.contains("\0g/")).count();
    assert_eq!(in_generation, keys.len() - 1, "keys outside the generation");

    // Both nodes unlock with the backup's passphrase and serve everything: node 2, which
    // did not restore, lists every key, signs with the last as the single node did, and
    // logs the restored users in.
    for s in [&n1, &n2] {
        assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    }
    let ids = key_ids(&n2).await;
    assert_eq!(ids.len(), KEYS);
    assert!(ids.contains(&key_id(0)) && ids.contains(&last));
    assert_eq!(public_pem(&n2, &last).await, pem);
    assert_eq!(signature(&n2, &last, "EdDSA", MESSAGE).await, signed);
    assert_eq!(
        signature(&n1, &key_id(0), "EdDSA", MESSAGE).await,
        signature(&single, &key_id(0), "EdDSA", MESSAGE).await
    );
    let r = n2
        .get(&format!("/users/{OPERATOR}"))
        .basic_auth(OPERATOR, Some(OPERATOR_PASS))
        .answer()
        .await;
    assert!(r.status() == 200 || r.status() == 403, "{}", r.status());
    let r = n2
        .get(&format!("/users/{OPERATOR}"))
        .basic_auth(OPERATOR, Some("not the passphrase"))
        .answer()
        .await;
    assert_eq!(r.status(), 401);
    after_rate_limit_window(&n2).await;
    let report = audit_verify(&n2).await;
    assert_eq!(report["verified"], true, "the audit chain: {report}");
    // Writes after the restore land in the new generation, seen by the other node.
    n1.create_user(Some("after"), "Operator", "after restore passphrase")
        .await;
    within_bound(
        "a user created after the restore reaches node 2",
        || async {
            n2.get("/users/after")
                .basic_auth("after", Some("after restore passphrase"))
                .answer()
                .await
                .status()
                != 401
        },
    )
    .await;

    // A root Administrator's large restore into the running cluster, once locked and
    // unlocked (so the lock record exists, and gets a new revision in the new generation):
    // it replaces the user data on every node and locks none.
    n2.lock().await;
    within_bound("a lock on node 2 locks node 1", || async {
        n1.state().await == "Locked"
    })
    .await;
    for s in [&n1, &n2] {
        assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    }
    let r = n1.restore(file, BACKUP_PASS, Some(("admin", ADMIN))).await;
    assert_eq!(r.status(), 204, "restore: {}", r.text().await.unwrap());
    within_bound(
        "a user the restore removed is refused on node 2",
        || async {
            n2.get("/users/after")
                .basic_auth("after", Some("after restore passphrase"))
                .answer()
                .await
                .status()
                == 401
        },
    )
    .await;
    after_rate_limit_window(&n2).await;
    for s in [&n1, &n2] {
        assert_eq!(s.state().await, "Operational");
    }
    assert_eq!(signature(&n2, &last, "EdDSA", MESSAGE).await, signed);
    assert_eq!(key_ids(&n1).await.len(), KEYS);
}
