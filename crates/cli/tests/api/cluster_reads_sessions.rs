//! Cluster reads without etcd, continued: appliance sessions, backup-client (QSDK) tokens and
//! an Operator's tags answer from what the node follows of their records while its change
//! feed is confirmed (`strongroom_core::followed`, `cluster_sync`). "No round trip" is counted
//! by etcd itself (`grpc_server_started_total` of the KV methods on every member), as the
//! bench's cluster section does. A logout, an expiry or a tag removed on one node still
//! reaches the others within the bound (docs/cluster.md).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::json;
use strongroom_store::etcd::test_member::Etcd;

use crate::cluster::{
    appliance_session_status, cluster, node, qsdk_login, qsdk_status, random_status,
    set_passphrase, within_bound,
};
use crate::common::*;

const OPERATOR: &str = "operator passphrase";
/// Requests per counted phase.
const ROUNDS: u64 = 200;

/// The KV requests (`Range`, `Txn`, `Put`, `DeleteRange`) the members have received, by
/// etcd's own count.
fn etcd_kv_requests(members: &[Etcd]) -> u64 {
    members
        .iter()
        .map(|m| m.grpc_calls_started(&["Range", "Txn", "Put", "DeleteRange"]))
        .sum()
}

/// The etcd KV requests made while [`ROUNDS`] requests each answered `want`. Besides the
/// requests', they count the nodes' own probes (a health read a second and four sync points
/// a second on each node), so a phase whose requests cost none still counts a few.
async fn kv_cost<F, Fut>(members: &[Etcd], what: &str, want: u16, mut request: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let before = etcd_kv_requests(members);
    for _ in 0..ROUNDS {
        assert_eq!(request().await, want, "{what}");
    }
    let cost = etcd_kv_requests(members) - before;
    eprintln!("{what}: {cost} etcd KV requests for {ROUNDS} HTTP requests");
    cost
}

/// Whether a phase cost no etcd request per HTTP request: far fewer than one each (a read of
/// etcd per request would be at least [`ROUNDS`]); what remains is the nodes' probes.
fn no_round_trip(cost: u64) -> bool {
    cost < ROUNDS / 4
}

async fn sign_status(s: &Server) -> u16 {
    s.post("/keys/k/sign")
        .basic_auth("op", Some(OPERATOR))
        .json(&json!({"mode": "EdDSA", "message": STANDARD.encode(b"the message")}))
        .answer()
        .await
        .status()
        .as_u16()
}

async fn admin_status(s: &Server, method: Method, path: &str) -> u16 {
    s.as_admin(method, path).answer().await.status().as_u16()
}

/// Three members, two nodes. An appliance session and a QSDK token made on node 1 are used
/// on node 2 without a read of etcd per request, and a logout on node 1 ends them on node 2;
/// a session expired on node 2 ends on node 1 too. A tagged key signs on node 2 without
/// reading the Operator's record; the Operator's tag removed on node 1 is refused on node 2.
#[tokio::test]
async fn sessions_tokens_and_tags_answer_from_the_followed_records() {
    let etcd = Etcd::cluster(3);
    let nodes = cluster(&etcd, 2).await;
    let (n1, n2) = (&nodes[0], &nodes[1]);

    // Appliance session: warm on node 2 (one read of its record), then counted.
    let sid = n1.admin_session().await;
    assert_eq!(appliance_session_status(n2, &sid).await, 200);
    let cost = kv_cost(&etcd, "GET /session on node 2", 200, || {
        appliance_session_status(n2, &sid)
    })
    .await;
    assert!(
        no_round_trip(cost),
        "{cost} etcd requests for {ROUNDS} session reads"
    );
    let r = n1.dr(&sid, Method::DELETE, "/session").answer().await;
    assert!(r.status().is_success(), "logout: {}", r.status());
    within_bound("a logout on node 1 ends the session on node 2", || async {
        appliance_session_status(n2, &sid).await == 401
    })
    .await;
    assert_eq!(appliance_session_status(n1, &sid).await, 401);

    // Expiry: node 2's clock passes the idle time (30 minutes); node 1, its copy warm and its
    // clock behind, still ends the session once node 2 deleted it.
    let sid = n1.admin_session().await;
    assert_eq!(appliance_session_status(n1, &sid).await, 200);
    assert_eq!(appliance_session_status(n2, &sid).await, 200);
    n2.advance_clock(Duration::from_secs(31 * 60));
    assert_eq!(appliance_session_status(n2, &sid).await, 401);
    within_bound(
        "a session expired (and deleted) on node 2 ends on node 1",
        || async { appliance_session_status(n1, &sid).await == 401 },
    )
    .await;
    // The clocks agree again.
    n1.advance_clock(Duration::from_secs(31 * 60));

    // QSDK token: the same stored-session code as the appliance's. `GET Client` reads the
    // client list from etcd itself, so its count is printed (for the notes), not asserted.
    let token = qsdk_login(n1, "admin", ADMIN).await;
    assert_eq!(qsdk_status(n2, &token).await, 200);
    kv_cost(&etcd, "QSDK GET Client on node 2", 200, || {
        qsdk_status(n2, &token)
    })
    .await;
    let r = n1
        .backup_client(Method::POST, "Logout")
        .header("Authtoken", &token)
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    within_bound(
        "a QSDK logout on node 1 ends the token on node 2",
        || async { qsdk_status(n2, &token).await == 401 },
    )
    .await;

    // A tagged key and an Operator carrying the tag: node 2 signs without reading the
    // Operator's record.
    n1.create_user(Some("op"), "Operator", OPERATOR).await;
    assert_eq!(
        admin_status(n1, Method::PUT, "/users/op/tags/vault").await,
        204
    );
    let r = n1
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"mechanisms": ["EdDSA_Signature"], "type": "Curve25519", "id": "k"}))
        .answer()
        .await;
    assert_eq!(r.status(), 201, "generate: {}", r.text().await.unwrap());
    assert_eq!(
        admin_status(n1, Method::PUT, "/keys/k/restrictions/tags/vault").await,
        204
    );
    within_bound("node 2 signs with the tagged key", || async {
        sign_status(n2).await == 200
    })
    .await;
    let cost = kv_cost(&etcd, "tagged sign on node 2", 200, || sign_status(n2)).await;
    assert!(
        no_round_trip(cost),
        "{cost} etcd requests for {ROUNDS} tagged signatures"
    );
    // The Operator's tag removed on node 1: refused on node 2; given back: signs again.
    assert_eq!(
        admin_status(n1, Method::DELETE, "/users/op/tags/vault").await,
        204
    );
    within_bound(
        "a tag removed from the Operator on node 1 is refused on node 2",
        || async { sign_status(n2).await == 403 },
    )
    .await;
    assert_eq!(
        admin_status(n1, Method::PUT, "/users/op/tags/vault").await,
        204
    );
    within_bound(
        "a tag given back to the Operator on node 1 signs on node 2",
        || async { sign_status(n2).await == 200 },
    )
    .await;
}

