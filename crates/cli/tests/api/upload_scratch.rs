//! Restore uploads wait in `DATA/scratch`, which every start empties: a server killed in the
//! middle of a restore leaves no copy of the backup behind (it would stay readable with that
//! backup's passphrase even after the passphrase changes).

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::common::*;

/// Only ends a wait that would otherwise never end.
const BOUND: Duration = Duration::from_secs(30);

fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn leftovers_in_the_scratch_directory_are_gone_after_a_restart() {
    let mut s = Server::start();
    s.provision().await;
    let scratch = s.data_dir.join("scratch");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&scratch).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "scratch directory mode {mode:o}");
    }
    assert!(s.terminate().success());

    // What a killed server would leave: an upload in the scratch directory (and in a
    // directory below it), and one directly in the data directory, where uploads used to go.
    std::fs::write(scratch.join(".tmpAbC123"), b"left-over upload").unwrap();
    std::fs::create_dir(scratch.join("nested")).unwrap();
    std::fs::write(scratch.join("nested").join("file"), b"left-over").unwrap();
    std::fs::write(
        s.data_dir.join(".tmpXyZ789"),
        b"left-over upload, old layout",
    )
    .unwrap();

    s.restart();
    assert!(names_in(&scratch).is_empty(), "{:?}", names_in(&scratch));
    let in_data_dir = names_in(&s.data_dir);
    assert!(
        !in_data_dir.iter().any(|n| n.starts_with(".tmp")),
        "{in_data_dir:?}"
    );
    // The store itself is untouched.
    assert_eq!(s.state().await, "Locked");
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
}

#[tokio::test]
async fn a_restore_killed_mid_upload_leaves_nothing_after_a_restart() {
    let mut s = Server::start();
    let scratch = s.data_dir.join("scratch");
    let marker = b"MID-UPLOAD-MARKER-7d1e0c";

    let (head, _, content_type) = crate::common::raw::restore_multipart("a backup passphrase");
    let request = format!(
        "POST /api/v1/system/restore HTTP/1.1\r\nhost: localhost\r\n\
         content-type: {content_type}\r\ncontent-length: 10000000\r\n\r\n"
    );
    let mut conn = crate::common::raw::tls(&s).await;
    conn.write_all(request.as_bytes()).await.unwrap();
    conn.write_all(&head).await.unwrap();
    // Part of the backup file, then keep the upload going until its bytes are on disk.
    let deadline = Instant::now() + BOUND;
    let spooled = loop {
        conn.write_all(marker).await.unwrap();
        conn.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let found = files_under(&scratch)
            .into_iter()
            .find(|(_, bytes)| contains(bytes, marker));
        if let Some((path, _)) = found {
            break path;
        }
        assert!(
            Instant::now() < deadline,
            "the upload never reached the scratch directory; data directory: {:?}",
            files_under(&s.data_dir)
                .iter()
                .map(|(p, _)| p)
                .collect::<Vec<_>>()
        );
    };

    s.kill();
    drop(conn);
    // SIGKILL gave the server no chance to clean up: the upload is still there.
    assert!(spooled.exists(), "{spooled:?} vanished before the restart");

    s.start_again();
    assert!(names_in(&scratch).is_empty(), "{:?}", names_in(&scratch));
    for (path, bytes) in files_under(&s.data_dir) {
        assert!(!contains(&bytes, marker), "{path:?} still holds the upload");
    }
    assert_eq!(s.state().await, "Unprovisioned");
}
