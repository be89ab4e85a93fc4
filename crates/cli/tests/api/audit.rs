//! The audit trail over HTTPS: every state-changing request leaves an event; the chain
//! verifies; an altered or deleted event is reported where the chain breaks.

use reqwest::Method;
use serde_json::{Value, json};
use strongroom_store::Store;
use strongroom_store::redb::RedbStore;

use crate::common::*;

async fn verify(s: &Server) -> Value {
    let r = s
        .own(Method::GET, "/audit/verify")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn all_events(s: &Server) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let r = s
            .own(Method::GET, &format!("/audit?after={after}&limit=3"))
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next"].as_u64() {
            Some(n) => after = n,
            None => return events,
        }
    }
}

#[tokio::test]
async fn every_state_change_is_recorded_and_the_chain_verifies() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some("frank"), "Operator", "frank's passphrase")
        .await;
    let r = s
        .post("/users/frank/passphrase")
        .basic_auth("frank", Some("frank's passphrase"))
        .json(&json!({"passphrase": "frank's second one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let denied = s
        .delete("/users/frank")
        .basic_auth("frank", Some("frank's second one"))
        .send()
        .await
        .unwrap();
    let denied_id = denied.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    nethsm_error(denied, 403, "Access denied.").await;
    s.lock().await;
    // Recorded while Locked, appended at unlock.
    let r = s.unlock("a wrong unlock passphrase").await;
    nethsm_error(r, 403, "Unlock failed: the passphrase is incorrect.").await;
    after_rate_limit_window(&s).await;
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    // Reads are not state changes.
    let _ = s
        .get("/users")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();

    let events = all_events(&s).await;
    // A success is written with its change, before the answer (and its status) exists; the
    // failed unlock is counted (one event standing for one attempt) and written before the
    // next event.
    let summary: Vec<(String, String, Option<u64>)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
                e["status"].as_u64(),
            )
        })
        .collect();
    let expect = [
        ("POST /api/v1/provision", "success", None),
        ("PUT /api/v1/users/{UserID}", "success", None),
        ("POST /api/v1/users/{UserID}/passphrase", "success", None),
        ("DELETE /api/v1/users/{UserID}", "denied", Some(403)),
        ("POST /api/v1/lock", "success", None),
        ("POST /api/v1/unlock", "denied", Some(403)),
        ("POST /api/v1/unlock", "success", Some(204)),
    ];
    let expect: Vec<(String, String, Option<u64>)> = expect
        .iter()
        .map(|(a, o, st)| (a.to_string(), o.to_string(), *st))
        .collect();
    assert_eq!(summary, expect);
    let d = &events[3];
    assert_eq!(d["actor"], "frank");
    assert_eq!(d["face"], "nethsm");
    assert_eq!(d["target"], "/api/v1/users/frank");
    assert_eq!(d["requestId"], denied_id.as_str());
    assert_eq!(events[5]["count"], 1);
    assert_eq!(events[5]["target"], "from 127.0.0.1");
    assert_eq!(events[0]["prevHash"], "0".repeat(64));
    for pair in events.windows(2) {
        assert_eq!(pair[1]["prevHash"], pair[0]["hash"]);
        assert_eq!(
            pair[1]["seq"].as_u64(),
            pair[0]["seq"].as_u64().map(|n| n + 1)
        );
    }
    let text = serde_json::to_string(&events).unwrap();
    for secret in [
        ADMIN,
        UNLOCK,
        "frank's passphrase",
        "frank's second one",
        "a wrong unlock passphrase",
    ] {
        assert!(!text.contains(secret), "an audit event holds a secret");
    }
    assert_eq!(verify(&s).await, json!({"verified": true, "events": 7}));

    // Paging and input checks; only the root Administrator may read the trail.
    let r = s.own_as_admin(Method::GET, "/audit?limit=0").answer().await;
    own_error(r, 400, "limit must be between 1 and 1000").await;
    let r = s.own_as_admin(Method::GET, "/audit?after=x").answer().await;
    own_error(r, 400, starting("Failed to deserialize query string: ")).await;
    let r = s
        .own(Method::GET, "/audit/verify")
        .basic_auth("frank", Some("frank's second one"))
        .send()
        .await
        .unwrap();
    own_error(r, 403, "Access denied.").await;
    let r = s.own(Method::GET, "/audit").answer().await;
    own_error(r, 401, "Authentication required.").await;

    // Tampering with the stored trail, with the server stopped.
    let store_path = s.data_dir.join("strongroom.redb");
    let event4 = "audit/events/00000000000000000004";
    s.terminate();
    let original = {
        let store = RedbStore::open(&store_path).unwrap();
        let original = store.get(event4).unwrap().unwrap().value.clone();
        let mut altered = original.clone();
        altered[30] ^= 0x40;
        store.put(event4, &altered).unwrap();
        original
    };
    s.start_again();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let report = verify(&s).await;
    assert_eq!(report["verified"], false);
    assert_eq!(report["brokenAt"], 4);
    assert_eq!(report["events"], 3);
    assert!(report["reason"].as_str().unwrap().contains("altered"));

    s.terminate();
    {
        let store = RedbStore::open(&store_path).unwrap();
        store.put(event4, &original).unwrap();
        store.delete("audit/events/00000000000000000002").unwrap();
    }
    s.start_again();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let report = verify(&s).await;
    assert_eq!(report["verified"], false);
    assert_eq!(report["brokenAt"], 2);
    assert!(report["reason"].as_str().unwrap().contains("missing"));
}
