//! One conformance suite for every engine and for the sealing layer over them.
//!
//! [`run_all`] runs every check, each on a fresh, empty store from the caller's maker; the
//! checks are public too, to run one alone. A check panics (as a test does) on the first
//! thing the store does differently from what [`Store`] promises. See the crate
//! documentation for how an engine runs it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::watch::WATCH_CAPACITY;
use crate::{
    Change, ChangeKind, Check, Commit, DynStore, Entry, Op, Store, StoreError, Txn, WatchError,
};

/// One check: given a fresh, empty store, panics if it breaks the contract.
pub type Conformance = fn(DynStore);

/// Every check, by name.
pub const CHECKS: &[(&str, Conformance)] = &[
    ("reads_and_revisions", reads_and_revisions),
    ("compare_and_swap", compare_and_swap),
    (
        "compare_and_swap_under_contention",
        compare_and_swap_under_contention,
    ),
    ("scans_page_in_key_order", scans_page_in_key_order),
    (
        "snapshots_do_not_see_later_commits",
        snapshots_do_not_see_later_commits,
    ),
    (
        "commit_iter_is_all_or_nothing",
        commit_iter_is_all_or_nothing,
    ),
    ("deletes", deletes),
    (
        "watch_delivers_committed_changes_in_order",
        watch_delivers_committed_changes_in_order,
    ),
    (
        "watch_gives_nothing_for_what_did_not_commit",
        watch_gives_nothing_for_what_did_not_commit,
    ),
    (
        "watch_orders_concurrent_commits",
        watch_orders_concurrent_commits,
    ),
    ("a_lagging_watcher_is_told", a_lagging_watcher_is_told),
    (
        "a_watcher_learns_the_store_closed",
        a_watcher_learns_the_store_closed,
    ),
    (
        "a_watcher_reaches_every_sync_point",
        a_watcher_reaches_every_sync_point,
    ),
];

/// Runs every check, each on a new store from `make`, which must be empty.
pub fn run_all(make: &dyn Fn() -> DynStore) {
    for (name, check) in CHECKS {
        let store = make();
        assert!(
            store.scan_prefix("").unwrap().is_empty(),
            "{name}: the maker gave a store that is not empty"
        );
        eprintln!("store conformance: {name}");
        check(store);
    }
}

/// Long enough for a change that is coming; a change that is not coming costs this once.
const PATIENCE: Duration = Duration::from_secs(5);

fn next_change(w: &crate::Watcher) -> Change {
    w.recv_timeout(PATIENCE)
        .expect("the watcher still runs")
        .expect("a change within the timeout")
}

fn assert_no_change(w: &crate::Watcher) {
    assert_eq!(w.try_recv(), Ok(None), "no change is waiting");
}

fn change(revision: u64, key: &str, kind: ChangeKind) -> Change {
    Change {
        revision,
        key: key.into(),
        kind,
    }
}

fn committed(c: Commit) -> u64 {
    match c {
        Commit::Committed(rev) => rev,
        Commit::Conflict => panic!("the commit conflicted"),
    }
}

pub fn reads_and_revisions(store: DynStore) {
    assert!(store.get("a/1").unwrap().is_none());
    let r1 = store.put("a/1", b"one").unwrap();
    let e = store.get("a/1").unwrap().unwrap();
    assert_eq!(e.value, b"one");
    assert_eq!(e.revision, r1);
    let r2 = store.put("a/1", b"uno").unwrap();
    assert!(r2 > r1);
    // One commit, one revision, for every key it writes; other keys keep theirs.
    let r3 = committed(
        store
            .commit(Txn::new().put("a/2", b"x").put("a/3", b"y"))
            .unwrap(),
    );
    assert!(r3 > r2);
    assert_eq!(store.get("a/2").unwrap().unwrap().revision, r3);
    assert_eq!(store.get("a/3").unwrap().unwrap().revision, r3);
    assert_eq!(store.get("a/1").unwrap().unwrap().revision, r2);
}

