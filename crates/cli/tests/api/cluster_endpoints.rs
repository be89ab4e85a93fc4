//! Cluster mode on an external etcd named by several endpoints (`--store etcd://A,B,C`) with
//! one of them dead: the etcd client balances requests over every endpoint it is given, so
//! some go to the dead one first; every request must still be answered through the live
//! members, on every face, never with a 500. Built only with the feature `etcd-test`
//! (`cargo test -p strongroom --features etcd-test --test api cluster_endpoints`).

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::{Method, Response};
use serde_json::json;
use strongroom_store::etcd::test_member::Etcd;

use super::cluster::{cluster, node, random_status};
use crate::common::*;

/// Rounds of the request mix per node with the member stopped: enough that each node sends
/// well over a hundred etcd calls, so the balancer picks the dead endpoint many times.
const ROUNDS: usize = 8;

/// The answer's status, with what a failure message needs.
async fn expect(r: Response, want: u16, what: &str) -> Response {
    let status = r.status().as_u16();
    if status != want {
        let body = r.text().await.unwrap_or_default();
        panic!("{what}: {status} (wanted {want}) {body}");
    }
    r
}

async fn qsdk_login(s: &Server, user: &str, pass: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(pass);
    let r = s
        .backup_client(Method::POST, "Login")
        .json(&json!({"username": user, "password": b64, "mode": 4, "deviceId": "test", "clientType": 30}))
        .answer()
        .await;
    let r = expect(r, 200, "QSDK Login").await;
    let body: serde_json::Value = r.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// The request mix of one round on node `s`, each request expected to succeed: NetHSM reads
/// (a cached verification, a user read) and writes (a user created, its passphrase changed, a
/// key signing), an appliance session made, used and ended, a backup-client token made, used
/// and ended. Together they read and write etcd in every way a node does (gets, scans of the
/// session records, compare-and-swap commits).
async fn round(s: &Server, i: usize, tag: &str) {
    let what = |w: &str| format!("node {i} round {tag}: {w}");
    assert_eq!(
        random_status(s, "op", "operator passphrase").await,
        200,
        "{}",
        what("/random")
    );
    let user = format!("u{i}x{tag}");
    expect(
        s.as_admin(Method::PUT, &format!("/users/{user}"))
            .json(&json!({"realName": user, "role": "Operator", "passphrase": "first passphrase of it"}))
            .answer()
            .await,
        201,
        &what("user created"),
    )
    .await;
    expect(
        s.as_admin(Method::POST, &format!("/users/{user}/passphrase"))
            .json(&json!({"passphrase": "second passphrase of it"}))
            .answer()
            .await,
        204,
        &what("passphrase changed"),
    )
    .await;
    expect(
        s.as_admin(Method::GET, &format!("/users/{user}"))
            .answer()
            .await,
        200,
        &what("user read"),
    )
    .await;
    expect(
        s.post("/keys/k1/sign")
            .basic_auth("op", Some("operator passphrase"))
            .json(&json!({"mode": "EdDSA", "message": "aGVsbG8="}))
            .answer()
            .await,
        200,
        &what("sign"),
    )
    .await;

    // Appliance face: a session made (a session record written, the user's others scanned),
    // used (read) and ended (deleted).
    let r = expect(
        s.appliance(Method::POST, "/session")
            .basic_auth("admin", Some(ADMIN))
            .answer()
            .await,
        200,
        &what("appliance login"),
    )
    .await;
    let sid = r.json::<serde_json::Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect(
        s.dr(&sid, Method::GET, "/session").answer().await,
        200,
        &what("appliance session read"),
    )
    .await;
    expect(
        s.dr(&sid, Method::GET, "/appliance/settings/time")
            .answer()
            .await,
        200,
        &what("appliance time settings"),
    )
    .await;
    let r = s.dr(&sid, Method::DELETE, "/session").answer().await;
    assert!(
        r.status().is_success(),
        "{}: {}",
        what("appliance logout"),
        r.status()
    );

    // Backup-client face: a token made, used and ended.
    let token = qsdk_login(s, "admin", ADMIN).await;
    expect(
        s.backup_client(Method::GET, "Client")
            .header("Authtoken", &token)
            .answer()
            .await,
        200,
        &what("QSDK Client"),
    )
    .await;
    expect(
        s.backup_client(Method::POST, "Logout")
            .header("Authtoken", &token)
            .answer()
            .await,
        200,
        &what("QSDK Logout"),
    )
    .await;
}

/// Three etcd members, every node given all three endpoints; one member stopped: nodes
/// started before the stop and a node started after it (its first connection to the dead
/// endpoint never made) serve the whole request mix on every face, every request answered
/// through the live members.
#[tokio::test]
async fn a_dead_endpoint_among_several_costs_no_request() {
    let mut etcd = Etcd::cluster(3);
    let mut nodes = cluster(&etcd, 2).await;
    nodes[0]
        .create_user(Some("op"), "Operator", "operator passphrase")
        .await;
    let r = nodes[0]
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"mechanisms": ["EdDSA_Signature"], "type": "Curve25519", "id": "k1"}))
        .answer()
        .await;
    expect(r, 201, "key generated").await;
    // Every node has a live connection to every member: the stop below breaks one of them
    // under each node, as a member crashing would.
    for (i, s) in nodes.iter().enumerate() {
        round(s, i, "before").await;
    }

    etcd[1].stop();
    let late = node(&etcd);
    assert_eq!(late.state().await, "Locked");
    expect(late.unlock(UNLOCK).await, 204, "the late node's unlock").await;
    nodes.push(late);

    for n in 0..ROUNDS {
        for (i, s) in nodes.iter().enumerate() {
            round(s, i, &n.to_string()).await;
        }
    }
    for s in &nodes {
        assert_eq!(s.state().await, "Operational");
        assert!(
            !s.log().contains("internal error"),
            "a request failed inside: {}",
            s.log()
        );
    }
}

