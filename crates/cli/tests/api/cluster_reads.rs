//! Cluster reads without etcd: a node signs with its parsed key, without reading the key's
//! record, while its change feed is confirmed (`strongroom_core::cluster_sync`). A key
//! deleted, replaced or restricted on another node must still reach it within the bound
//! (docs/cluster.md): the feed drops the parse. Signatures are checked with openssl.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::json;
use strongroom_store::etcd::test_member::Etcd;

use crate::cluster::{cluster, within_bound};
use crate::common::*;

const OPERATOR: &str = "operator passphrase";
const MESSAGE: &[u8] = b"cluster reads: the message";

/// Node `s`'s answer to an Operator's EdDSA signature of [`MESSAGE`] with key `k`: the
/// status, and the signature when 200.
async fn sign(s: &Server) -> (u16, Option<Vec<u8>>) {
    let r = s
        .post("/keys/k/sign")
        .basic_auth("op", Some(OPERATOR))
        .json(&json!({"mode": "EdDSA", "message": STANDARD.encode(MESSAGE)}))
        .answer()
        .await;
    let status = r.status().as_u16();
    if status != 200 {
        return (status, None);
    }
    let body: serde_json::Value = r.json().await.unwrap();
    let signature = STANDARD
        .decode(body["signature"].as_str().expect("a signature"))
        .unwrap();
    (status, Some(signature))
}

async fn generate(s: &Server) {
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"mechanisms": ["EdDSA_Signature"], "type": "Curve25519", "id": "k"}))
        .answer()
        .await;
    assert_eq!(r.status(), 201, "generate: {}", r.text().await.unwrap());
}

async fn public_pem(s: &Server) -> String {
    let r = s.as_admin(Method::GET, "/keys/k/public.pem").answer().await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// Whether openssl finds `signature` a valid Ed25519 signature of [`MESSAGE`] under `pem`.
fn openssl_verifies(dir: &Path, pem: &str, signature: &[u8]) -> bool {
    std::fs::write(dir.join("pub.pem"), pem).unwrap();
    std::fs::write(dir.join("msg"), MESSAGE).unwrap();
    std::fs::write(dir.join("sig"), signature).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin",
        ])
        .args(["-in", "msg", "-sigfile", "sig"])
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    out.status.success()
}

/// Three members, two nodes. Node 2 signs with key `k` (its parse warm); node 1 restricts the
/// key to a tag the Operator lacks, deletes it, generates a new key under the same id: each
/// reaches node 2 (403, 404, then signatures openssl verifies under the new key only).
#[tokio::test]
async fn a_key_restricted_deleted_or_replaced_on_one_node_reaches_the_others() {
    let etcd = Etcd::cluster(3);
    let nodes = cluster(&etcd, 2).await;
    let (n1, n2) = (&nodes[0], &nodes[1]);
    let dir = tempfile::tempdir().unwrap();
    n1.create_user(Some("op"), "Operator", OPERATOR).await;
    generate(n1).await;
    let old = public_pem(n1).await;
    // Warm: node 2 parses the key once, then signs from its parse.
    for _ in 0..20 {
        let (status, signature) = sign(n2).await;
        assert_eq!(status, 200);
        assert!(openssl_verifies(dir.path(), &old, &signature.unwrap()));
    }

    // A tag on the key (a put of its record): the Operator, without it, is refused.
    let r = n1
        .as_admin(Method::PUT, "/keys/k/restrictions/tags/vault")
        .answer()
        .await;
    assert_eq!(r.status(), 204, "tag: {}", r.text().await.unwrap());
    within_bound(
        "a key restricted on node 1 is refused on node 2",
        || async { sign(n2).await.0 == 403 },
    )
    .await;
    let r = n1
        .as_admin(Method::DELETE, "/keys/k/restrictions/tags/vault")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    within_bound(
        "a key unrestricted on node 1 signs again on node 2",
        || async { sign(n2).await.0 == 200 },
    )
    .await;

    // Deleted on node 1: refused on node 2.
    let r = n1.as_admin(Method::DELETE, "/keys/k").answer().await;
    assert_eq!(r.status(), 204);
    within_bound("a key deleted on node 1 is refused on node 2", || async {
        sign(n2).await.0 == 404
    })
    .await;

    // Generated again under the same id: node 2 signs with the new key, never the old one.
    generate(n1).await;
    let new = public_pem(n1).await;
    assert_ne!(new, old);
    within_bound(
        "a key replaced on node 1 signs with the new key on node 2",
        || async { sign(n2).await.0 == 200 },
    )
    .await;
    for _ in 0..20 {
        let (status, signature) = sign(n2).await;
        assert_eq!(status, 200);
        let signature = signature.unwrap();
        assert!(openssl_verifies(dir.path(), &new, &signature));
        assert!(!openssl_verifies(dir.path(), &old, &signature));
    }
}
