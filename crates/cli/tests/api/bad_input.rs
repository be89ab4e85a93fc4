//! Bad input gets its documented code, in the documented order of checks, and leaves the
//! state unchanged.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

const NOT_ACCEPTABLE: &str = "Content type in Accept header not supported.";
const UNSUPPORTED: &str = "Content type not supported; use application/json.";
const UNAUTHENTICATED: &str = "Authentication required.";

fn provision_body(unlock: &str, admin: &str, time: &str) -> Value {
    json!({"unlockPassphrase": unlock, "adminPassphrase": admin, "systemTime": time})
}

#[tokio::test]
async fn provision_refuses_bad_input_and_stays_unprovisioned() {
    let s = Server::start();
    let unlock_length = || Says::from("unlockPassphrase must be between 10 and 200 bytes long");
    let admin_length = || Says::from("adminPassphrase must be between 10 and 200 bytes long");
    let not_utc = || Says::from("systemTime must be in UTC (ending in Z)");
    let not_a_time = || Says::from("systemTime must be an RFC 3339 date-time in UTC");
    let malformed = || starting("Malformed request body: ");
    let too_large = || Says::from("Request body is larger than 1048576 bytes.");
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, Says)> = vec![
        ("short unlock passphrase", s.post("/provision").json(&provision_body("123456789", ADMIN, TIME)), 400, unlock_length()),
        ("long admin passphrase", s.post("/provision").json(&provision_body(UNLOCK, &"a".repeat(201), TIME)), 400, admin_length()),
        ("empty admin passphrase", s.post("/provision").json(&provision_body(UNLOCK, "", TIME)), 400, admin_length()),
        ("time not in UTC", s.post("/provision").json(&provision_body(UNLOCK, ADMIN, "2026-11-23T12:00:00+02:00")), 400, not_utc()),
        ("time without zone", s.post("/provision").json(&provision_body(UNLOCK, ADMIN, "2026-11-23T12:00:00")), 400, not_a_time()),
        ("malformed time", s.post("/provision").json(&provision_body(UNLOCK, ADMIN, "yesterday")), 400, not_a_time()),
        ("time of wrong type", s.post("/provision").json(&json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": 17})), 400, malformed()),
        ("unknown field", s.post("/provision").json(&json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": TIME, "extra": 1})), 400, malformed()),
        ("missing field", s.post("/provision").json(&json!({"unlockPassphrase": UNLOCK, "systemTime": TIME})), 400, malformed()),
        ("malformed JSON", s.post("/provision").header("content-type", "application/json").body("{\"unlockPassphrase\": "), 400, malformed()),
        ("empty body", s.post("/provision"), 400, malformed()),
        ("wrong Accept", s.post("/provision").header("accept", "text/plain").json(&provision_body(UNLOCK, ADMIN, TIME)), 406, Says::from(NOT_ACCEPTABLE)),
        ("body over 1 MiB", s.post("/provision").header("content-type", "application/json").body(vec![b' '; 1024 * 1024 + 1]), 413, too_large()),
        ("over 1 MiB beats wrong Accept", s.post("/provision").header("accept", "text/plain").body(vec![b' '; 1024 * 1024 + 1]), 413, too_large()),
    ];
    for (what, request, want, says) in cases {
        let r = request.answer().await;
        let message = nethsm_error(r, want, says).await;
        assert!(
            !message.contains(ADMIN) && !message.contains(UNLOCK),
            "{what}: message echoes a secret"
        );
        assert_eq!(s.state().await, "Unprovisioned", "{what} changed the state");
    }

    let r = s.get("/provision").answer().await;
    assert_eq!(r.headers()["allow"], "POST");
    nethsm_error(r, 405, "Method Not Allowed.").await;
    let r = s
        .request(Method::from_bytes(b"BREW").unwrap(), "/provision")
        .answer()
        .await;
    nethsm_error(r, 501, "Method not implemented.").await;
    let r = s.get("/no/such/thing").answer().await;
    nethsm_error(r, 404, "Resource not found.").await;
    assert_eq!(s.state().await, "Unprovisioned");

    // A 1 MiB body (exactly the limit) is read, and refused only for its content.
    let r = s
        .post("/provision")
        .body(vec![b' '; 1024 * 1024])
        .answer()
        .await;
    nethsm_error(r, 400, starting("Malformed request body: ")).await;
    s.provision().await;
}

#[tokio::test]
async fn unlock_refuses_bad_input_and_stays_locked() {
    let mut s = Server::start();
    s.provision().await;
    s.restart();
    let length = || Says::from("passphrase must be between 10 and 200 bytes long");
    let malformed = || starting("Malformed request body: ");
    let unlock = || s.post("/unlock");
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, Says)> = vec![
        (
            "short passphrase",
            unlock().json(&json!({"passphrase": "short"})),
            400,
            length(),
        ),
        (
            "long passphrase",
            unlock().json(&json!({"passphrase": "a".repeat(201)})),
            400,
            length(),
        ),
        (
            "unknown field",
            unlock().json(&json!({"passphrase": UNLOCK, "x": true})),
            400,
            malformed(),
        ),
        (
            "wrong type",
            unlock().json(&json!({"passphrase": 1234567890})),
            400,
            malformed(),
        ),
        (
            "malformed JSON",
            unlock().body("passphrase"),
            400,
            malformed(),
        ),
        (
            "wrong Accept",
            unlock()
                .header("accept", "application/xml")
                .json(&json!({"passphrase": UNLOCK})),
            406,
            NOT_ACCEPTABLE.into(),
        ),
        (
            "over 1 MiB",
            unlock().body(vec![b'x'; 2 * 1024 * 1024]),
            413,
            "Request body is larger than 1048576 bytes.".into(),
        ),
        (
            "wrong passphrase",
            unlock().json(&json!({"passphrase": "wrong but long enough"})),
            403,
            "Unlock failed: the passphrase is incorrect.".into(),
        ),
    ];
    for (what, request, want, says) in cases {
        nethsm_error(request.answer().await, want, says).await;
        assert_eq!(s.state().await, "Locked", "{what} changed the state");
    }
    // Wrong state comes before wrong method.
    let r = s.get("/lock").answer().await;
    nethsm_error(r, 412, "Service not available").await;
    let r = s.get("/unlock").answer().await;
    assert_eq!(r.headers()["allow"], "POST");
    nethsm_error(r, 405, "Method Not Allowed.").await;
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
    let malformed = || starting("Malformed request body: ");
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, Says)> = vec![
        // 401 before 415
        (
            "no auth, no content type",
            put().body(on.clone()),
            401,
            UNAUTHENTICATED.into(),
        ),
        (
            "unknown user",
            put()
                .basic_auth("nobody", Some("wrong passphrase"))
                .json(&json!({"status": "on"})),
            401,
            UNAUTHENTICATED.into(),
        ),
        (
            "malformed Authorization",
            put()
                .header("authorization", "Basic !!!")
                .json(&json!({"status": "on"})),
            401,
            UNAUTHENTICATED.into(),
        ),
        // 415: PUT needs application/json; a missing Content-Type counts as octet-stream
        (
            "no content type",
            admin(put()).body(on.clone()),
            415,
            UNSUPPORTED.into(),
        ),
        (
            "text/plain",
            admin(put())
                .header("content-type", "text/plain")
                .body(on.clone()),
            415,
            UNSUPPORTED.into(),
        ),
        // 415 before 413, 413 before 406, 406 before 400
        (
            "big and text/plain",
            admin(put())
                .header("content-type", "text/plain")
                .body(vec![b' '; 2 << 20]),
            415,
            UNSUPPORTED.into(),
        ),
        (
            "big and wrong accept",
            admin(put())
                .header("content-type", "application/json")
                .header("accept", "text/plain")
                .body(vec![b' '; 2 << 20]),
            413,
            "Request body is larger than 1048576 bytes.".into(),
        ),
        (
            "wrong accept and bad body",
            admin(put())
                .header("content-type", "application/json")
                .header("accept", "text/plain")
                .body("{"),
            406,
            NOT_ACCEPTABLE.into(),
        ),
        (
            "bad status",
            admin(put()).json(&json!({"status": "maybe"})),
            400,
            malformed(),
        ),
        (
            "unknown field",
            admin(put()).json(&json!({"status": "on", "when": "now"})),
            400,
            malformed(),
        ),
        (
            "malformed JSON",
            admin(put())
                .header("content-type", "application/json")
                .body("{status: on}"),
            400,
            malformed(),
        ),
    ];
    for (what, request, want, says) in cases {
        let r = request.answer().await;
        assert_eq!(r.status(), want, "{what}");
        nethsm_error(r, want, says).await;
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
        .answer()
        .await;
    nethsm_error(r, 401, UNAUTHENTICATED).await;
    let r = admin(s.get("/config/unattended-boot"))
        .header("accept", "text/plain")
        .answer()
        .await;
    nethsm_error(r, 406, NOT_ACCEPTABLE).await;
    let r = s
        .get("/health/state")
        .header("accept", "text/html")
        .answer()
        .await;
    nethsm_error(r, 406, NOT_ACCEPTABLE).await;
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
        let r = r.expect("an answer, not a broken pipe");
        nethsm_error(r, 401, UNAUTHENTICATED).await;
        let r = s
            .put("/config/unattended-boot")
            .basic_auth("admin", Some(ADMIN))
            .header("content-type", "text/plain")
            .body(big.clone())
            .send()
            .await;
        let r = r.expect("an answer, not a broken pipe");
        nethsm_error(r, 415, UNSUPPORTED).await;
        let r = s.post("/unlock").body(big.clone()).send().await;
        let r = r.expect("an answer, not a broken pipe");
        nethsm_error(r, 412, "Service not available").await;
    }
}
