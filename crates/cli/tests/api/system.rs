//! `/config/unlock-passphrase`, `/config/time`, and `/system/{reboot,shutdown,factory-reset}`.

use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn unlock_passphrase_change() {
    let mut s = Server::start();
    s.provision().await;
    let put = |body: Value| {
        s.put("/config/unlock-passphrase")
            .basic_auth("admin", Some(ADMIN))
            .json(&body)
    };
    let new = "the new unlock passphrase";
    let r = put(json!({"newPassphrase": new, "currentPassphrase": "not the current one"}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 403, "unlock passphrase is incorrect.").await;
    let r = put(json!({"newPassphrase": "short", "currentPassphrase": UNLOCK}));
    let length = "newPassphrase must be between 10 and 200 bytes long";
    nethsm_error(r.answer().await, 400, length).await;
    let r = put(json!({"newPassphrase": new})).answer().await;
    nethsm_error(r, 400, starting("Malformed request body: ")).await;
    // Within a second of the wrong one, even the right current passphrase is not checked.
    nethsm_error(
        put(json!({"newPassphrase": new, "currentPassphrase": UNLOCK}))
            .send()
            .await
            .unwrap(),
        429,
        "Too many failed attempts; try again in a second.",
    )
    .await;
    after_rate_limit_window(&s).await;
    assert_eq!(
        put(json!({"newPassphrase": new, "currentPassphrase": UNLOCK}))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    // Nothing else changed: the admin still works.
    let r = s
        .get("/users")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.restart();
    nethsm_error(
        s.unlock(UNLOCK).await,
        403,
        "Unlock failed: the passphrase is incorrect.",
    )
    .await;
    after_rate_limit_window(&s).await;
    assert_eq!(s.unlock(new).await.status(), 204);
}

#[tokio::test]
async fn time_follows_the_set_value() {
    let s = Server::start();
    s.provision().await;
    let get = || {
        s.get("/config/time")
            .basic_auth("admin", Some(ADMIN))
            .send()
    };
    let t: Value = get().await.unwrap().json().await.unwrap();
    assert!(
        t["time"].as_str().unwrap().starts_with("2026-11-23T12:0"),
        "provisioning set the clock: {t}"
    );
    let r = s
        .put("/config/time")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"time": "2031-05-06T07:08:09Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let t: Value = get().await.unwrap().json().await.unwrap();
    assert!(
        t["time"].as_str().unwrap().starts_with("2031-05-06T07:08:"),
        "{t}"
    );
    // The time rules' messages name systemTime, not time: checked here without the field
    // name (errors::config_time_errors_name_their_field).
    let rule = |rule: &str| Says::Pieces(vec![String::new(), rule.to_owned()]);
    for (bad, says) in [
        (
            json!({"time": "2031-05-06T07:08:09+01:00"}),
            rule(" must be in UTC (ending in Z)"),
        ),
        (
            json!({"time": "soon"}),
            rule(" must be an RFC 3339 date-time in UTC"),
        ),
        (
            json!({"when": "2031-05-06T07:08:09Z"}),
            starting("Malformed request body: "),
        ),
    ] {
        let r = s
            .put("/config/time")
            .basic_auth("admin", Some(ADMIN))
            .json(&bad)
            .send()
            .await
            .unwrap();
        nethsm_error(r, 400, says).await;
    }
}

#[tokio::test]
async fn reboot_locks_and_factory_reset_erases() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("op"), "Operator", "operator passphrase")
        .await;
    nethsm_error(
        s.post("/system/reboot")
            .basic_auth("op", Some("operator passphrase"))
            .send()
            .await
            .unwrap(),
        403,
        "Access denied.",
    )
    .await;
    assert_eq!(
        s.post("/system/reboot")
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(s.state().await, "Locked");
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    // With unattended boot on, a reboot comes back Operational.
    let r = s
        .put("/config/unattended-boot")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"status": "on"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.post("/system/reboot")
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(s.state().await, "Operational");

    nethsm_error(
        s.post("/system/factory-reset")
            .basic_auth("op", Some("operator passphrase"))
            .send()
            .await
            .unwrap(),
        403,
        "Access denied.",
    )
    .await;
    assert_eq!(
        s.post("/system/factory-reset")
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(s.state().await, "Unprovisioned");
    nethsm_error(
        s.post("/system/factory-reset")
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap(),
        412,
        "Service not available",
    )
    .await;
    // Everything is gone: provisioning anew works with other passphrases, old users do not.
    let r = s
        .post("/provision")
        .json(&json!({"unlockPassphrase": "fresh unlock passphrase", "adminPassphrase": "fresh admin passphrase", "systemTime": TIME}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.get("/users/op")
            .basic_auth("op", Some("operator passphrase"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let users: Value = s
        .get("/users")
        .basic_auth("admin", Some("fresh admin passphrase"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users, json!([{"user": "admin"}]));
    let r = s
        .get("/config/unattended-boot")
        .basic_auth("admin", Some("fresh admin passphrase"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "off"}));
}

#[tokio::test]
async fn shutdown_stops_the_process() {
    let mut s = Server::start();
    // Unprovisioned: no credentials needed.
    assert_eq!(
        s.post("/system/shutdown").send().await.unwrap().status(),
        204
    );
    let exit = s.wait_exit();
    assert!(exit.success(), "{exit:?}");
    s.start_again();
    s.provision().await;
    // Operational: the root Administrator only.
    nethsm_error(
        s.post("/system/shutdown").send().await.unwrap(),
        401,
        "Authentication required.",
    )
    .await;
    after_rate_limit_window(&s).await;
    assert_eq!(
        s.post("/system/shutdown")
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(s.wait_exit().success());
}
