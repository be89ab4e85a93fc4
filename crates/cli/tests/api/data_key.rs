//! Rotation of the domain key over HTTPS (`POST /api/strongroom/v1/system/rotate-data-key`)
//! and by the CLI (`strongroom system rotate-data-key`): every value is re-sealed under the
//! new key and stays readable, across a restart and an unlock, and a backup taken before the
//! rotation still restores (docs/security-model.md, "Sealing").

use std::process::Output;

use reqwest::Method;
use serde_json::{Value, json};
use strongroom_store::Store;
use strongroom_store::redb::RedbStore;
use strongroom_store::sealed::sealed_header;

use crate::common::*;

const OPERATOR_PASS: &str = "operator passphrase 1";
const BACKUP_USER_PASS: &str = "backup user passphrase";
const BACKUP_PASS: &str = "backup passphrase 1";

async fn data_key(s: &Server) -> Value {
    let r = s
        .own(Method::GET, "/system/data-key")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn rotate(s: &Server, user: &str, pass: &str, unlock: &str) -> reqwest::Response {
    s.own(Method::POST, "/system/rotate-data-key")
        .basic_auth(user, Some(pass))
        .json(&json!({ "unlockPassphrase": unlock }))
        .send()
        .await
        .unwrap()
}

/// `strongroom system ARGS` against `s`, with a clean environment, the admin password and, if
/// given, the unlock passphrase in the environment.
async fn cli(s: &Server, unlock: Option<&str>, args: &[&str]) -> Output {
    cli_as(s, "admin", ADMIN, unlock, args).await
}

/// `strongroom system ARGS` as `user`.
async fn cli_as(
    s: &Server,
    user: &str,
    password: &str,
    unlock: Option<&str>,
    args: &[&str],
) -> Output {
    system_cmd(&s.base, &s.fingerprint, user, password, unlock, args).await
}

/// `strongroom system ARGS` against `server`, trusting `fingerprint`.
async fn system_cmd(
    server: &str,
    fingerprint: &str,
    user: &str,
    password: &str,
    unlock: Option<&str>,
    args: &[&str],
) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_strongroom"));
    cmd.arg("system")
        .args(args)
        .args([
            "--server",
            server,
            "--fingerprint",
            fingerprint,
            "--user",
            user,
        ])
        .env_remove("STRONGROOM_SERVER")
        .env_remove("STRONGROOM_FINGERPRINT")
        .env_remove("STRONGROOM_USER")
        .env_remove("STRONGROOM_UNLOCK_PASSPHRASE")
        .env("STRONGROOM_PASSWORD", password);
    if let Some(unlock) = unlock {
        cmd.env("STRONGROOM_UNLOCK_PASSPHRASE", unlock);
    }
    cmd.output().await.expect("run strongroom system")
}

/// Asserts exit code `code` and nothing on stdout; returns stderr.
#[track_caller]
fn cli_fails(out: Output, code: i32) -> String {
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    stderr
}

/// What the node holds, read through every face that matters: users (and their passphrases),
/// backup clients, the audit trail.
async fn everything_readable(s: &Server) {
    let r = s
        .get("/users/op1")
        .basic_auth("op1", Some(OPERATOR_PASS))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the operator logs in and reads itself");
    let r = s
        .get("/users")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let users: Value = r.json().await.unwrap();
    assert_eq!(users.as_array().unwrap().len(), 3, "{users}");
    let r = s
        .own(Method::GET, "/clients")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let clients: Value = r.json().await.unwrap();
    assert_eq!(clients["clients"][0]["name"], "db1");
    let r = s
        .own(Method::GET, "/audit/verify")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    let verify: Value = r.json().await.unwrap();
    assert_eq!(verify["verified"], true, "{verify}");
}

/// Every value of the stopped server's store outside `meta/`: (format, key version).
fn headers(s: &Server) -> Vec<(String, Option<(u8, u8)>)> {
    let store = RedbStore::open(&s.data_dir.join("strongroom.redb")).unwrap();
    store
        .scan_prefix("")
        .unwrap()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("meta/"))
        .map(|(k, e)| (k, sealed_header(&e.value)))
        .collect()
}

