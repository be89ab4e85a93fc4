//! Bad input gets its documented code, in the documented order of checks, and leaves the
//! state unchanged.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

fn provision_body(unlock: &str, admin: &str, time: &str) -> Value {
    json!({"unlockPassphrase": unlock, "adminPassphrase": admin, "systemTime": time})
}

#[tokio::test]
async fn provision_refuses_bad_input_and_stays_unprovisioned() {
    let s = Server::start();
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("short unlock passphrase", s.post("/provision").json(&provision_body("123456789", ADMIN, TIME)), 400),
        ("long admin passphrase", s.post("/provision").json(&provision_body(UNLOCK, &"a".repeat(201), TIME)), 400),
        ("empty admin passphrase", s.post("/provision").json(&provision_body(UNLOCK, "", TIME)), 400),
        ("time not in UTC", s.post("/provision").json(&provision_body(UNLOCK, ADMIN, "2026-11-23T12:00:00+02:00")), 400),
        ("time without zone", s.post("/provision").json(&provision_body(UNLOCK, ADMIN, "2026-11-23T12:00:00")), 400),
        ("malformed time", s.post("/provision").json(&provision_body(UNLOCK, ADMIN, "yesterday")), 400),
        ("time of wrong type", s.post("/provision").json(&json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": 17})), 400),
        ("unknown field", s.post("/provision").json(&json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": TIME, "extra": 1})), 400),
        ("missing field", s.post("/provision").json(&json!({"unlockPassphrase": UNLOCK, "systemTime": TIME})), 400),
        ("malformed JSON", s.post("/provision").header("content-type", "application/json").body("{\"unlockPassphrase\": "), 400),
        ("empty body", s.post("/provision"), 400),
        ("wrong Accept", s.post("/provision").header("accept", "text/plain").json(&provision_body(UNLOCK, ADMIN, TIME)), 406),
        ("body over 1 MiB", s.post("/provision").header("content-type", "application/json").body(vec![b' '; 1024 * 1024 + 1]), 413),
        ("over 1 MiB beats wrong Accept", s.post("/provision").header("accept", "text/plain").body(vec![b' '; 1024 * 1024 + 1]), 413),
    ];
    for (what, request, want) in cases {
        let r = request.send().await.unwrap();
        let message = assert_error(r, want).await;
        assert!(
            !message.contains(ADMIN) && !message.contains(UNLOCK),
            "{what}: message echoes a secret"
        );
        assert_eq!(s.state().await, "Unprovisioned", "{what} changed the state");
    }

    let r = s.get("/provision").send().await.unwrap();
    assert_eq!(r.headers()["allow"], "POST");
    assert_error(r, 405).await;
    let r = s
        .request(Method::from_bytes(b"BREW").unwrap(), "/provision")
        .send()
        .await
        .unwrap();
    assert_error(r, 501).await;
    assert_error(s.get("/no/such/thing").send().await.unwrap(), 404).await;
    assert_eq!(s.state().await, "Unprovisioned");

    // A 1 MiB body (exactly the limit) is read, and refused only for its content.
    let r = s
        .post("/provision")
        .body(vec![b' '; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_error(r, 400).await;
    s.provision().await;
}

#[tokio::test]
async fn unlock_refuses_bad_input_and_stays_locked() {
    let mut s = Server::start();
    s.provision().await;
    s.restart();
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "short passphrase",
            s.post("/unlock").json(&json!({"passphrase": "short"})),
            400,
        ),
        (
            "long passphrase",
            s.post("/unlock")
                .json(&json!({"passphrase": "a".repeat(201)})),
            400,
        ),
        (
            "unknown field",
            s.post("/unlock")
                .json(&json!({"passphrase": UNLOCK, "x": true})),
            400,
        ),
        (
            "wrong type",
            s.post("/unlock").json(&json!({"passphrase": 1234567890})),
            400,
        ),
        ("malformed JSON", s.post("/unlock").body("passphrase"), 400),
        (
            "wrong Accept",
            s.post("/unlock")
                .header("accept", "application/xml")
                .json(&json!({"passphrase": UNLOCK})),
            406,
        ),
        (
            "over 1 MiB",
            s.post("/unlock").body(vec![b'x'; 2 * 1024 * 1024]),
            413,
        ),
        (
            "wrong passphrase",
            s.post("/unlock")
                .json(&json!({"passphrase": "wrong but long enough"})),
            403,
        ),
    ];
    for (what, request, want) in cases {
        assert_error(request.send().await.unwrap(), want).await;
        assert_eq!(s.state().await, "Locked", "{what} changed the state");
    }
    // Wrong state comes before wrong method.
    assert_error(s.get("/lock").send().await.unwrap(), 412).await;
    let r = s.get("/unlock").send().await.unwrap();
    assert_eq!(r.headers()["allow"], "POST");
    assert_error(r, 405).await;
    after_rate_limit_window(&s).await;
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
}

#[tokio::test]
async fn put_config_checks_in_the_documented_order() {
    let s = Server::start();
    s.provision().await;
    let put = || s.put("/config/unattended-boot");
    let admin = |r: reqwest::RequestBuilder| r.basic_auth("admin", Some(ADMIN));
    let on = json!({"status": "on"}).to_string();
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        // 401 before 415
        ("no auth, no content type", put().body(on.clone()), 401),
        (
            "unknown user",
            put()
                .basic_auth("nobody", Some("wrong passphrase"))
                .json(&json!({"status": "on"})),
            401,
        ),
        (
            "malformed Authorization",
            put()
                .header("authorization", "Basic !!!")
                .json(&json!({"status": "on"})),
            401,
        ),
        // 415: PUT needs application/json; a missing Content-Type counts as octet-stream
        ("no content type", admin(put()).body(on.clone()), 415),
        (
            "text/plain",
            admin(put())
                .header("content-type", "text/plain")
                .body(on.clone()),
            415,
        ),
        // 415 before 413, 413 before 406, 406 before 400
        (
            "big and text/plain",
            admin(put())
                .header("content-type", "text/plain")
                .body(vec![b' '; 2 << 20]),
            415,
        ),
        (
            "big and wrong accept",
            admin(put())
                .header("content-type", "application/json")
                .header("accept", "text/plain")
                .body(vec![b' '; 2 << 20]),
            413,
        ),
        (
            "wrong accept and bad body",
            admin(put())
                .header("content-type", "application/json")
                .header("accept", "text/plain")
                .body("{"),
            406,
        ),
        (
            "bad status",
            admin(put()).json(&json!({"status": "maybe"})),
            400,
        ),
        (
            "unknown field",
            admin(put()).json(&json!({"status": "on", "when": "now"})),
            400,
        ),
        (
            "malformed JSON",
            admin(put())
                .header("content-type", "application/json")
                .body("{status: on}"),
            400,
        ),
    ];
    for (what, request, want) in cases {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), want, "{what}");
        assert_error(r, want).await;
    }
    let r = s
        .get("/config/unattended-boot")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "off"}),
        "nothing changed the setting"
    );
    // charset parameters are fine
    let r = admin(put())
        .header("content-type", "application/json; charset=utf-8")
        .body(on)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    // GET needs an acceptable Accept too, after authentication.
    let r = s
        .get("/config/unattended-boot")
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap();
    assert_error(r, 401).await;
    let r = admin(s.get("/config/unattended-boot"))
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap();
    assert_error(r, 406).await;
    let r = s
        .get("/health/state")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_error(r, 406).await;
    assert_eq!(s.state().await, "Operational");
}

/// An answer given before the body is read (401, 415, 413) still reaches a client that is
/// still uploading, rather than a broken connection.
#[tokio::test]
async fn early_answers_reach_uploading_clients() {
    let s = Server::start();
    s.provision().await;
    let big = vec![b' '; 8 << 20];
    for _ in 0..10 {
        let r = s
            .put("/config/unattended-boot")
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await;
        assert_eq!(r.expect("an answer, not a broken pipe").status(), 401);
        let r = s
            .put("/config/unattended-boot")
            .basic_auth("admin", Some(ADMIN))
            .header("content-type", "text/plain")
            .body(big.clone())
            .send()
            .await;
        assert_eq!(r.expect("an answer, not a broken pipe").status(), 415);
        let r = s.post("/unlock").body(big.clone()).send().await;
        assert_eq!(r.expect("an answer, not a broken pipe").status(), 412);
    }
}