pub fn compare_and_swap(store: DynStore) {
    let r1 = store.put("a/1", b"one").unwrap();
    let r2 = store.put("a/1", b"uno").unwrap();
    // A failed check writes nothing, not even the writes of the other keys.
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
    // All checks hold: every write lands.
    committed(
        store
            .commit(
                Txn::new()
                    .require_revision("a/1", r2)
                    .require_absent("a/2")
                    .put("a/1", b"eins")
                    .put("a/2", b"zwei"),
            )
            .unwrap(),
    );
    assert_eq!(store.get("a/1").unwrap().unwrap().value, b"eins");
    assert_eq!(store.get("a/2").unwrap().unwrap().value, b"zwei");
    // One failing check among holding ones fails the lot.
    let r_a2 = store.get("a/2").unwrap().unwrap().revision;
    assert_eq!(
        store
            .commit(
                Txn::new()
                    .require_revision("a/2", r_a2)
                    .require_absent("a/1")
                    .put("a/2", b"drei")
            )
            .unwrap(),
        Commit::Conflict
    );
    assert_eq!(store.get("a/2").unwrap().unwrap().value, b"zwei");
    // A revision check on a missing key fails; so does an absence check on a present one.
    assert_eq!(
        store
            .commit(Txn::new().require_revision("missing", 1))
            .unwrap(),
        Commit::Conflict
    );
    // require_unchanged: absent as read, then unchanged as read.
    let put_if_unchanged = |read: Option<&Entry>, value: &[u8]| {
        store
            .commit(Txn::new().require_unchanged("c/1", read).put("c/1", value))
            .unwrap()
    };
    let read = store.get("c/1").unwrap();
    committed(put_if_unchanged(read.as_ref(), b"1"));
    assert_eq!(put_if_unchanged(read.as_ref(), b"2"), Commit::Conflict);
    let read = store.get("c/1").unwrap();
    committed(put_if_unchanged(read.as_ref(), b"3"));
    assert_eq!(store.get("c/1").unwrap().unwrap().value, b"3");
}

/// Writers racing on one key with read-check-write loops: no increment is lost, and every
/// conflict is a real one.
pub fn compare_and_swap_under_contention(store: DynStore) {
    const WRITERS: u64 = 4;
    const EACH: u64 = 8;
    let read_counter = |store: &dyn Store| {
        let entry = store.get("counter").unwrap();
        let n = entry
            .as_ref()
            .map(|e| u64::from_be_bytes(e.value.as_slice().try_into().unwrap()))
            .unwrap_or(0);
        (n, entry)
    };
    std::thread::scope(|s| {
        for _ in 0..WRITERS {
            s.spawn(|| {
                for _ in 0..EACH {
                    loop {
                        let (n, entry) = read_counter(&*store);
                        let txn = Txn::new()
                            .require_unchanged("counter", entry.as_ref())
                            .put("counter", (n + 1).to_be_bytes());
                        if let Commit::Committed(_) = store.commit(txn).unwrap() {
                            break;
                        }
                        // Someone else wrote in between: the counter must have moved.
                        assert_ne!(read_counter(&*store).0, n, "a conflict with no change");
                    }
                }
            });
        }
    });
    assert_eq!(read_counter(&*store).0, WRITERS * EACH);
}

pub fn scans_page_in_key_order(store: DynStore) {
    for i in 0..25 {
        store
            .put(&format!("b/{i:03}"), format!("{i}").as_bytes())
            .unwrap();
    }
    store.put("b", b"not under b/").unwrap();
    store.put("a/0", b"before").unwrap();
    store.put("c/0", b"after").unwrap();
    let all = store.scan_prefix("b/").unwrap();
    assert_eq!(all.len(), 25);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(all[7].1.value, b"7");
    let page = store.scan("b/", Some("b/009"), 5).unwrap();
    let keys: Vec<_> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["b/010", "b/011", "b/012", "b/013", "b/014"]);
    assert!(store.scan("b/", Some("b/024"), 5).unwrap().is_empty());
    assert_eq!(store.scan("b/", Some("a"), 1).unwrap()[0].0, "b/000");
    // The empty prefix is the whole store, in key order.
    let keys: Vec<_> = store
        .scan_prefix("")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys.len(), 28);
    assert_eq!(keys[0], "a/0");
    assert_eq!(keys[1], "b");
    assert_eq!(keys[27], "c/0");
}

