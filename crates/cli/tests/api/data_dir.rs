//! The data directory against another local user: the device key file is opened without
//! following links and checked (owner, mode) on the open file, the directory and the store file
//! are checked at every start, and a key that was replaced is never silently swapped for a new
//! one. Each refusal is a failed start that says why on standard error.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// `nobody` on Debian.
const NOBODY: u32 = 65534;

/// Runs `strongroom serve` on `data_dir` expecting it to refuse to start; returns its stderr.
pub(crate) fn refused_start(data_dir: &Path, extra: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started on {}", data_dir.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    stderr
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), None).unwrap();
}

/// A server that made its data directory, then stopped.
async fn stopped_server() -> Server {
    let mut s = Server::start();
    s.state().await; // serving (and handling SIGTERM) by now
    assert!(s.terminate().success());
    s
}

#[tokio::test]
async fn a_new_data_directory_is_private() {
    let s = stopped_server().await;
    assert_eq!(mode(&s.data_dir), 0o700);
    assert_eq!(mode(&s.data_dir.join("device.key")), 0o600);
    assert_eq!(mode(&s.data_dir.join("strongroom.redb")), 0o600);
}

#[tokio::test]
async fn a_device_key_replaced_by_a_link_is_refused() {
    let s = stopped_server().await;
    let key = s.data_dir.join("device.key");
    let elsewhere = s.data_dir.parent().unwrap().join("their.key");
    std::fs::copy(&key, &elsewhere).unwrap();
    chmod(&elsewhere, 0o600);
    std::fs::remove_file(&key).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &key).unwrap();
    let stderr = refused_start(&s.data_dir, &[]);
    assert!(
        stderr.contains("is a symbolic link; it is never followed"),
        "{stderr}"
    );
    assert!(stderr.contains("--regenerate-device-key"), "{stderr}");
}

#[tokio::test]
async fn a_device_key_others_can_read_or_owned_by_another_user_is_refused() {
    let s = stopped_server().await;
    let key = s.data_dir.join("device.key");
    chmod(&key, 0o644);
    let stderr = refused_start(&s.data_dir, &[]);
    assert!(
        stderr.contains("has mode 644; group and others must have no access (chmod 600)"),
        "{stderr}"
    );
    chmod(&key, 0o600);
    chown(&key, NOBODY);
    let stderr = refused_start(&s.data_dir, &[]);
    assert!(
        stderr.contains(&format!(
            "device key {} is owned by uid {NOBODY}",
            key.display()
        )),
        "{stderr}"
    );
    chown(&key, 0);
}

#[tokio::test]
async fn a_data_directory_others_can_write_or_a_store_others_can_read_is_refused() {
    let mut s = stopped_server().await;
    // Others could have swapped the files in it: refused.
    chmod(&s.data_dir, 0o757);
    let stderr = refused_start(&s.data_dir, &[]);
    assert!(
        stderr.contains(&format!(
            "data directory {} has mode 757",
            s.data_dir.display()
        )),
        "{stderr}"
    );
    chmod(&s.data_dir, 0o770);
    let stderr = refused_start(&s.data_dir, &[]);
    assert!(stderr.contains("has mode 770"), "{stderr}");
    // Only readable by others: restricted to 0700 with a warning, and the server starts
    // (every file in it is checked on its own).
    chmod(&s.data_dir, 0o755);
    s.start_again();
    assert_eq!(s.state().await, "Unprovisioned");
    assert_eq!(mode(&s.data_dir), 0o700);
    assert!(
        s.log().contains("restricted it to its owner (700)"),
        "{}",
        s.log()
    );
    assert!(s.terminate().success());
    chmod(&s.data_dir, 0o700);
    chown(&s.data_dir, NOBODY);
    let stderr = refused_start(&s.data_dir, &[]);
    assert!(stderr.contains("is owned by uid 65534"), "{stderr}");
    chown(&s.data_dir, 0);
    let store = s.data_dir.join("strongroom.redb");
    chmod(&store, 0o644);
    let stderr = refused_start(&s.data_dir, &[]);
    assert!(
        stderr.contains("store file") && stderr.contains("has mode 644"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_replaced_device_key_never_silently_makes_a_new_identity() {
    let mut s = Server::start();
    s.provision().await;
    let first = s.fingerprint.clone();
    assert!(s.terminate().success());
    // Another valid-looking key, private and owned by us: only the stored identity tells.
    let key = s.data_dir.join("device.key");
    std::fs::write(&key, [0x5a; 32]).unwrap();
    chmod(&key, 0o600);
    let stderr = refused_start(&s.data_dir, &[]);
    assert!(
        stderr.contains("the stored TLS identity does not open with the device key"),
        "{stderr}"
    );
    // A lost one too.
    std::fs::remove_file(&key).unwrap();
    let stderr = refused_start(&s.data_dir, &[]);
    assert!(
        stderr.contains("is missing, but the data directory holds a store"),
        "{stderr}"
    );
    assert!(!key.exists());

    // Asked to, it makes a new key and certificate; the node unlocks with its passphrase.
    s.set_args(&["--regenerate-device-key"]);
    s.start_again();
    assert_ne!(s.fingerprint, first);
    assert_eq!(s.state().await, "Locked");
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let second = s.fingerprint.clone();
    assert_eq!(mode(&key), 0o600);
    // The next start, without the flag, keeps the new identity.
    s.set_args(&[]);
    s.restart();
    assert_eq!(s.fingerprint, second);
}
