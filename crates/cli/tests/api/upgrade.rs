//! Upgrades keep the data, downgrades are refused: the real binary on a store whose schema
//! version is newer than it reads refuses to start, says why, and leaves the store as it was.
//! (The forward migration steps are tested in crates/core/src/schema.rs: no release has needed
//! one yet.)

use strongroom_store::Store;
use strongroom_store::redb::RedbStore;

use crate::common::*;
use crate::data_dir::refused_start;

/// Every key and value of the store file, opened on its own (the server is stopped).
fn store_contents(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let store = RedbStore::open(path).unwrap();
    store
        .scan_prefix("")
        .unwrap()
        .into_iter()
        .map(|(k, e)| (k, e.value.clone()))
        .collect()
}

fn set_schema(path: &std::path::Path, version: &[u8]) {
    RedbStore::open(path)
        .unwrap()
        .put("meta/schema", version)
        .unwrap();
}

#[tokio::test]
async fn a_store_from_a_newer_release_is_refused_untouched_and_the_same_store_starts_again() {
    let mut s = Server::start();
    s.provision().await;
    assert!(s.terminate().success());
    let store = s.data_dir.join("strongroom.redb");

    set_schema(&store, b"2");
    let before = store_contents(&store);
    let stderr = refused_start(&s.data_dir, &[]);
    assert!(
        stderr.contains("store schema version 2 is not supported by this build (which reads 1)"),
        "{stderr}"
    );
    assert!(stderr.contains("written by a newer release"), "{stderr}");
    assert_eq!(store_contents(&store), before);

    // Back at the version it reads, the same store starts with its data: provisioned, Locked.
    set_schema(&store, b"1");
    s.start_again();
    assert_eq!(s.state().await, "Locked");
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    assert_eq!(s.state().await, "Operational");
}
