//! What an attacker who can only reach the port must not be able to do: fill the disk through
//! the audit trail, fill memory through the rate limiter or a flood of password checks, slip
//! parallel guesses past the rate limit, or lock the root Administrator out of sessions.
//! Each test measures the real server; the figures are printed (`--nocapture`).

use std::sync::Arc;

use base64::Engine;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

/// A figure of the server process from `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in KiB.
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

fn store_bytes(s: &Server) -> u64 {
    std::fs::metadata(s.data_dir.join("strongroom.redb"))
        .unwrap()
        .len()
}

/// A counter of the Prometheus text (summed over its labels).
async fn counter(s: &Server, name: &str) -> u64 {
    let text = s
        .own(Method::GET, "/metrics")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| {
            l.strip_prefix(&format!("strongroom_{name}"))
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn unauthenticated_requests_cannot_fill_the_disk_through_the_audit_trail() {
    let s = Arc::new(Server::start());
    s.provision().await;
    let before = store_bytes(&s);
    let long = "z".repeat(4_000);
    // 10 000 POSTs to unknown paths, and 1 000 to a real one with wrong credentials, each
    // claiming another user.
    let statuses: Vec<u16> = futures_util::stream::iter(0..11_000u32)
        .map(|i| {
            let s = s.clone();
            let long = long.clone();
            async move {
                let r = if i < 10_000 {
                    s.client
                        .post(format!("{}/api/v1/x{i}{long}", s.base))
                        .send()
                        .await
                } else {
                    s.post(&format!("/users/u{i}"))
                        .basic_auth(format!("guess{i}"), Some("wrong"))
                        .json(&json!({}))
                        .send()
                        .await
                };
                r.unwrap().status().as_u16()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(statuses.iter().filter(|&&c| c == 404).count(), 10_000);
    assert_eq!(statuses.iter().filter(|&&c| c == 401).count(), 1_000);
    // The next event writes the counted failures first.
    s.create_user(Some("witness"), "Operator", "witness passphrase")
        .await;
    let after = store_bytes(&s);
    let events = audit_events(&s).await;
    eprintln!(
        "store {before} -> {after} bytes after 11 000 unauthenticated POSTs; {} audit events",
        events.len()
    );
    assert!(
        after - before < 512 * 1024,
        "the store grew by {} bytes",
        after - before
    );
    let counted: u64 = events.iter().filter_map(|e| e["count"].as_u64()).sum();
    assert_eq!(counted, 1_000, "every failed authentication is counted");
    assert!(events.len() <= 5, "{} events", events.len());
    assert!(
        events
            .iter()
            .all(|e| !e["target"].as_str().unwrap().contains(&long[..300])),
        "no unbounded field"
    );
    assert!(
        !events
            .iter()
            .any(|e| e["action"].as_str().unwrap().contains("(no route)"))
    );
    let verify = audit_verify(&s).await;
    assert_eq!(verify["verified"], true);
}

#[tokio::test]
async fn long_user_ids_cannot_fill_memory_through_the_rate_limiter() {
    let s = Server::start();
    s.provision().await;
    let pid = s.pid();
    let rss_before = proc_kib(pid, "VmRSS");
    let long = "x".repeat(1_000_000);
    for i in 0..100 {
        let body = json!({"username": format!("{i}{long}"), "password": "YWJj"});
        let r = s
            .client
            .post(format!("{}/commandcenter/api/Login", s.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        backup_client_login_error(r, 401, 587204621, "Invalid username or password.").await;
    }
    // The same through HTTP Basic on the NetHSM face (as long as a header may be).
    let header_long = "y".repeat(60_000);
    for i in 0..100 {
        let r = s
            .get("/users")
            .basic_auth(format!("{i}{header_long}"), Some("wrong"))
            .send()
            .await
            .unwrap();
        nethsm_error(r, 401, "Authentication required.").await;
    }
    let rss_after = proc_kib(pid, "VmRSS");
    eprintln!("RSS {rss_before} -> {rss_after} KiB after 100 logins with 1 MB user names");
    assert!(
        rss_after < rss_before + 40 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );
}

#[tokio::test]
async fn a_flood_of_password_checks_is_bounded_and_answered_busy() {
    let s = Arc::new(Server::start());
    s.provision().await;
    let pid = s.pid();
    // Provisioning derives the unlock key (256 MiB): the flood's peak counts from after it
    // (`clear_refs` 5 sets VmHWM back to VmRSS).
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("resetting VmHWM");
    // 400 concurrent logins of users that do not exist (each would cost a dummy check).
    let started = futures_util::future::join_all((0..400).map(|i| {
        let s = s.clone();
        async move {
            let r = s
                .get("/users")
                .basic_auth(format!("nobody{i}"), Some("wrong"))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            if status == 503 {
                let body: Value = r.json().await.unwrap();
                assert_eq!(
                    body["message"],
                    "Too many password checks at once; try again shortly."
                );
            }
            status
        }
    }))
    .await;
    let peak = proc_kib(pid, "VmHWM");
    let unauthorized = started.iter().filter(|&&c| c == 401).count();
    let busy = started.iter().filter(|&&c| c == 503).count();
    eprintln!(
        "400 concurrent failed logins: {unauthorized} checked (401), {busy} busy (503); peak RSS {peak} KiB"
    );
    assert_eq!(unauthorized + busy, 400, "{started:?}");
    assert!(unauthorized > 0);
    assert!(peak < 200 * 1024, "peak RSS {peak} KiB");
    // And the server still answers.
    let r = s
        .get("/users")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn parallel_guesses_get_one_check_and_the_same_credentials_share_one() {
    let s = Arc::new(Server::start());
    s.provision().await;
    // The same right credentials, 20 at once, before any is cached: one check serves all.
    let checks_before = counter(&s, "password_checks_total").await;
    let statuses = futures_util::future::join_all((0..20).map(|_| {
        let s = s.clone();
        async move {
            s.get("/users/admin")
                .basic_auth("admin", Some(ADMIN))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    }))
    .await;
    assert!(statuses.iter().all(|&c| c == 200), "{statuses:?}");
    // The metrics read itself is a cache hit.
    let checks = counter(&s, "password_checks_total").await - checks_before;
    assert!(checks <= 1, "{checks} checks for one set of credentials");

    // 64 different guesses for one user from one address, 32 at a time.
    let started = std::time::Instant::now();
    let statuses: Vec<u16> = futures_util::stream::iter(0..64)
        .map(|i| {
            let s = s.clone();
            async move {
                s.get("/users")
                    .basic_auth("admin", Some(&format!("guess-{i}")))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let checked = statuses.iter().filter(|&&c| c == 401).count();
    let limited = statuses.iter().filter(|&&c| c == 429).count();
    eprintln!("64 parallel guesses in {elapsed:.1} s: {checked} checked, {limited} refused");
    assert_eq!(checked + limited, 64, "{statuses:?}");
    // One check at a time, and one failure per second: never more checks than seconds + 1.
    assert!(
        checked as f64 <= elapsed.ceil() + 1.0,
        "{checked} guesses checked in {elapsed:.1} s"
    );
}

#[tokio::test]
async fn no_user_can_fill_the_session_table_per_user() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("watcher"), "Metrics", "watcher passphrase")
        .await;
    let login = |user: &'static str, pass: &'static str| {
        let s = &s;
        async move {
            let r = s
                .client
                .post(format!("{}/commandcenter/api/Login", s.base))
                .json(&json!({
                    "username": user,
                    "password": base64::engine::general_purpose::STANDARD.encode(pass),
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let body: Value = r.json().await.unwrap();
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let mut tokens = Vec::new();
    for _ in 0..40 {
        tokens.push(login("watcher", "watcher passphrase").await);
    }
    let whoami = |token: String| {
        let s = &s;
        async move {
            s.client
                .get(format!("{}/commandcenter/api/WhoAmI", s.base))
                .header("Authtoken", token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The oldest eight made room for the newest 32.
    for t in &tokens[..8] {
        assert_eq!(whoami(t.clone()).await, 401);
    }
    for t in &tokens[8..] {
        assert_eq!(whoami(t.clone()).await, 200);
    }
    let admin = login("admin", ADMIN).await;
    assert_eq!(whoami(admin).await, 200);
}
