//! A crash in the middle of provisioning leaves the node Unprovisioned or fully provisioned,
//! never half-written.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

/// Passphrases of a second provisioning, after a crash that left the node Unprovisioned.
const UNLOCK_AGAIN: &str = "second unlock passphrase for tests";
const ADMIN_AGAIN: &str = "second admin passphrase for tests";

/// When the server is killed, relative to `POST /provision`.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// Before the request is sent: the node must come back Unprovisioned.
    BeforeRequest,
    /// This long after the request is sent: either outcome, but a whole one.
    After(u64),
    /// After the 204: the node must come back provisioned.
    AfterAnswer,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Unprovisioned,
    Provisioned,
}

#[tokio::test]
async fn kill_9_during_provisioning() {
    // A provisioning left to finish first (which also says how long one takes here), so the
    // timed kills can be spread across its whole length, whatever the machine's speed.
    let mut plan = vec![Kill::AfterAnswer, Kill::BeforeRequest];
    plan.extend([0u64, 5, 15, 30, 50, 80, 120, 170, 250, 400].map(Kill::After));
    let mut seen = Vec::new();
    let mut i = 0;
    while i < plan.len() {
        let kill = plan[i];
        i += 1;
        let mut s = Server::start();
        let body =
            json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": TIME});
        let answered = match kill {
            Kill::BeforeRequest => {
                s.kill();
                false
            }
            Kill::After(ms) => {
                let in_flight = tokio::spawn(s.post("/provision").json(&body).send());
                tokio::time::sleep(Duration::from_millis(ms)).await;
                s.kill();
                // A 204 that arrived was sent before the kill: the provisioning was committed.
                matches!(in_flight.await, Ok(Ok(r)) if r.status() == 204)
            }
            Kill::AfterAnswer => {
                let started = std::time::Instant::now();
                s.provision().await;
                let ms = started.elapsed().as_millis() as u64;
                s.kill();
                plan.extend(
                    [30u64, 50, 65, 80, 90, 95, 100, 110].map(|pc| Kill::After(ms * pc / 100)),
                );
                true
            }
        };

        s.start_again();
        let outcome = match s.state().await.as_str() {
            "Unprovisioned" => Outcome::Unprovisioned,
            "Locked" => Outcome::Provisioned,
            other => panic!("after kill -9 ({kill:?}) the node is {other}"),
        };
        match kill {
            Kill::BeforeRequest => assert_eq!(outcome, Outcome::Unprovisioned),
            Kill::AfterAnswer => assert_eq!(outcome, Outcome::Provisioned),
            Kill::After(_) if answered => {
                assert_eq!(outcome, Outcome::Provisioned, "{kill:?}: a 204 was lost")
            }
            Kill::After(_) => {}
        }
        match outcome {
            Outcome::Unprovisioned => assert_nothing_left(&s, kill).await,
            Outcome::Provisioned => assert_whole(&s, kill).await,
        }
        seen.push((kill, outcome));
    }
    eprintln!("outcomes: {seen:?}");
}

/// Nothing of the crashed provisioning survived: provisioning again with other passphrases
/// works, and the crashed request's admin passphrase opens nothing.
async fn assert_nothing_left(s: &Server, kill: Kill) {
    let r = s
        .post("/provision")
        .json(
            &json!({"unlockPassphrase": UNLOCK_AGAIN, "adminPassphrase": ADMIN_AGAIN,
                      "systemTime": TIME}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{kill:?}: provision again");
    let info = |pass: &'static str| s.get("/system/info").basic_auth("admin", Some(pass)).send();
    assert_eq!(info(ADMIN_AGAIN).await.unwrap().status(), 200, "{kill:?}");
    assert_eq!(
        nethsm_error(info(ADMIN).await.unwrap(), 401, any_message()).await,
        "Authentication required.",
        "{kill:?}: the crashed request's admin passphrase"
    );
}

/// The crashed provisioning is whole: its unlock passphrase unlocks, its admin logs in.
async fn assert_whole(s: &Server, kill: Kill) {
    assert_eq!(s.unlock(UNLOCK).await.status(), 204, "{kill:?}: unlock");
    assert_eq!(s.state().await, "Operational", "{kill:?}");
    let r = s
        .get("/system/info")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{kill:?}: admin logs in");
}
