//! The restore past etcd's transaction limits (see `generation`), against a real etcd: a
//! restore of thousands of records lands whole; readers see the old state or the new one,
//! never a mix; writes racing it fail cleanly or land in the new generation; a restorer that
//! dies mid-way leaves the old state, and the next restore cleans up after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::test_member::Etcd;
use super::{DEFAULT_MAX_TXN_OPS, EtcdStore};
use crate::{Check, Commit, Op, Store, StoreError, Txn, WatchError};

/// Records a restore writes: at 1 KiB each, about 3 MiB, twice etcd's request limit and 23
/// times its operation limit.
const RECORDS: usize = 3000;

/// A store told etcd's default operation limit (the test etcd allows more), so that a
/// restore of thousands of records cannot be one transaction; its restore lease short.
fn open(etcd: &Etcd, prefix: &str) -> Arc<EtcdStore> {
    let mut settings = etcd.settings(prefix);
    settings.max_txn_ops = DEFAULT_MAX_TXN_OPS;
    settings.restore_lease_ttl = Duration::from_secs(2);
    Arc::new(EtcdStore::open(&settings).unwrap())
}

/// Every raw etcd key under `prefix`, store keys and generations alike.
fn raw_keys(etcd: &Etcd, prefix: &str) -> Vec<String> {
    let raw = EtcdStore::open(&etcd.settings("")).unwrap();
    raw.scan_prefix(prefix)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

fn value(tag: &str, i: usize) -> Vec<u8> {
    let mut v = format!("{tag}:{i}:").into_bytes();
    v.resize(1024, b'.');
    v
}

/// The tag every value under `r/` carries, and how many there are; panics on a mix.
fn one_state(page: &[(String, crate::Entry)]) -> (String, usize) {
    let tags: std::collections::BTreeSet<String> = page
        .iter()
        .map(|(_, e)| {
            String::from_utf8_lossy(&e.value)
                .split(':')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(tags.len() <= 1, "a read saw a mix of states: {tags:?}");
    (tags.into_iter().next().unwrap_or_default(), page.len())
}

/// `count` records under `r/` tagged `tag`, written in transactions within the limits.
fn write_old(store: &EtcdStore, tag: &str, count: usize) {
    for chunk in (0..count).collect::<Vec<_>>().chunks(100) {
        let txn = chunk.iter().fold(Txn::new(), |t, &i| {
            t.put(format!("r/{i:05}"), value(tag, i))
        });
        assert!(matches!(store.commit(txn).unwrap(), Commit::Committed(_)));
    }
}

/// A restore's writes as the core sends them: a delete of every key under `r/` the store
/// holds, then the new records.
fn replacing(
    store: &EtcdStore,
    tag: &'static str,
) -> impl Iterator<Item = crate::Result<Op>> + use<> {
    let old: Vec<String> = store
        .scan_prefix("r/")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    old.into_iter()
        .map(|key| Ok(Op::Delete { key }))
        .chain((0..RECORDS).map(move |i| {
            Ok(Op::Put {
                key: format!("r/{i:05}"),
                value: value(tag, i),
            })
        }))
}

fn committed(c: Commit) -> u64 {
    match c {
        Commit::Committed(rev) => rev,
        Commit::Conflict => panic!("unexpected conflict"),
    }
}

/// Retries `call` for up to 30 s (a restore's lease running out, on a loaded machine).
fn eventually<T>(mut call: impl FnMut() -> crate::Result<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match call() {
            Ok(v) => return v,
            Err(e) => {
                assert!(Instant::now() < deadline, "still failing after 30 s: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

#[test]
fn a_restore_past_etcds_limits_lands_whole_on_every_node() {
    let etcd = Etcd::start();
    let node1 = open(&etcd, "big/");
    let node2 = open(&etcd, "big/");
    write_old(&node1, "old", 200);
    node1.put("r/gone", b"old:gone").unwrap();
    let kept = node1.put("keep/x", b"kept").unwrap();
    let watcher = node2.watch("").unwrap();

    let mut ops = replacing(&node1, "new");
    let checks = vec![Check::Revision("keep/x".into(), kept)];
    let revision = committed(node1.commit_iter(checks, &mut ops).unwrap());

    // The other node reads the whole new state; what the restore did not write stays.
    let page = node2.scan("r/", None, 10_000).unwrap();
    assert_eq!(one_state(&page), ("new".into(), RECORDS));
    assert!(node2.get("r/gone").unwrap().is_none());
    assert_eq!(node2.get("keep/x").unwrap().unwrap().value, b"kept");
    let snapshot = node2.snapshot().unwrap();
    assert_eq!(snapshot.scan("r/", None, 10_000).unwrap().len(), RECORDS);
    // Below: the new generation and its pointer only; the old one and the staging are gone.
    let raw = raw_keys(&etcd, "big/");
    assert_eq!(raw.len(), RECORDS + 2, "{:?}", &raw[..raw.len().min(5)]);
    assert!(
        raw.iter().all(|k| k.starts_with("big/\0")),
        "{:?}",
        &raw[..3]
    );
    // The other node's watcher was cut off at the switch, so its caches reload.
    let lagged = loop {
        match watcher.recv_timeout(Duration::from_secs(10)) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no word of the switch"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(lagged, WatchError::Lagged { missed_from } if missed_from == revision),
        "{lagged:?}"
    );
    // A new watcher sees the new generation's changes under their paths.
    let watcher = node2.watch("r/").unwrap();
    node1.put("r/00001", b"new:after").unwrap();
    let change = watcher
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(change.key, "r/00001");
    // A second restore, from the new generation, lands as well.
    let mut ops = replacing(&node2, "third");
    committed(node2.commit_iter(vec![], &mut ops).unwrap());
    assert_eq!(
        one_state(&node1.scan("r/", None, 10_000).unwrap()),
        ("third".into(), RECORDS)
    );
    assert_eq!(raw_keys(&etcd, "big/").len(), RECORDS + 2);
}

#[test]
fn a_restore_whose_check_fails_or_whose_stream_fails_changes_nothing() {
    let etcd = Etcd::start();
    let s = open(&etcd, "refused/");
    write_old(&s, "old", 150);
    let mut ops = replacing(&s, "new");
    let checks = vec![Check::Absent("r/00001".into())];
    assert_eq!(s.commit_iter(checks, &mut ops).unwrap(), Commit::Conflict);
    assert_eq!(
        one_state(&s.scan("r/", None, 10_000).unwrap()),
        ("old".into(), 150)
    );
    // A stream that fails part way, after batches were staged.
    let mut failing =
        replacing(&s, "new")
            .take(2000)
            .chain(std::iter::once(Err(StoreError::Corrupt(
                "bad record".into(),
            ))));
    assert!(s.commit_iter(vec![], &mut failing).is_err());
    assert_eq!(
        one_state(&s.scan("r/", None, 10_000).unwrap()),
        ("old".into(), 150)
    );
    // Nothing staged is left, and the hold is released: a write lands at once.
    assert_eq!(raw_keys(&etcd, "refused/").len(), 150);
    s.put("w", b"x").unwrap();
}

#[test]
fn readers_during_a_restore_see_the_old_state_or_the_new_never_a_mix() {
    let etcd = Etcd::start();
    let writer = open(&etcd, "mix/");
    let reader = open(&etcd, "mix/");
    write_old(&writer, "old", 300);
    let done = Arc::new(AtomicBool::new(false));
    let reading = {
        let (done, reader) = (done.clone(), reader.clone());
        std::thread::spawn(move || {
            let mut seen_new = false;
            let mut reads = 0;
            while !done.load(Ordering::SeqCst) {
                // A get, then one page (batches at one revision) and a snapshot's pages:
                // once the get saw a record only the new state has, they see the new one.
                if reader
                    .get(&format!("r/{:05}", RECORDS - 1))
                    .unwrap()
                    .is_some()
                {
                    seen_new = true;
                }
                let page = reader.scan("r/", None, 10_000).unwrap();
                let snapshot = reader.snapshot().unwrap();
                let mut snap = Vec::new();
                while let Some(p) = Some(
                    snapshot
                        .scan(
                            "r/",
                            snap.last().map(|(k, _): &(String, _)| k.as_str()),
                            500,
                        )
                        .unwrap(),
                )
                .filter(|p| !p.is_empty())
                {
                    snap.extend(p);
                }
                for state in [one_state(&page), one_state(&snap)] {
                    match state.0.as_str() {
                        "old" => {
                            assert!(!seen_new, "the old state after the new");
                            assert_eq!(state.1, 300);
                        }
                        "new" => {
                            seen_new = true;
                            assert_eq!(state.1, RECORDS);
                        }
                        other => panic!("unexpected state {other}"),
                    }
                }
                reads += 1;
            }
            reads
        })
    };
    let mut ops = replacing(&writer, "new");
    committed(writer.commit_iter(vec![], &mut ops).unwrap());
    // A read or two after the switch.
    std::thread::sleep(Duration::from_millis(300));
    done.store(true, Ordering::SeqCst);
    let reads = reading.join().expect("the reader saw no mix");
    assert!(reads > 0);
    assert_eq!(
        one_state(&reader.scan("r/", None, 10_000).unwrap()),
        ("new".into(), RECORDS)
    );
}

#[test]
fn writes_racing_a_restore_fail_cleanly_or_land_in_the_new_generation() {
    let etcd = Etcd::start();
    let restorer = open(&etcd, "race/");
    let other = open(&etcd, "race/");
    write_old(&restorer, "old", 100);
    let before = other.put("keep/x", b"first").unwrap();

    // Writes from another node while the restore stages: each either fails, saying a
    // restore holds the store, or is acknowledged and then found in the new generation.
    let done = Arc::new(AtomicBool::new(false));
    let writing = {
        let (done, other) = (done.clone(), other.clone());
        std::thread::spawn(move || {
            let (mut acknowledged, mut refused) = (Vec::new(), 0);
            let mut i = 0;
            while !done.load(Ordering::SeqCst) {
                let key = format!("w/{i}");
                match other.put(&key, b"w") {
                    Ok(_) => acknowledged.push(key),
                    Err(StoreError::Unavailable(m)) => {
                        assert!(m.contains("restore"), "{m}");
                        assert!(m.contains("nothing was written"), "{m}");
                        refused += 1;
                    }
                    Err(e) => panic!("a racing write failed otherwise: {e}"),
                }
                i += 1;
            }
            (acknowledged, refused)
        })
    };
    // One write from inside the restore, while it certainly holds the store.
    let mut during = None;
    let mut ops = replacing(&restorer, "new").enumerate().map(|(i, op)| {
        if i == 1000 {
            during = Some(other.put("w/during", b"w"));
        }
        op
    });
    let revision = committed(restorer.commit_iter(vec![], &mut ops).unwrap());
    drop(ops);
    done.store(true, Ordering::SeqCst);
    let (acknowledged, _refused) = writing.join().unwrap();
    match during {
        Some(Err(StoreError::Unavailable(m))) => assert!(m.contains("restore"), "{m}"),
        other => panic!("a write while the restore held the store: {other:?}"),
    }
    assert!(other.get("w/during").unwrap().is_none());
    for key in &acknowledged {
        assert!(
            restorer.get(key).unwrap().is_some(),
            "acknowledged write {key} was lost"
        );
    }
    // A compare-and-swap against a revision read before the switch conflicts (the
    // record's revision is the new generation's); an unconditional write lands there.
    let stale = Txn::new()
        .require_revision("keep/x", before)
        .put("keep/x", b"stale".to_vec());
    assert_eq!(other.commit(stale).unwrap(), Commit::Conflict);
    let current = other.get("keep/x").unwrap().unwrap();
    assert_eq!(current.value, b"first");
    assert!(current.revision < revision);
    let after = other.put("w/after", b"w").unwrap();
    assert!(after > revision);
    assert_eq!(restorer.get("w/after").unwrap().unwrap().revision, after);
    assert!(
        raw_keys(&etcd, "race/")
            .iter()
            .any(|k| k.starts_with("race/\0g/") && k.ends_with("/w/after")),
        "the write landed in the new generation"
    );
}

#[test]
fn a_restorer_killed_before_the_switch_leaves_the_old_state_and_the_next_restore_cleans_up() {
    let etcd = Etcd::start();
    let dying = open(&etcd, "killed/");
    let other = open(&etcd, "killed/");
    write_old(&dying, "old", 100);
    dying.inner.die_after_batches.store(10, Ordering::SeqCst);
    let mut ops = replacing(&dying, "new");
    assert!(dying.commit_iter(vec![], &mut ops).is_err());
    drop(dying);
    // Its staging and its hold are still there, and readers never see them.
    let raw = raw_keys(&etcd, "killed/");
    assert!(raw.iter().any(|k| k.starts_with("killed/\0g/")));
    assert!(raw.iter().any(|k| k == "killed/\0restoring"));
    assert_eq!(
        one_state(&other.scan("r/", None, 10_000).unwrap()),
        ("old".into(), 100)
    );
    // Writes resume once its lease runs out.
    eventually(|| other.put("w", b"x"));
    assert!(
        !raw_keys(&etcd, "killed/")
            .iter()
            .any(|k| k == "killed/\0restoring")
    );
    // The next restore succeeds and deletes what the dead one staged.
    let mut ops = replacing(&other, "new");
    committed(other.commit_iter(vec![], &mut ops).unwrap());
    assert_eq!(
        one_state(&other.scan("r/", None, 10_000).unwrap()),
        ("new".into(), RECORDS)
    );
    assert_eq!(other.get("w").unwrap().unwrap().value, b"x");
    // One generation (the records and `w`) and the pointer.
    assert_eq!(raw_keys(&etcd, "killed/").len(), RECORDS + 2);
}