/// Three members; node 2's only endpoint is member 3. Member 3 stopped and started again
/// breaks node 2's watch: a passphrase changed meanwhile on node 1 works on node 2, node 2's
/// session reads again need no etcd request (its feed confirmed again, with no restart of the
/// node), and a lock on node 1 then locks node 2 (which only its feed tells it).
#[tokio::test]
async fn a_broken_watch_comes_back_and_brings_what_it_missed() {
    let mut etcd = Etcd::cluster(3);
    let n1 = node(&etcd);
    n1.provision().await;
    let n2 = node(&etcd[2..]);
    assert_eq!(n2.unlock(UNLOCK).await.status(), 204);
    n1.create_user(Some("op"), "Operator", "operator passphrase one")
        .await;
    within_bound("node 2 knows the Operator", || async {
        random_status(&n2, "op", "operator passphrase one").await == 200
    })
    .await;

    etcd[2].stop();
    set_passphrase(&n1, "op", "operator passphrase two").await;
    etcd[2].launch_member();
    // A node whose store stayed away past the request timeout turned Failed, and comes back
    // Locked by itself (docs/cluster.md, "When etcd fails"): unlocked again, its watch is
    // the same one, resumed.
    crate::cluster::poll_until(
        "node 2 is back",
        crate::cluster::GIVE_UP,
        Duration::from_millis(50),
        || async { matches!(n2.state().await.as_str(), "Operational" | "Locked") },
    )
    .await;
    if n2.state().await == "Locked" {
        assert_eq!(n2.unlock(UNLOCK).await.status(), 204);
    }
    within_bound(
        "a passphrase changed while node 2's member was away works on node 2",
        || async { random_status(&n2, "op", "operator passphrase two").await == 200 },
    )
    .await;

    // Trust is back: session reads on node 2 cost no etcd request.
    let sid = n1.admin_session().await;
    within_bound("node 2 reads the session", || async {
        appliance_session_status(&n2, &sid).await == 200
    })
    .await;
    // Until the feed is confirmed again (a few sync points after the member's return).
    crate::cluster::poll_until(
        "node 2 reads its sessions without etcd",
        crate::cluster::GIVE_UP,
        Duration::from_millis(100),
        || async {
            let cost = kv_cost(&etcd, "GET /session on node 2 after the break", 200, || {
                appliance_session_status(&n2, &sid)
            })
            .await;
            no_round_trip(cost)
        },
    )
    .await;

    // A lock on node 1 reaches node 2 through its feed.
    n1.lock().await;
    within_bound("a lock on node 1 locks node 2 after the break", || async {
        n2.state().await == "Locked"
    })
    .await;
}
