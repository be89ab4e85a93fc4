//! Tamper evidence that holds against someone who can write the data directory: a store file
//! put back as it was, an audit trail deleted, or an anchor removed is detected, refused, and
//! reported, with a deliberate, audited way out.

use std::process::Command;

use reqwest::Method;
use serde_json::Value;
use strongroom_store::Store;
use strongroom_store::redb::RedbStore;

use crate::common::*;

/// The documented refusal to unlock a store older than its anchor (docs/errors.md).
fn refusing_to_unlock() -> Says {
    Says::Pieces(vec![
        "Refusing to unlock: ".into(),
        ". To run with this store anyway, restart with --accept-store-rollback and accept it (docs/operations.md).".into(),
    ])
}

async fn accept(s: &Server) -> reqwest::Response {
    s.own(Method::POST, "/audit/accept-rollback")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_store_put_back_as_it_was_is_refused_then_accepted_on_purpose() {
    let mut s = Server::start();
    s.provision().await;
    s.terminate();
    let store = s.data_dir.join("strongroom.redb");
    let before = std::fs::read(&store).unwrap();
    s.start_again();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    s.create_user(Some("mallory"), "Administrator", "mallory's passphrase")
        .await;
    s.terminate();
    // Put the store file back as it was before those audited changes, keeping the device
    // key and the anchor.
    std::fs::write(&store, &before).unwrap();
    s.start_again();
    let r = s.unlock(UNLOCK).await;
    let message = nethsm_error(r, 412, refusing_to_unlock()).await;
    assert!(
        message.contains("older than this node's anchor"),
        "{message}"
    );
    assert!(message.contains("--accept-store-rollback"), "{message}");
    assert_eq!(s.state().await, "Locked");
    assert!(s.log().contains("refusing to become Operational"));

    // The deliberate way out: start accepting the store; it is reported until accepted.
    s.terminate();
    s.set_args(&["--accept-store-rollback"]);
    s.start_again();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let report = audit_verify(&s).await;
    assert_eq!(report["verified"], false);
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .contains("older than this node's anchor")
    );
    s.create_user(Some("op"), "Operator", "operator passphrase")
        .await;
    let r = s
        .own(Method::POST, "/audit/accept-rollback")
        .basic_auth("op", Some("operator passphrase"))
        .send()
        .await
        .unwrap();
    own_error(r, 403, "Access denied.").await;
    assert_eq!(accept(&s).await.status(), 204);
    own_error(
        accept(&s).await,
        409,
        "There is no store rollback to accept.",
    )
    .await;
    assert_eq!(audit_verify(&s).await["verified"], true);
    let accepted = audit_events(&s)
        .await
        .into_iter()
        .find(|e| e["action"] == "store rollback accepted")
        .expect("the acceptance is in the trail");
    assert_eq!(accepted["actor"], "admin");

    // Anchored again: a plain restart unlocks.
    s.terminate();
    s.set_args(&[]);
    s.start_again();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
}

#[tokio::test]
async fn a_deleted_audit_trail_is_refused_and_reported_broken() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some("frank"), "Operator", "frank's passphrase")
        .await;
    s.terminate();
    {
        let store = RedbStore::open(&s.data_dir.join("strongroom.redb")).unwrap();
        for (key, _) in store.scan_prefix("audit/").unwrap() {
            store.delete(&key).unwrap();
        }
    }
    s.start_again();
    let message = nethsm_error(s.unlock(UNLOCK).await, 412, refusing_to_unlock()).await;
    assert!(message.contains("no head"), "{message}");
    s.terminate();
    s.set_args(&["--accept-store-rollback"]);
    s.start_again();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let report = audit_verify(&s).await;
    assert_eq!(report["verified"], false, "{report}");
}

#[tokio::test]
async fn a_missing_anchor_or_unlock_record_stops_the_server_with_the_reason() {
    let mut s = Server::start();
    s.provision().await;
    s.terminate();
    let run = |dir: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_strongroom"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .output()
            .unwrap()
    };
    let anchor = s.data_dir.join("anchor");
    let saved = std::fs::read(&anchor).unwrap();
    std::fs::remove_file(&anchor).unwrap();
    let out = run(&s.data_dir);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("anchor file is missing"), "{stderr}");

    std::fs::write(&anchor, &saved).unwrap();
    {
        let store = RedbStore::open(&s.data_dir.join("strongroom.redb")).unwrap();
        store.delete("meta/unlock").unwrap();
    }
    let out = run(&s.data_dir);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no unlock record"), "{stderr}");
}

/// The review's example: deleting a client's and the company's passkey records from the store
/// turned the restore decision into "no passkey: allowed".
#[tokio::test]
async fn deleted_passkey_records_leave_restore_refused() {
    use base64::Engine;
    use serde_json::json;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut s = Server::start();
    s.provision().await;
    let r = s
        .own(Method::POST, "/clients")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"name": "db1", "hostName": "db1.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let login: Value = s
        .client
        .post(format!("{}/commandcenter/api/Login", s.base))
        .json(&json!({"username": "admin", "password": b64(ADMIN)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    for path in [
        format!("client/{id}/Passkey"),
        "Company/0/Passkey".to_owned(),
    ] {
        let body = json!({"App_SetPasskeyRequest": {"newPasskey": b64("the passkey"), "passkeyOpType": "CREATE"}});
        let r: Value = s
            .client
            .post(format!("{}/commandcenter/api/{path}", s.base))
            .header("Authtoken", &token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["error"]["errorCode"], 0, "{r}");
    }
    let decision = |s: &Server| {
        let req = s
            .own(
                Method::GET,
                &format!("/clients/{id}/restore-authorization?operation=restore"),
            )
            .basic_auth("admin", Some(ADMIN));
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(decision(&s).await["allowed"], false);
    s.terminate();
    {
        let store = RedbStore::open(&s.data_dir.join("strongroom.redb")).unwrap();
        for (key, _) in store.scan_prefix("passkeys/").unwrap() {
            store.delete(&key).unwrap();
        }
    }
    s.start_again();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let d = decision(&s).await;
    assert_eq!(d["allowed"], false, "{d}");
}
