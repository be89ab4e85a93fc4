//! The state machine end to end: provision, restart, unlock, lock, health in every state.

use serde_json::{Value, json};

use crate::common::*;

/// The health endpoints' codes in each state.
async fn assert_health(s: &Server, state: &str) {
    assert_eq!(s.state().await, state);
    let alive = s.get("/health/alive").send().await.unwrap().status();
    let ready = s.get("/health/ready").send().await.unwrap().status();
    let (want_alive, want_ready) = match state {
        "Operational" => (412, 200),
        _ => (200, 412),
    };
    assert_eq!(alive, want_alive, "alive in {state}");
    assert_eq!(ready, want_ready, "ready in {state}");
    assert_eq!(s.get("/info").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn full_lifecycle() {
    let mut s = Server::start();
    assert_health(&s, "Unprovisioned").await;
    let info: Value = s.get("/info").send().await.unwrap().json().await.unwrap();
    assert!(info["vendor"].is_string() && info["product"].is_string());

    // Operational-only endpoints answer the exact 412 text before anything else.
    nethsm_error(s.post("/lock").answer().await, 412, "Service not available").await;
    nethsm_error(
        s.post("/unlock")
            .json(&json!({"passphrase": UNLOCK}))
            .send()
            .await
            .unwrap(),
        412,
        "Service not available",
    )
    .await;

    s.provision().await;
    assert_health(&s, "Operational").await;
    // Provisioning twice is refused, and changes nothing.
    let r = s
        .post("/provision")
        .json(&json!({"unlockPassphrase": "another unlock", "adminPassphrase": "another admin", "systemTime": TIME}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 412, "Service not available").await;
    let r = s
        .get("/system/info")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sys: Value = r.json().await.unwrap();
    for field in [
        "softwareVersion",
        "softwareBuild",
        "firmwareVersion",
        "hardwareVersion",
        "deviceId",
    ] {
        assert!(sys[field].is_string(), "{field}");
    }

    let fingerprint = s.fingerprint.clone();
    s.restart();
    assert_eq!(
        s.fingerprint, fingerprint,
        "certificate is kept across restarts"
    );
    assert_health(&s, "Locked").await;
    // Nothing but the public endpoints work while Locked.
    nethsm_error(
        s.get("/system/info")
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap(),
        412,
        "Service not available",
    )
    .await;

    let r = s.unlock("not the unlock passphrase").await;
    nethsm_error(r, 403, "Unlock failed: the passphrase is incorrect.").await;
    assert_health(&s, "Locked").await;
    // One failed unlock per second per address: even the right passphrase waits.
    nethsm_error(
        s.unlock(UNLOCK).await,
        429,
        "Too many failed attempts; try again in a second.",
    )
    .await;
    assert_health(&s, "Locked").await;
    after_rate_limit_window(&s).await;
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    assert_health(&s, "Operational").await;
    nethsm_error(s.unlock(UNLOCK).await, 412, "Service not available").await;

    // Lock needs the root Administrator.
    let r = s.post("/lock").send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"NetHSM\"");
    nethsm_error(r, 401, "Authentication required.").await;
    nethsm_error(
        s.post("/lock")
            .basic_auth("admin", Some("wrong passphrase"))
            .send()
            .await
            .unwrap(),
        401,
        "Authentication required.",
    )
    .await;
    nethsm_error(
        s.post("/lock")
            .basic_auth("nobody", Some(ADMIN))
            .send()
            .await
            .unwrap(),
        401,
        "Authentication required.",
    )
    .await;
    assert_health(&s, "Operational").await;
    after_rate_limit_window(&s).await;
    assert_eq!(
        s.post("/lock")
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_health(&s, "Locked").await;
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    assert_health(&s, "Operational").await;
}

#[tokio::test]
async fn unattended_boot_comes_up_operational() {
    let mut s = Server::start();
    s.provision().await;
    let get = |s: &Server| {
        s.get("/config/unattended-boot")
            .basic_auth("admin", Some(ADMIN))
            .send()
    };
    let body: Value = get(&s).await.unwrap().json().await.unwrap();
    assert_eq!(body, json!({"status": "off"}));
    let r = s
        .put("/config/unattended-boot")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"status": "on"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let body: Value = get(&s).await.unwrap().json().await.unwrap();
    assert_eq!(body, json!({"status": "on"}));

    s.restart();
    assert_eq!(s.state().await, "Operational");
    let r = s
        .put("/config/unattended-boot")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"status": "off"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    s.restart();
    assert_eq!(s.state().await, "Locked");
}

/// SIGTERM while an unlock is in flight: its handler is reading the body (the server has
/// answered its `Expect: 100-continue`), which arrives only after the signal. The unlock
/// completes (204), then the server exits 0 and the store reopens Locked.
#[tokio::test]
async fn sigterm_stops_cleanly_and_the_store_reopens() {
    use tokio::io::AsyncWriteExt;

    let mut s = Server::start();
    s.provision().await;
    s.restart();
    assert_eq!(s.state().await, "Locked");
    let body = json!({"passphrase": UNLOCK}).to_string();
    let head = format!(
        "POST /api/v1/unlock HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nexpect: 100-continue\r\n\r\n",
        body.len()
    );
    let mut conn = raw::tls(&s).await;
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.flush().await.unwrap();
    // The 100 Continue is sent when the handler starts reading the body: in flight for sure.
    let interim = raw::read_response(&mut conn, std::time::Duration::from_secs(30)).await;
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");

    // The log holds the first run's SIGTERM (the restart) too: wait for the second.
    let signals = |log: &str| log.matches("SIGTERM received").count();
    assert_eq!(signals(&s.log()), 1);
    unsafe {
        libc::kill(s.pid() as i32, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while signals(&s.log()) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not log the SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    conn.write_all(body.as_bytes()).await.unwrap();
    conn.flush().await.unwrap();
    let response = raw::read_response(&mut conn, std::time::Duration::from_secs(30)).await;
    assert!(
        response.starts_with("HTTP/1.1 204"),
        "the unlock in flight at SIGTERM: {response}"
    );

    let exit = s.wait_exit();
    assert!(exit.success(), "exit status {exit:?}");
    let log = s.log();
    let signal = log.rfind("SIGTERM received").unwrap();
    let unlocked = log.rfind("status=204").expect("the unlock completed");
    assert!(signal < unlocked, "the unlock completed after the signal");
    assert!(log.contains("stopped; store closed"));
    s.start_again();
    assert_eq!(s.state().await, "Locked");
}

/// SIGTERM arrives while a request is in flight (its head and half its body sent, the rest
/// still to come): the server finishes that request, then exits 0.
#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish() {
    use tokio::io::AsyncWriteExt;

    let mut s = Server::start();
    let body = json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": TIME})
        .to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let head = format!(
        "POST /api/v1/provision HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut conn = raw::tls(&s).await;
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(first).await.unwrap();
    conn.flush().await.unwrap();
    // Let the server read the head and start the handler, which waits for the rest.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    unsafe {
        libc::kill(s.pid() as i32, libc::SIGTERM);
    }
    // The server has seen the signal (and started shutting down) before the body is done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s.log().contains("SIGTERM received") {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not log the SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    conn.write_all(rest).await.unwrap();
    conn.flush().await.unwrap();
    let response = raw::read_response(&mut conn, std::time::Duration::from_secs(30)).await;
    assert!(
        response.starts_with("HTTP/1.1 204"),
        "the request in flight at SIGTERM: {response}"
    );

    let exit = s.wait_exit();
    assert!(exit.success(), "exit status {exit:?}");
    let log = s.log();
    let signal = log.find("SIGTERM received").unwrap();
    let completed = log
        .find("status=204")
        .expect("the provisioning request completed");
    assert!(signal < completed, "the request completed after the signal");
    assert!(log.contains("stopped; store closed"));
    // What the request did is kept.
    s.start_again();
    assert_eq!(s.state().await, "Locked");
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_request_id() {
    let s = Server::start();
    s.provision().await;
    let r = s
        .post("/lock")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let log = s.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&id)).collect();
    assert!(
        lines.iter().any(|l| l.contains("locked")),
        "core's line is in the request span"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("request completed") && l.contains("status=204"))
    );
    assert!(!log.contains(ADMIN) && !log.contains(UNLOCK));
}

#[tokio::test]
async fn json_logs_and_config_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("strongroom.toml");
    std::fs::write(&cfg, "version = 1\nlog_format = \"json\"\ntls_names = [\"hsm.test\"]\nlisten = \"127.0.0.1:1\"\n").unwrap();
    // The flag --listen 127.0.0.1:0 (set by the harness) wins over the file's listen.
    let s = Server::start_with(&["--config", cfg.to_str().unwrap()]);
    s.provision().await;
    let log = s.log();
    let json_lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!json_lines.is_empty());
    assert!(
        json_lines
            .iter()
            .any(|l| l["span"]["request_id"].is_string())
    );
    assert!(log.contains("hsm.test"));
}
