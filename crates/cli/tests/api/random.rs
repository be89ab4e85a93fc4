//! `POST /random` (seed 002): every documented code, lengths, and that the bytes look random.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine;
use serde_json::{Value, json};

use crate::common::*;

const OP: &str = "operator";
const OP_PASS: &str = "operator passphrase";

async fn draw(s: &Server, length: u64) -> Vec<u8> {
    let r = s
        .post("/random")
        .basic_auth(OP, Some(OP_PASS))
        .json(&json!({"length": length}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(body["random"].as_str().unwrap())
        .unwrap()
}

#[tokio::test]
async fn codes_and_lengths() {
    let mut s = Server::start();
    // Unprovisioned and Locked: 412 first.
    nethsm_error(
        s.post("/random")
            .json(&json!({"length": 1}))
            .send()
            .await
            .unwrap(),
        412,
        "Service not available",
    )
    .await;
    s.provision().await;
    s.create_user(Some(OP), "Operator", OP_PASS).await;

    let r = s
        .post("/random")
        .basic_auth(OP, Some(OP_PASS))
        .json(&json!({"length": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    let b64 = body["random"].as_str().unwrap();
    assert_eq!(b64.len(), 4, "standard padded base64 of one byte");
    assert!(b64.ends_with("=="));
    assert_eq!(draw(&s, 1024).await.len(), 1024);
    assert_eq!(draw(&s, 32).await.len(), 32);

    // Content-Type is not checked on this POST.
    let r = s
        .post("/random")
        .basic_auth(OP, Some(OP_PASS))
        .body("{\"length\": 5}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let out_of_range = || Says::from("length must be between 1 and 1024");
    let malformed = || starting("Malformed request body: ");
    for (what, body, want, says) in [
        ("zero", json!({"length": 0}), 400, out_of_range()),
        ("too long", json!({"length": 1025}), 400, out_of_range()),
        ("negative", json!({"length": -1}), 400, malformed()),
        ("string", json!({"length": "5"}), 400, malformed()),
        ("float", json!({"length": 1.5}), 400, malformed()),
        ("missing", json!({}), 400, malformed()),
        (
            "unknown field",
            json!({"length": 5, "more": true}),
            400,
            malformed(),
        ),
    ] {
        let r = s
            .post("/random")
            .basic_auth(OP, Some(OP_PASS))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{what}");
        nethsm_error(r, want, says).await;
    }
    let r = s
        .post("/random")
        .basic_auth(OP, Some(OP_PASS))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    nethsm_error(r, 400, starting("Malformed request body: ")).await;
    let r = s
        .post("/random")
        .basic_auth(OP, Some(OP_PASS))
        .header("accept", "text/plain")
        .json(&json!({"length": 5}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 406, "Content type in Accept header not supported.").await;
    let r = s
        .post("/random")
        .json(&json!({"length": 5}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 401, "Authentication required.").await;
    // Roles are exact: an Administrator is not an Operator.
    let r = s
        .post("/random")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"length": 5}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 403, "Access denied.").await;
    let r = s
        .post("/random")
        .basic_auth(OP, Some("wrong passphrase"))
        .json(&json!({"length": 5}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 401, "Authentication required.").await;

    s.restart();
    let r = s
        .post("/random")
        .basic_auth(OP, Some(OP_PASS))
        .json(&json!({"length": 5}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 412, "Service not available").await;
}

#[tokio::test]
async fn ten_thousand_draws_never_repeat_and_bytes_are_uniform() {
    let s = Arc::new(Server::start());
    s.provision().await;
    s.create_user(Some(OP), "Operator", OP_PASS).await;

    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for _ in 0..625 {
                out.push(draw(&s, 32).await);
            }
            out
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for d in t.await.unwrap() {
            assert_eq!(d.len(), 32);
            assert!(seen.insert(d), "a 32-byte draw repeated");
        }
    }
    assert_eq!(seen.len(), 10_000);

    // Chi-square of byte frequencies over 1 MiB against the uniform distribution: 255 degrees
    // of freedom, mean 255, standard deviation about 22.6. 400 is more than six standard
    // deviations out: a loose bound that a working CSPRNG essentially never exceeds.
    let mut counts = [0u64; 256];
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut local = [0u64; 256];
            for _ in 0..128 {
                for b in draw(&s, 1024).await {
                    local[b as usize] += 1;
                }
            }
            local
        }));
    }
    for t in tasks {
        for (c, l) in counts.iter_mut().zip(t.await.unwrap()) {
            *c += l;
        }
    }
    let total: u64 = counts.iter().sum();
    assert_eq!(total, 1 << 20);
    let expected = total as f64 / 256.0;
    let chi2: f64 = counts
        .iter()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum();
    assert!(chi2 < 400.0, "chi-square {chi2} over 1 MiB");
}
