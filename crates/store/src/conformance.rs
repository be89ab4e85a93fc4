//! One conformance suite for every backend and for the sealing layer over them.

use std::sync::Arc;

use crate::redb::RedbStore;
use crate::sealed::{Sealed, Sealer};
use crate::{Commit, Store, Txn};

fn suite(store: &dyn Store) {
    // get / put / revision
    assert!(store.get("a/1").unwrap().is_none());
    let r1 = store.put("a/1", b"one").unwrap();
    let e = store.get("a/1").unwrap().unwrap();
    assert_eq!(e.value, b"one");
    assert_eq!(e.revision, r1);
    let r2 = store.put("a/1", b"uno").unwrap();
    assert!(r2 > r1);

    // checks: absent, revision, conflict writes nothing
    assert_eq!(
        store
            .commit(Txn::new().require_absent("a/1").put("a/2", b"x"))
            .unwrap(),
        Commit::Conflict
    );
    assert!(store.get("a/2").unwrap().is_none());
    assert_eq!(
        store
            .commit(Txn::new().require_revision("a/1", r1).put("a/1", b"stale"))
            .unwrap(),
        Commit::Conflict
    );
    assert_eq!(store.get("a/1").unwrap().unwrap().value, b"uno");
    assert!(matches!(
        store
            .commit(
                Txn::new()
                    .require_revision("a/1", r2)
                    .require_absent("a/2")
                    .put("a/1", b"eins")
                    .put("a/2", b"zwei")
            )
            .unwrap(),
        Commit::Committed(_)
    ));
    assert_eq!(store.get("a/2").unwrap().unwrap().value, b"zwei");
    assert_eq!(
        store
            .commit(Txn::new().require_revision("missing", 1))
            .unwrap(),
        Commit::Conflict
    );

    // scan: prefix, order, paging, neighbours excluded
    for i in 0..25 {
        store
            .put(&format!("b/{i:03}"), format!("{i}").as_bytes())
            .unwrap();
    }
    store.put("b", b"not under b/").unwrap();
    store.put("c/0", b"after").unwrap();
    let all = store.scan_prefix("b/").unwrap();
    assert_eq!(all.len(), 25);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    let page = store.scan("b/", Some("b/009"), 5).unwrap();
    let keys: Vec<_> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["b/010", "b/011", "b/012", "b/013", "b/014"]);
    assert!(store.scan("b/", Some("b/024"), 5).unwrap().is_empty());
    assert_eq!(store.scan("b/", Some("a"), 1).unwrap()[0].0, "b/000");

    // snapshot: a consistent view that later commits do not change
    let snap = store.snapshot().unwrap();
    store.put("b/000", b"changed").unwrap();
    store.put("b/999", b"new").unwrap();
    let seen = snap.scan("b/", None, 100).unwrap();
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0].1.value, b"0");
    drop(snap);
    store.delete("b/999").unwrap();

    // commit_iter: all or nothing, however the writes arrive
    let mut ops = (0..3).map(|i| {
        Ok(crate::Op::Put {
            key: format!("d/{i}"),
            value: vec![i],
        })
    });
    assert!(matches!(
        store.commit_iter(vec![], &mut ops).unwrap(),
        Commit::Committed(_)
    ));
    assert_eq!(store.scan_prefix("d/").unwrap().len(), 3);
    let mut failing = (3..6).map(|i| {
        if i == 5 {
            Err(crate::StoreError::Corrupt("stop".into()))
        } else {
            Ok(crate::Op::Put {
                key: format!("d/{i}"),
                value: vec![i],
            })
        }
    });
    assert!(store.commit_iter(vec![], &mut failing).is_err());
    assert_eq!(
        store.scan_prefix("d/").unwrap().len(),
        3,
        "an aborted commit_iter wrote nothing"
    );
    let mut blocked = std::iter::once(Ok(crate::Op::Delete { key: "d/0".into() }));
    assert_eq!(
        store
            .commit_iter(vec![crate::Check::Absent("d/0".into())], &mut blocked)
            .unwrap(),
        Commit::Conflict
    );

    // delete and delete_prefix
    store.delete("a/2").unwrap();
    store.delete("a/2").unwrap();
    assert!(store.get("a/2").unwrap().is_none());
    store.commit(Txn::new().delete_prefix("b/")).unwrap();
    assert!(store.scan_prefix("b/").unwrap().is_empty());
    assert_eq!(store.get("b").unwrap().unwrap().value, b"not under b/");
    assert_eq!(store.get("c/0").unwrap().unwrap().value, b"after");
}

#[test]
fn redb() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
    suite(&store);
}

#[test]
fn sealed_redb() {
    let dir = tempfile::tempdir().unwrap();
    let raw = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
    let sealed = Sealed::new(raw.clone(), Sealer::new(&[3; 32], "data"));
    suite(&sealed);
    // What reached the backend is sealed, and bound to its path.
    sealed.put("x/secret", b"plain text here").unwrap();
    let stored = raw.get("x/secret").unwrap().unwrap();
    assert!(!stored.value.windows(5).any(|w| w == b"plain"));
    raw.put("x/moved", &stored.value).unwrap();
    assert!(sealed.get("x/moved").is_err());
}

#[test]
fn redb_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let rev = {
        let store = RedbStore::open(&path).unwrap();
        store.put("k", b"v").unwrap()
    };
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.get("k").unwrap().unwrap().revision, rev);
    assert!(store.put("k2", b"v").unwrap() > rev);
}