/// The freshness of the members' health answers (docs/cluster.md, "Polling the members'
/// health"); the server's constant, repeated here as the documented figure.
const HEALTH_FRESH_FOR: Duration = Duration::from_secs(1);

/// How many rounds of health checks the node has run (its metrics).
async fn health_rounds(s: &Server) -> u64 {
    let r = s
        .get("/metrics")
        .basic_auth("metrics", Some("metrics passphrase"))
        .answer()
        .await;
    let r = expect(r, 200, "metrics").await;
    let m: serde_json::Value = r.json().await.unwrap();
    m.get("cluster_member_health_rounds_total")
        .map_or(0, |v| v.as_str().unwrap().parse().unwrap())
}

async fn members_all_healthy(s: &Server) {
    let r = expect(
        s.as_admin(Method::GET, "/cluster/members").answer().await,
        200,
        "GET /cluster/members",
    )
    .await;
    let members: Vec<serde_json::Value> = r.json().await.unwrap();
    assert_eq!(members.len(), 3);
    assert!(members.iter().all(|m| m["healthy"] == true), "{members:?}");
}

/// Polling `GET /cluster/members` cannot multiply the members' Status calls: two calls in
/// quick succession, and eight at once, make one round of health checks each (counted by
/// the node's metrics, not timed). Each trial starts once the last round's answers are
/// stale, so its first call must ask; a trial counts only if all its calls were answered
/// within the freshness (else it proves nothing either way and is tried again).
#[tokio::test]
async fn polling_the_members_health_asks_the_members_once_a_second_at_most() {
    let etcd = Etcd::cluster(3);
    let nodes = cluster(&etcd, 1).await;
    let s = &nodes[0];
    s.create_user(Some("metrics"), "Metrics", "metrics passphrase")
        .await;

    for burst in [2usize, 8] {
        let mut proved = false;
        for _ in 0..10 {
            tokio::time::sleep(HEALTH_FRESH_FOR + Duration::from_millis(100)).await;
            let before = health_rounds(s).await;
            let start = Instant::now();
            if burst == 2 {
                members_all_healthy(s).await;
                members_all_healthy(s).await;
            } else {
                let calls: Vec<_> = (0..burst).map(|_| members_all_healthy(s)).collect();
                futures_util::future::join_all(calls).await;
            }
            let took = start.elapsed();
            let rounds = health_rounds(s).await - before;
            if took < HEALTH_FRESH_FOR {
                assert_eq!(rounds, 1, "{burst} calls within {took:?}");
                proved = true;
                break;
            }
            assert!((1..=burst as u64).contains(&rounds), "{rounds} rounds");
        }
        assert!(
            proved,
            "{burst} calls were never answered within {HEALTH_FRESH_FOR:?} on this machine"
        );
    }
}