pub fn snapshots_do_not_see_later_commits(store: DynStore) {
    for i in 0..25 {
        store
            .put(&format!("b/{i:03}"), format!("{i}").as_bytes())
            .unwrap();
    }
    let snap = store.snapshot().unwrap();
    store.put("b/000", b"changed").unwrap();
    store.put("b/999", b"new").unwrap();
    store.delete("b/001").unwrap();
    let seen = snap.scan("b/", None, 100).unwrap();
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0].1.value, b"0");
    assert_eq!(seen[1].0, "b/001");
    // Paging works on a snapshot as on the store.
    let page = snap.scan("b/", Some("b/022"), 5).unwrap();
    let keys: Vec<_> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["b/023", "b/024"]);
    drop(snap);
    assert_eq!(store.get("b/000").unwrap().unwrap().value, b"changed");
}

pub fn commit_iter_is_all_or_nothing(store: DynStore) {
    let mut ops = (0..3).map(|i| {
        Ok(Op::Put {
            key: format!("d/{i}"),
            value: vec![i],
        })
    });
    committed(store.commit_iter(vec![], &mut ops).unwrap());
    assert_eq!(store.scan_prefix("d/").unwrap().len(), 3);
    let mut failing = (3..6).map(|i| {
        if i == 5 {
            Err(StoreError::Corrupt("stop".into()))
        } else {
            Ok(Op::Put {
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
    let mut blocked = std::iter::once(Ok(Op::Delete { key: "d/0".into() }));
    assert_eq!(
        store
            .commit_iter(vec![Check::Absent("d/0".into())], &mut blocked)
            .unwrap(),
        Commit::Conflict
    );
    assert!(store.get("d/0").unwrap().is_some());
}

pub fn deletes(store: DynStore) {
    for i in 0..5 {
        store.put(&format!("b/{i}"), b"x").unwrap();
    }
    store.put("b", b"not under b/").unwrap();
    store.put("c/0", b"after").unwrap();
    store.put("a/2", b"x").unwrap();
    store.delete("a/2").unwrap();
    // Deleting an absent key is not an error.
    store.delete("a/2").unwrap();
    assert!(store.get("a/2").unwrap().is_none());
    committed(store.commit(Txn::new().delete_prefix("b/")).unwrap());
    assert!(store.scan_prefix("b/").unwrap().is_empty());
    assert_eq!(store.get("b").unwrap().unwrap().value, b"not under b/");
    assert_eq!(store.get("c/0").unwrap().unwrap().value, b"after");
}

pub fn watch_delivers_committed_changes_in_order(store: DynStore) {
    store.put("w/before", b"x").unwrap();
    let w = store.watch("w/").unwrap();
    let all = store.watch("").unwrap();
    // A change made before the watch began is not delivered.
    assert_no_change(&w);

    let r1 = store.put("w/a", b"1").unwrap();
    let r2 = store
        .commit(Txn::new().put("w/b", b"2").put("other/x", b"3"))
        .map(committed)
        .unwrap();
    let r3 = store.put("w/a", b"4").unwrap();
    store.delete("w/b").unwrap();
    let r4 = store.get("w/a").unwrap().unwrap().revision;
    assert_eq!(r4, r3, "a delete leaves other keys' revisions alone");
    // Deleting an absent key changes nothing, so reports nothing.
    store.delete("w/never").unwrap();
    for k in ["w/p/1", "w/p/2", "w/pq"] {
        store.put(k, b"p").unwrap();
    }
    let r5 = committed(store.commit(Txn::new().delete_prefix("w/p/")).unwrap());

    let got: Vec<Change> = (0..9).map(|_| next_change(&w)).collect();
    let rev_of = |k: &str| {
        got.iter()
            .find(|c| c.key == k && c.kind == ChangeKind::Put)
            .unwrap()
            .revision
    };
    let (rp1, rp2, rpq) = (rev_of("w/p/1"), rev_of("w/p/2"), rev_of("w/pq"));
    let r_del_b = got[3].revision;
    assert_eq!(
        got,
        [
            change(r1, "w/a", ChangeKind::Put),
            change(r2, "w/b", ChangeKind::Put),
            change(r3, "w/a", ChangeKind::Put),
            change(r_del_b, "w/b", ChangeKind::Delete),
            change(rp1, "w/p/1", ChangeKind::Put),
            change(rp2, "w/p/2", ChangeKind::Put),
            change(rpq, "w/pq", ChangeKind::Put),
            change(r5, "w/p/1", ChangeKind::Delete),
            change(r5, "w/p/2", ChangeKind::Delete),
        ]
    );
    assert!(got.windows(2).all(|p| p[0].revision <= p[1].revision));
    assert_no_change(&w);

    // The watcher of everything saw the same, with the key outside w/ in its commit.
    let mut everything = Vec::new();
    while let Some(c) = all.try_recv().unwrap() {
        everything.push(c);
    }
    assert_eq!(everything.len(), 10);
    assert_eq!(everything[2], change(r2, "other/x", ChangeKind::Put));
    let under_w: Vec<_> = everything
        .into_iter()
        .filter(|c| c.key.starts_with("w/"))
        .collect();
    assert_eq!(under_w, got);

    // A put's change revision is the entry's revision: a cache can tell stale from fresh.
    let r6 = store.put("w/z", b"z").unwrap();
    let c = next_change(&w);
    assert_eq!(c, change(r6, "w/z", ChangeKind::Put));
    assert_eq!(store.get(&c.key).unwrap().unwrap().revision, c.revision);
}

pub fn watch_gives_nothing_for_what_did_not_commit(store: DynStore) {
    let w = store.watch("").unwrap();
    let r0 = store.put("k/held", b"x").unwrap();
    assert_eq!(next_change(&w).revision, r0);
    // A failed check.
    assert_eq!(
        store
            .commit(Txn::new().require_absent("k/held").put("k/a", b"x"))
            .unwrap(),
        Commit::Conflict
    );
    // A commit_iter whose writes fail part way, after some were applied in its transaction.
    let mut failing = [
        Ok(Op::Put {
            key: "k/b".into(),
            value: b"x".to_vec(),
        }),
        Ok(Op::Delete {
            key: "k/held".into(),
        }),
        Err(StoreError::Corrupt("stop".into())),
    ]
    .into_iter();
    assert!(store.commit_iter(vec![], &mut failing).is_err());
    // A commit_iter whose check fails.
    let mut blocked = std::iter::once(Ok(Op::Delete {
        key: "k/held".into(),
    }));
    assert_eq!(
        store
            .commit_iter(vec![Check::Absent("k/held".into())], &mut blocked)
            .unwrap(),
        Commit::Conflict
    );
    assert_no_change(&w);
    // The next change delivered is the next commit.
    let r1 = store.put("k/marker", b"m").unwrap();
    assert_eq!(next_change(&w), change(r1, "k/marker", ChangeKind::Put));
    assert_no_change(&w);
}

/// Writers committing at once: the watcher sees every change once, in revision order.
pub fn watch_orders_concurrent_commits(store: DynStore) {
    const WRITERS: usize = 3;
    const EACH: usize = 10;
    let w = store.watch("").unwrap();
    let written: Vec<Vec<(String, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|t| {
                let store = &store;
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let key = format!("t{t}/{i}");
                            let rev = store.put(&key, b"v").unwrap();
                            (key, rev)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let expected: BTreeMap<u64, String> = written
        .into_iter()
        .flatten()
        .map(|(k, rev)| (rev, k))
        .collect();
    assert_eq!(
        expected.len(),
        WRITERS * EACH,
        "each commit its own revision"
    );
    let got: Vec<(u64, String)> = (0..WRITERS * EACH)
        .map(|_| {
            let c = next_change(&w);
            assert_eq!(c.kind, ChangeKind::Put);
            (c.revision, c.key)
        })
        .collect();
    assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
    assert_no_change(&w);
}

/// A watcher that falls behind gets what it was given, then learns it missed changes, and a
/// new watch starts clean; watchers that keep up, or watch elsewhere, are not affected.
pub fn a_lagging_watcher_is_told(store: DynStore) {
    let slow = store.watch("lag/").unwrap();
    let elsewhere = store.watch("calm/").unwrap();
    let dropped = store.watch("lag/").unwrap();
    drop(dropped);
    let r0 = store.put("lag/first", b"x").unwrap();
    // One commit of more changes than a watcher holds.
    let mut big = Txn::new();
    for i in 0..=WATCH_CAPACITY {
        big = big.put(format!("lag/{i:05}"), b"x".to_vec());
    }
    let r1 = committed(store.commit(big).unwrap());
    // Commits go on whatever the watchers do.
    let r2 = store.put("lag/after", b"x").unwrap();
    let rc = store.put("calm/1", b"x").unwrap();

    let mut delivered = Vec::new();
    let missed_from = loop {
        match slow.recv_timeout(PATIENCE) {
            Ok(Some(c)) => delivered.push(c),
            Ok(None) => panic!("the lagging watcher was neither fed nor told"),
            Err(WatchError::Lagged { missed_from }) => break missed_from,
            Err(WatchError::Closed) => panic!("closed, not lagged"),
        }
    };
    assert_eq!(delivered.len(), WATCH_CAPACITY, "the buffer, then the news");
    assert_eq!(delivered[0], change(r0, "lag/first", ChangeKind::Put));
    assert!(delivered[1..].iter().all(|c| c.revision == r1));
    assert_eq!(missed_from, r1);
    assert!(r2 > r1);
    // It stays told.
    assert_eq!(slow.try_recv(), Err(WatchError::Lagged { missed_from }));

    assert_eq!(
        next_change(&elsewhere),
        change(rc, "calm/1", ChangeKind::Put)
    );
    assert_no_change(&elsewhere);

    let again = store.watch("lag/").unwrap();
    let r3 = store.put("lag/again", b"x").unwrap();
    assert_eq!(
        next_change(&again),
        change(r3, "lag/again", ChangeKind::Put)
    );
}

/// Dropping the store ends its watchers, after they received what was committed.
pub fn a_watcher_learns_the_store_closed(store: DynStore) {
    let w = store.watch("").unwrap();
    let r = store.put("k", b"v").unwrap();
    drop(store);
    assert_eq!(
        w.recv_timeout(PATIENCE),
        Ok(Some(change(r, "k", ChangeKind::Put)))
    );
    assert_eq!(w.recv(), Err(WatchError::Closed));
}

/// A sync point is at or past every acknowledged commit, and a watcher's `through` reaches it
/// with the commits' changes queued (read `through` first, then drain).
pub fn a_watcher_reaches_every_sync_point(store: DynStore) {
    let w = store.watch("").unwrap();
    for i in 0..3 {
        let rev = committed(
            store
                .commit(Txn::new().put(format!("s{i}"), b"v".to_vec()))
                .unwrap(),
        );
        let point = store.sync_point().unwrap();
        assert!(
            point >= rev,
            "sync point {point} before the commit at {rev}"
        );
        let deadline = std::time::Instant::now() + PATIENCE;
        while w.through() < point {
            assert!(
                std::time::Instant::now() < deadline,
                "the watcher never reached {point}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(
            w.try_recv(),
            Ok(Some(change(rev, &format!("s{i}"), ChangeKind::Put)))
        );
        assert_no_change(&w);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::run_all;
    use crate::redb::RedbStore;
    use crate::sealed::{Sealed, Sealer};
    use crate::{DynStore, Store};

    #[test]
    fn sealed_redb() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = crate::redb::fresh_stores(dir.path());
        run_all(&|| -> DynStore { Arc::new(Sealed::new(fresh(), Sealer::new(&[3; 32], "data"))) });
    }

    #[test]
    fn what_reaches_the_engine_under_a_sealed_store_is_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let raw = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
        let sealed = Sealed::new(raw.clone(), Sealer::new(&[3; 32], "data"));
        sealed.put("x/secret", b"plain text here").unwrap();
        let stored = raw.get("x/secret").unwrap().unwrap();
        assert!(!stored.value.windows(5).any(|w| w == b"plain"));
        // Bound to its path.
        raw.put("x/moved", &stored.value).unwrap();
        assert!(sealed.get("x/moved").is_err());
        // The feed of a sealed store gives the path, kind and revision, as the engine's does.
        let w = sealed.watch("x/").unwrap();
        let rev = sealed.put("x/secret", b"plain text here").unwrap();
        let c = w.try_recv().unwrap().unwrap();
        assert_eq!((c.key.as_str(), c.revision), ("x/secret", rev));
    }
}