#[tokio::test]
async fn rotate_by_api_and_cli_then_restart_unlock_and_restore_an_older_backup() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some("op1"), "Operator", OPERATOR_PASS).await;
    s.create_user(Some("backup1"), "Backup", BACKUP_USER_PASS)
        .await;
    s.set_backup_passphrase(BACKUP_PASS, "").await;
    let r = s
        .own(Method::POST, "/clients")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"name": "db1", "hostName": "db1.example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    everything_readable(&s).await;
    let before = s.backup("backup1", BACKUP_USER_PASS).await;
    assert_eq!(
        data_key(&s).await,
        json!({"keyVersion": 1, "rotationInProgress": false})
    );

    // Refused: another role, a namespaced administrator's role is checked the same way; a
    // wrong unlock passphrase; a malformed body. Nothing changes.
    let r = rotate(&s, "op1", OPERATOR_PASS, UNLOCK).await;
    own_error(r, 403, "Access denied.").await;
    let r = rotate(&s, "admin", ADMIN, "not the unlock passphrase").await;
    own_error(r, 403, "unlock passphrase is incorrect.").await;
    let r = rotate(&s, "admin", ADMIN, "short").await;
    let length = "unlockPassphrase must be between 10 and 200 bytes long";
    own_error(r, 400, length).await;
    let r = s
        .own_as_admin(Method::POST, "/system/rotate-data-key")
        .json(&json!({"unlockPassphrase": UNLOCK, "extra": 1}))
        .answer()
        .await;
    own_error(r, 400, starting("Malformed request body: ")).await;
    assert_eq!(data_key(&s).await["keyVersion"], 1);

    // By the API.
    let r = rotate(&s, "admin", ADMIN, UNLOCK).await;
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["keyVersion"], 2, "{report}");
    assert_eq!(report["resumed"], false);
    assert_eq!(report["unreadable"], 0);
    assert!(report["resealed"].as_u64().unwrap() >= 8, "{report}");
    everything_readable(&s).await;
    let r = s
        .own(Method::GET, "/audit?limit=1000")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    let rotations: Vec<&Value> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "POST /api/strongroom/v1/system/rotate-data-key")
        .collect();
    assert!(
        rotations
            .iter()
            .any(|e| e["outcome"] == "success" && e["actor"] == "admin"),
        "the rotation is audited: {rotations:?}"
    );

    // By the CLI: refused, each with its exit code (docs/cli.md, "Exit codes"), then done.
    // No unlock passphrase (2), before anything is sent.
    let stderr = cli_fails(cli(&s, None, &["rotate-data-key"]).await, 2);
    assert!(
        stderr.contains(
            "no unlock passphrase: set STRONGROOM_UNLOCK_PASSPHRASE or pass --unlock-passphrase-file PATH"
        ),
        "{stderr}"
    );
    // A wrong unlock passphrase (4): a failed authentication, with what to check.
    let stderr = cli_fails(
        cli(&s, Some("not the unlock passphrase"), &["rotate-data-key"]).await,
        4,
    );
    assert_eq!(
        stderr,
        "strongroom: rotating the data key failed: unlock passphrase is incorrect. (HTTP 403 Forbidden)\n\
         hint: check the unlock passphrase (--unlock-passphrase-file or STRONGROOM_UNLOCK_PASSPHRASE)\n"
    );
    // Another role (5), for both subcommands.
    for args in [&["data-key"][..], &["rotate-data-key"]] {
        let out = cli_as(&s, "op1", OPERATOR_PASS, Some(UNLOCK), args).await;
        let stderr = cli_fails(out, 5);
        assert!(stderr.contains("(HTTP 403 Forbidden)"), "{stderr}");
        assert!(
            stderr.contains("hint: the user op1 may not do this"),
            "{stderr}"
        );
    }
    // An unknown user (4); not admin, whom a failed login would hold back for a moment.
    let out = cli_as(&s, "nobody", "not a password", None, &["data-key"]).await;
    let stderr = cli_fails(out, 4);
    assert!(
        stderr.starts_with("strongroom: reading the data key's version failed: "),
        "{stderr}"
    );
    assert!(stderr.contains("(HTTP 401 Unauthorized)"), "{stderr}");
    // Another certificate's fingerprint (3), and nothing listening (3).
    let mut wrong = s.fingerprint.clone();
    let flipped = if wrong.starts_with('0') { "1" } else { "0" };
    wrong.replace_range(0..1, flipped);
    let out = system_cmd(&s.base, &wrong, "admin", ADMIN, None, &["data-key"]).await;
    let stderr = cli_fails(out, 3);
    assert!(stderr.contains("is not the pinned one"), "{stderr}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("https://127.0.0.1:{port}");
    let out = system_cmd(
        &nowhere,
        &s.fingerprint,
        "admin",
        ADMIN,
        None,
        &["data-key"],
    )
    .await;
    let stderr = cli_fails(out, 3);
    assert!(
        stderr.starts_with(&format!("strongroom: cannot reach {nowhere}")),
        "{stderr}"
    );
    // Usage errors (2): an unknown subcommand, an unknown option.
    let stderr = cli_fails(cli(&s, None, &["rotate-everything"]).await, 2);
    assert!(stderr.starts_with("error: "), "{stderr}");
    let stderr = cli_fails(cli(&s, None, &["data-key", "--verbose"]).await, 2);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(data_key(&s).await["keyVersion"], 2);
    let out = cli(&s, Some(UNLOCK), &["rotate-data-key"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("rotated the domain key: now version 3, "),
        "{stdout}"
    );
    let out = cli(&s, None, &["data-key", "--json"]).await;
    assert!(out.status.success());
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status,
        json!({"keyVersion": 3, "rotationInProgress": false})
    );
    everything_readable(&s).await;

    // On disk every value is format 2 under version 3.
    s.terminate();
    for (k, h) in headers(&s) {
        assert_eq!(h, Some((2, 3)), "{k}");
    }
    s.start_again();
    assert_eq!(s.state().await, "Locked");
    let r = rotate(&s, "admin", ADMIN, UNLOCK).await;
    own_error(r, 412, "Service not available").await;
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    everything_readable(&s).await;
    assert_eq!(data_key(&s).await["keyVersion"], 3);

    // A backup taken before the rotations restores onto this node (its user data), and onto
    // a new one (everything, with its own key).
    let r = s
        .delete("/users/op1")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s
        .restore(before.clone(), BACKUP_PASS, Some(("admin", ADMIN)))
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    everything_readable(&s).await;
    let fresh = Server::start();
    let r = fresh.restore(before, BACKUP_PASS, None).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert_eq!(fresh.unlock(UNLOCK).await.status(), 204);
    everything_readable(&fresh).await;
    assert_eq!(data_key(&fresh).await["keyVersion"], 1);
}

#[tokio::test]
async fn unattended_boot_after_a_rotation() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some("op1"), "Operator", OPERATOR_PASS).await;
    let r = s
        .put("/config/unattended-boot")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"status": "on"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = rotate(&s, "admin", ADMIN, UNLOCK).await;
    assert_eq!(r.status(), 200);
    s.restart();
    assert_eq!(s.state().await, "Operational");
    assert_eq!(data_key(&s).await["keyVersion"], 2);
    let r = s
        .get("/users/op1")
        .basic_auth("op1", Some(OPERATOR_PASS))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
