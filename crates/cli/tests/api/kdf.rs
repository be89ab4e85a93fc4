//! Key derivation on the real server: the Argon2id parameters a backup file asks for are
//! untrusted, checked against a floor and a ceiling before anything is derived, and the
//! derivations that do run are counted by memory at the Argon2 gate, so concurrent restores
//! cannot exhaust memory. The figures are printed (`--nocapture`).

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::common::*;

/// The ceiling on a derivation's memory (`KDF_MAX_MEMORY_KIB`, docs/security-model.md).
const CEILING_KIB: u32 = 256 * 1024;

/// A figure of the server process from `/proc/<pid>/status` (`VmHWM`: peak RSS), in KiB.
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// A backup file as docs/backup-format.md lays it out, whose header asks for these Argon2id
/// parameters; its one chunk is not sealed under any key, so after the derivation the restore
/// fails (400) and nothing changes.
fn backup_asking_for(memory_kib: u32, iterations: u32) -> Vec<u8> {
    let header = json!({
        "kdf": {"algorithm": "argon2id", "memory_kib": memory_kib, "iterations": iterations,
                "parallelism": 1, "salt": "11".repeat(16)},
        "fileSalt": "22".repeat(32),
        "noncePrefix": "33".repeat(7),
        "created": TIME,
        "softwareVersion": "0.1.0",
    })
    .to_string();
    let mut file = b"STRONGROOMBACKUP".to_vec();
    file.extend_from_slice(&1u16.to_be_bytes());
    file.extend_from_slice(&(header.len() as u32).to_be_bytes());
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(&(0x8000_0000u32 | 32).to_be_bytes());
    file.extend_from_slice(&[0x44; 32]);
    file
}

/// Sends 8 restores of `file` at once to an Unprovisioned server; returns the answers and
/// the server's peak RSS before and after, in KiB.
async fn eight_restores(s: &Arc<Server>, file: Vec<u8>) -> (Vec<(u16, String)>, u64, u64) {
    let before = proc_kib(s.pid(), "VmHWM");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            let file = file.clone();
            tokio::spawn(async move {
                let r = s.restore(file, "some backup passphrase", None).await;
                let status = r.status().as_u16();
                let body: serde_json::Value = r.json().await.unwrap();
                (
                    status,
                    body["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    (answers, before, proc_kib(s.pid(), "VmHWM"))
}

#[tokio::test]
async fn a_restore_asking_for_more_than_the_ceiling_is_refused_before_deriving() {
    let s = Arc::new(Server::start());
    let started = Instant::now();
    let (answers, before, after) = eight_restores(&s, backup_asking_for(CEILING_KIB + 1, 2)).await;
    eprintln!(
        "8 restores asking for {} KiB: {:?}, peak RSS {before} -> {after} KiB",
        CEILING_KIB + 1,
        started.elapsed()
    );
    for (status, message) in &answers {
        assert_eq!(*status, 400, "{message}");
        assert_eq!(
            message,
            "the backup's key derivation parameters are not acceptable: memory_kib 262145 is outside 19456..=262144"
        );
    }
    // One derivation of 256 MiB would have raised the peak by as much: none ran.
    assert!(
        after - before < 64 * 1024,
        "peak RSS grew by {} KiB: a derivation ran",
        after - before
    );
    // Too many passes, or a floor below the verifiers', are refused the same way.
    for (memory_kib, iterations, why) in [
        (65536, 11, "iterations 11 is outside 2..=10"),
        (1024, 2, "memory_kib 1024 is outside 19456..=262144"),
    ] {
        let r = s
            .restore(
                backup_asking_for(memory_kib, iterations),
                "some backup passphrase",
                None,
            )
            .await;
        let refused = "the backup's key derivation parameters are not acceptable: ";
        let message = nethsm_error(r, 400, starting(refused)).await;
        assert!(message.ends_with(why), "{message}");
    }
    assert_eq!(s.state().await, "Unprovisioned");
}

#[tokio::test]
async fn concurrent_restores_at_the_ceiling_take_turns_for_memory() {
    let s = Arc::new(Server::start());
    let started = Instant::now();
    let (answers, before, after) = eight_restores(&s, backup_asking_for(CEILING_KIB, 2)).await;
    eprintln!(
        "8 restores asking for {CEILING_KIB} KiB: {:?}, peak RSS {before} -> {after} KiB",
        started.elapsed()
    );
    for (status, message) in &answers {
        assert_eq!(*status, 400, "{message}");
        assert_eq!(
            message,
            "the backup cannot be opened: the backup passphrase is wrong, or the file is damaged",
            "the derivation ran, then the chunk failed"
        );
    }
    // The gate's memory budget is one derivation at the ceiling plus a verifier per running
    // place: 8 concurrent derivations of 256 MiB run one at a time, so the peak grows by one
    // derivation (256 MiB) and some slack for the uploads and buffers (128 MiB), where two at
    // once would already be 512 MiB (and four, as a gate counting only runs allows, 1 GiB).
    let bound = 256 * 1024 + 128 * 1024;
    assert!(
        after - before < bound,
        "peak RSS grew by {} KiB (bound {bound} KiB)",
        after - before
    );
    assert!(after - before > 200 * 1024, "the derivations ran");
    assert_eq!(s.state().await, "Unprovisioned");
}

const TOO_WEAK: &str =
    "is too weak: use more different characters, of more than one kind, or several words";

#[tokio::test]
async fn weak_unlock_and_backup_passphrases_are_refused_and_keys_cost_256_mib() {
    let s = Server::start();
    for weak in ["aaaaaaaaaaaa", "1234567890", "abcdefghijkl", "passphrase"] {
        let r = s
            .post("/provision")
            .json(&json!({"unlockPassphrase": weak, "adminPassphrase": ADMIN, "systemTime": TIME}))
            .send()
            .await
            .unwrap();
        nethsm_error(r, 400, format!("unlockPassphrase {TOO_WEAK}")).await;
    }
    assert_eq!(s.state().await, "Unprovisioned");
    s.provision().await;
    let r = s
        .put("/config/backup-passphrase")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"newPassphrase": "0000011111", "currentPassphrase": ""}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 400, format!("newPassphrase {TOO_WEAK}")).await;
    let r = s
        .put("/config/unlock-passphrase")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"newPassphrase": "zyxwvutsrqpo", "currentPassphrase": UNLOCK}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 400, format!("newPassphrase {TOO_WEAK}")).await;
    // User passphrases keep NetHSM's rule alone (they are guessed online, rate limited).
    s.create_user(Some("backup"), "Backup", "aaaaaaaaaa").await;

    // A good one is taken, and the backup key it makes costs 256 MiB and 3 passes: the
    // header of a backup says so.
    s.set_backup_passphrase("backup passphrase for tests", "")
        .await;
    let file = s.backup("backup", "aaaaaaaaaa").await;
    let len = u32::from_be_bytes(file[18..22].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&file[22..22 + len]).unwrap();
    assert_eq!(header["kdf"]["algorithm"], "argon2id");
    assert_eq!(header["kdf"]["memory_kib"], 262144);
    assert_eq!(header["kdf"]["iterations"], 3);
    assert_eq!(header["kdf"]["parallelism"], 1);
}
