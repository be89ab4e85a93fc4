//! Secrets never reach the disk or the log in clear.

use base64::Engine;

use crate::common::*;

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
    assert_eq!(s.unlock("a wrong unlock passphrase").await.status(), 412);
    // While Locked a wrong passphrase reaches the key derivation and is refused there: the
    // path where it could leak.
    let r = s
        .post("/lock")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.state().await, "Locked");
    let r = s.unlock("a wrong unlock passphrase").await;
    assert_eq!(
        assert_error(r, 403).await,
        "Unlock failed: the passphrase is incorrect."
    );
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
}
