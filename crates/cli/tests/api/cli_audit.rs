//! `strongroom audit ...` and `strongroom metrics` (docs/cli.md, "Audit trail and metrics"):
//! the trail listed with filters and its chain verified, also after tampering with the store;
//! the counters as a table, JSON and raw Prometheus; the real binary against a real server.

use serde_json::Value;
use strongroom_store::Store;
use strongroom_store::redb::RedbStore;

use crate::common::cli::*;
use crate::common::*;

const METRICS_PASS: &str = "metrics passphrase for tests";
const OPERATOR_PASS: &str = "operator passphrase for tests";

/// The server's address and fingerprint, apart from the `Server` (which is restarted).
type At = (String, String);

fn with<'a>(at: &'a At, user: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("STRONGROOM_SERVER", at.0.as_str()),
        ("STRONGROOM_FINGERPRINT", at.1.as_str()),
        ("STRONGROOM_USER", user),
        ("STRONGROOM_PASSWORD", password),
    ]
}

fn seqs(list: &Value) -> Vec<u64> {
    (list["events"].as_array().unwrap().iter())
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn audit_list_filters_verify_and_metrics() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some("mx"), "Metrics", METRICS_PASS).await;
    s.create_user(Some("op"), "Operator", OPERATOR_PASS).await;
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let at: At = (s.base.clone(), s.fingerprint.clone());
    let s_ = &at;
    let admin = with(s_, "admin", ADMIN);
    let op = with(s_, "op", OPERATOR_PASS);
    // Events: a success, a denial (wrong role), a failed login.
    ok(&cli(c, &admin, &["namespaces", "add", "branch1"]).await);
    fails(&cli(c, &op, &["namespaces", "add", "branch2"]).await, 5);
    fails(
        &cli(c, &with(s_, "op", "wrong"), &["random", "8", "--hex"]).await,
        4,
    );
    after_rate_limit_window(&s).await;

    // Everything, for scripts: the trail's own fields, in order.
    let all = json_of(&cli(c, &admin, &["audit", "list", "--limit", "0", "--json"]).await);
    let all_seqs = seqs(&all);
    assert!(all_seqs.len() >= 4, "{all}");
    assert!(
        all_seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "{all_seqs:?}"
    );
    assert_eq!(all["unreadable"], serde_json::json!([]));
    let first = &all["events"][0];
    assert_eq!(first["action"], "POST /api/v1/provision");
    assert!(first["hash"].is_string() && first["prevHash"].is_string());

    // Filters: by actor, outcome, face, action text; --after and --limit page.
    let by_admin = json_of(
        &cli(
            c,
            &admin,
            &[
                "audit",
                "list",
                "--actor",
                "admin",
                "--action",
                "/namespaces/",
                "--json",
            ],
        )
        .await,
    );
    let events = by_admin["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{by_admin}");
    assert_eq!(events[0]["action"], "PUT /api/v1/namespaces/{NamespaceID}");
    assert_eq!(events[0]["target"], "/api/v1/namespaces/branch1");
    assert_eq!(events[0]["outcome"], "success");
    let denied = json_of(
        &cli(
            c,
            &admin,
            &[
                "audit",
                "list",
                "--outcome",
                "denied",
                "--face",
                "nethsm",
                "--json",
            ],
        )
        .await,
    );
    let denied = denied["events"].as_array().unwrap();
    assert!(!denied.is_empty(), "{all}");
    assert!(
        denied
            .iter()
            .all(|e| e["outcome"] == "denied" && e["face"] == "nethsm")
    );
    assert!(denied.iter().any(|e| e["status"] == 403), "{denied:?}");
    let page = json_of(
        &cli(
            c,
            &admin,
            &["audit", "list", "--after", "1", "--limit", "2", "--json"],
        )
        .await,
    );
    assert_eq!(seqs(&page), vec![2, 3]);
    let none = ok(&cli(
        c,
        &admin,
        &["audit", "list", "--since", "2099-01-01T00:00:00Z"],
    )
    .await);
    assert_eq!(none, "no events\n");
    // For people: a table.
    let table = ok(&cli(c, &admin, &["audit", "list", "--actor", "admin"]).await);
    assert!(table.starts_with("SEQ "), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("PUT /api/v1/namespaces/{NamespaceID}")
                && l.contains("/api/v1/namespaces/branch1")
                && l.contains("success")),
        "{table}"
    );

    // Verify: whole.
    let out = ok(&cli(c, &admin, &["audit", "verify"]).await);
    assert!(
        out.starts_with("verified: ") && out.ends_with(" events\n"),
        "{out}"
    );
    let j = json_of(&cli(c, &admin, &["audit", "verify", "--json"]).await);
    assert_eq!(j["verified"], true);

    // Metrics: as the Metrics user, a table, JSON, and the Prometheus text as served.
    let mx = with(s_, "mx", METRICS_PASS);
    let table = ok(&cli(c, &mx, &["metrics"]).await);
    assert!(table.starts_with("METRIC "), "{table}");
    let j = json_of(&cli(c, &mx, &["metrics", "--json"]).await);
    let uptime = j["uptime_seconds"].as_str().expect("uptime");
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().next() == Some("uptime_seconds")),
        "{table}"
    );
    assert!(uptime.parse::<f64>().is_ok(), "{uptime}");
    let prom = ok(&cli(c, &mx, &["metrics", "--prometheus"]).await);
    assert!(prom.contains("# TYPE strongroom_uptime_seconds"), "{prom}");
    assert!(prom.contains("strongroom_auth_failures_total "), "{prom}");
    // Roles: the trail is the root Administrator's, the metrics the Metrics user's.
    fails(&cli(c, &op, &["audit", "list"]).await, 5);
    fails(&cli(c, &op, &["metrics"]).await, 5);
    fails(&cli(c, &admin, &["metrics", "--prometheus"]).await, 5);
    let stderr = fails(
        &cli(c, &admin, &["audit", "list", "--since", "yesterday"]).await,
        2,
    );
    assert!(stderr.contains("RFC 3339"), "{stderr}");

    // Tampered with, with the server stopped: verify says where it breaks, and exits 1.
    let event = "audit/events/00000000000000000003";
    s.terminate();
    {
        let store = RedbStore::open(&s.data_dir.join("strongroom.redb")).unwrap();
        let mut altered = store.get(event).unwrap().unwrap().value.clone();
        altered[30] ^= 0x40;
        store.put(event, &altered).unwrap();
    }
    s.start_again();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    // The port is new after the restart.
    let again: At = (s.base.clone(), s.fingerprint.clone());
    let admin = with(&again, "admin", ADMIN);
    let out = cli(c, &admin, &["audit", "verify"]).await;
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("NOT verified: 2 events verified, then the chain breaks at event 3: ")
            && text.contains("altered"),
        "{text}"
    );
    let listed = json_of(&cli(c, &admin, &["audit", "list", "--limit", "0", "--json"]).await);
    assert_eq!(listed["unreadable"], serde_json::json!([3]));
    let table = ok(&cli(c, &admin, &["audit", "list", "--limit", "0"]).await);
    assert!(
        table.contains("UNREADABLE (failed authentication"),
        "{table}"
    );
}
