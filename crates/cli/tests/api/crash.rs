//! A crash in the middle of provisioning leaves the node Unprovisioned or fully provisioned,
//! never half-written.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn kill_9_during_provisioning() {
    let mut outcomes = (0, 0);
    for delay_ms in [0u64, 5, 15, 30, 50, 80, 120, 170, 250, 400] {
        let mut s = Server::start();
        let body =
            json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": TIME});
        let request = s.post("/provision").json(&body).send();
        let in_flight = tokio::spawn(request);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        s.kill();
        let _ = in_flight.await;

        s.start_again();
        match s.state().await.as_str() {
            "Unprovisioned" => {
                outcomes.0 += 1;
                s.provision().await;
            }
            "Locked" => {
                outcomes.1 += 1;
                assert_eq!(s.unlock(UNLOCK).await.status(), 204, "delay {delay_ms}");
            }
            other => panic!("after kill -9 at {delay_ms} ms the node is {other}"),
        }
        // Either way the node is now whole: the admin works.
        let r = s
            .get("/system/info")
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "delay {delay_ms}");
    }
    eprintln!(
        "unprovisioned after crash: {}, provisioned: {}",
        outcomes.0, outcomes.1
    );
}
