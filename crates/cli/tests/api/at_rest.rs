//! Secrets never reach the disk or the log in clear.

use base64::Engine;

use crate::common::*;

/// A wrong unlock passphrase too short to be checked against the key.
const SHORT_WRONG: &str = "sh0rt~pw";

#[tokio::test]
async fn no_passphrase_in_data_dir_or_log() {
    let mut s = Server::start();
    s.provision().await;
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let r = s
        .get("/system/info")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // While Operational an unlock is refused for the state, before its passphrase is read.
    let r = s.unlock("a wrong unlock passphrase").await;
    nethsm_error(r, 412, "Service not available").await;
    // While Locked a wrong passphrase is read: one of the wrong length is refused by its
    // check (400), one of the right length reaches the key derivation and is refused there
    // (403): the paths where it could leak.
    s.lock().await;
    assert_eq!(s.state().await, "Locked");
    let r = s.unlock(SHORT_WRONG).await;
    nethsm_error(r, 400, "passphrase must be between 10 and 200 bytes long").await;
    let r = s.unlock("a wrong unlock passphrase").await;
    nethsm_error(r, 403, "Unlock failed: the passphrase is incorrect.").await;
    assert_eq!(s.state().await, "Locked");
    s.terminate();

    let b64 = base64::engine::general_purpose::STANDARD;
    let basic = b64.encode(format!("admin:{ADMIN}"));
    let needles = [
        UNLOCK.to_owned(),
        ADMIN.to_owned(),
        b64.encode(UNLOCK),
        b64.encode(ADMIN),
        basic,
    ];
    let files = files_under(&s.data_dir);
    assert!(files.len() >= 2, "store and device key are on disk");
    for (path, bytes) in files {
        for needle in &needles {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{} holds a secret in clear",
                path.display()
            );
        }
    }
    let log = s.log();
    for needle in &needles {
        assert!(!log.contains(needle.as_str()), "the log holds a secret");
    }
    assert!(!log.contains("a wrong unlock passphrase"));
    assert!(!log.contains(SHORT_WRONG));
}
