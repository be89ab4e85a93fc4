//! The API tests move the server's clock ([`Server::advance_clock`]) rather than sleep: the
//! binary they run is built with strongroom-server's `test-clock` feature, which this crate's
//! dev-dependencies turn on. Were a test build without it, moving the clock would move
//! nothing; this test fails then, instead of the tests that move time failing for no clear
//! reason (or passing for the wrong one).

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::common::*;

async fn appliance_time(s: &Server) -> time::OffsetDateTime {
    let r = s
        .get("/config/time")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    time::OffsetDateTime::parse(
        v["time"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

fn appliance_session(s: &Server, method: Method) -> reqwest::RequestBuilder {
    s.client
        .request(method, format!("{}/api/rest/configure/v1/session", s.base))
}

#[tokio::test]
async fn the_server_runs_on_the_clock_the_tests_move() {
    let s = Server::start();
    s.provision().await;
    assert!(
        s.log().contains("feature test-clock"),
        "the server says it is a test build"
    );
    // An appliance session: 30 minutes of idle time by default.
    let r = appliance_session(&s, Method::POST)
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sid = r.json::<Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = appliance_time(&s).await;

    s.advance_clock(Duration::from_secs(31 * 60));
    let moved = appliance_time(&s).await - before;
    assert!(
        moved >= time::Duration::minutes(31) && moved < time::Duration::minutes(32),
        "the appliance's time moved by {moved}"
    );
    let r = appliance_session(&s, Method::GET)
        .header("x-dr-session", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the idle session ended");

    // Across a restart the clock stays where the test moved it.
    let mut s = s;
    let before = appliance_time(&s).await;
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let moved = appliance_time(&s).await - before;
    assert!(
        moved >= time::Duration::ZERO && moved < time::Duration::minutes(1),
        "after a restart the appliance's time moved by {moved}"
    );
}
